/**
 * Helpers for HTTP/WebDAV tests: an in-process server with the HTTP
 * front-end on 127.0.0.1, and checks for the real clients the tests drive.
 *
 * @module
 */

import type { ServerOptions } from "../../server/server.ts";
import { startServer, type TestServer } from "./server.ts";

/** A test server with its HTTP front-end. */
export interface HttpTestServer extends TestServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
}

/** Starts a server with `--http 127.0.0.1:0` on a new temporary folder. */
export async function startHttpServer(
  options: Partial<Omit<ServerOptions, "root" | "hostname" | "port">> = {},
): Promise<HttpTestServer> {
  const server = await startServer({
    http: { hostname: "127.0.0.1", port: 0 },
    ...options,
  });
  const addr = server.server.http!.addr;
  return {
    ...server,
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${addr.port}`,
  };
}

/** Whether `program` is on PATH. */
export async function installed(program: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${program}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Runs a program to its end, failing on a non-zero exit, with a time limit. */
export async function run(
  program: string,
  args: string[],
  options: {
    stdin?: Uint8Array;
    timeoutMs?: number;
    allowFail?: boolean;
    cwd?: string;
  } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(
    () => child.kill("SIGKILL"),
    options.timeoutMs ?? 60_000,
  );
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const out = await child.output();
  clearTimeout(timer);
  const result = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (!options.allowFail && out.code !== 0) {
    throw new Error(
      `${program} ${args.join(" ")} exited ${out.code}: ${result.stderr}`,
    );
  }
  return result;
}
