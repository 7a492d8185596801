/**
 * Helpers for HTTP/WebDAV tests: an in-process server with the HTTP
 * front-end on 127.0.0.1, and checks for the real clients the tests drive.
 *
 * @module
 */

import type { ServerOptions } from "../../server/server.ts";
import { startServer, type TestServer } from "./server.ts";
import { type RunOptions, runProgram, type RunResult } from "./cli.ts";
import { haveProgram } from "./prerequisite.ts";

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

/** Whether `program` is on PATH (see tests/helpers/prerequisite.ts). */
export function installed(program: string): Promise<boolean> {
  return Promise.resolve(haveProgram(program));
}

/** Runs a program to its end, failing on a non-zero exit unless `allowFail`. */
export async function run(
  program: string,
  args: string[],
  options: RunOptions & { allowFail?: boolean } = {},
): Promise<RunResult> {
  const result = await runProgram(program, args, options);
  if (!options.allowFail && result.code !== 0) {
    throw new Error(
      `${program} ${args.join(" ")} exited ${result.code}: ${result.stderr}`,
    );
  }
  return result;
}

/**
 * Sends raw request bytes (what fetch would normalise away) and returns
 * everything the server sent until it closed, or until `timeoutMs`.
 * With `closeAfterSend` the connection is dropped right after the bytes;
 * with `stallMs` nothing is read for that long first (a stalled reader).
 */
export async function rawExchange(
  port: number,
  bytes: string | Uint8Array,
  options: { closeAfterSend?: boolean; timeoutMs?: number; stallMs?: number } =
    {},
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const data = typeof bytes === "string"
    ? new TextEncoder().encode(bytes)
    : bytes;
  for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
  if (options.closeAfterSend) {
    conn.close();
    return "";
  }
  if (options.stallMs) {
    await new Promise((resolve) => setTimeout(resolve, options.stallMs));
  }
  const timer = setTimeout(() => conn.close(), options.timeoutMs ?? 5000);
  const decoder = new TextDecoder();
  let text = "";
  const buffer = new Uint8Array(65536);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch {
    // Closed by the timer.
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
  return text;
}
