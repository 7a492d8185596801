/**
 * Runs fts as a user does: `main.ts` in a subprocess.
 *
 * @module
 */

import { fromFileUrl } from "@std/path";

/** Absolute path of main.ts. */
export const MAIN: string = fromFileUrl(
  new URL("../../main.ts", import.meta.url),
);

/** What a finished fts process printed and returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runFts}. */
export interface RunOptions {
  stdin?: Uint8Array | string;
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the process after this long. Default 60 s. */
  timeoutMs?: number;
}

/** Runs `fts ARGS...` to completion. */
export async function runFts(
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return await runProgram(Deno.execPath(), ["run", "-A", MAIN, ...args], {
    ...options,
    env: { NO_COLOR: "1", ...options.env },
  });
}

/** Runs `fts connect ADDRESS ...` with the words of `line` (split at spaces). */
export function connectFts(
  address: string,
  line: string,
  options: RunOptions = {},
): Promise<RunResult> {
  return runFts(["connect", address, ...line.split(" ")], options);
}

/** Runs any program to completion (killed after `timeoutMs`). */
export async function runProgram(
  program: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(
    () => child.kill("SIGKILL"),
    options.timeoutMs ?? 60_000,
  );
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(
        typeof options.stdin === "string"
          ? new TextEncoder().encode(options.stdin)
          : options.stdin,
      );
      await writer.close();
    }
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A `fts serve` subprocess. */
export interface ServeProcess {
  child: Deno.ChildProcess;
  port: number;
  /** `127.0.0.1:PORT`. */
  address: string;
  /** The stdout lines read at start (see {@linkcode ServeOptions.lines}). */
  lines: string[];
  /** Sends `signal` and waits for the exit; returns status and log. */
  stop(signal?: Deno.Signal): Promise<{ code: number; log: string }>;
}

/** Options for {@linkcode startServe}. */
export interface ServeOptions {
  /** Extra environment variables (e.g. `FTS_CONFIG_DIR`). */
  env?: Record<string, string>;
  /** How many stdout lines to wait for before returning. Default 1. */
  lines?: number;
  /** The port to listen on. Default 0 (a free one). */
  port?: number;
  /** The main.ts to run (an older build, say). Default this build's. */
  main?: string;
  /**
   * A program and its arguments to run deno through (its last argument
   * must exec the deno binary with the arguments that follow).
   */
  wrap?: string[];
  /** Leave out `--host 127.0.0.1`: listen where fts does by default. */
  defaultHost?: boolean;
}

/**
 * Starts `fts serve ROOT --host 127.0.0.1 --port 0 ...extra`; `address` is
 * on 127.0.0.1 also with `defaultHost`.
 */
export async function startServe(
  root: string,
  extra: string[] = [],
  options: ServeOptions = {},
): Promise<ServeProcess> {
  const [program, ...prefix] = options.wrap ?? [Deno.execPath()];
  const child = new Deno.Command(program, {
    args: [
      ...prefix,
      "run",
      "-A",
      options.main ?? MAIN,
      "serve",
      root,
      ...(options.defaultHost ? [] : ["--host", "127.0.0.1"]),
      "--port",
      String(options.port ?? 0),
      ...extra,
    ],
    env: options.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logChunks: Uint8Array<ArrayBuffer>[] = [];
  const logDone = child.stderr.pipeTo(
    new WritableStream<Uint8Array<ArrayBuffer>>({
      write: (chunk) => void logChunks.push(chunk),
    }),
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const wanted = options.lines ?? 1;
  while (text.split("\n").length <= wanted) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  clearTimeout(deadline);
  reader.cancel().catch(() => {});
  const match =
    /^fts listening on (?:127\.0\.0\.1|\[::\]|0\.0\.0\.0):(\d+)(?:, serving .*)?\n/
      .exec(text);
  if (!match) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(
      `fts serve did not announce itself: ${JSON.stringify(text)}`,
    );
  }
  const port = Number(match[1]);
  let stopped: Promise<{ code: number; log: string }> | undefined;
  return {
    child,
    port,
    address: `127.0.0.1:${port}`,
    lines: text.split("\n").slice(0, wanted),
    stop(signal: Deno.Signal = "SIGTERM") {
      stopped ??= (async () => {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already gone.
          }
        }, 20_000);
        const status = await child.status;
        clearTimeout(timer);
        await logDone.catch(() => {});
        const log = await new Blob(logChunks).text();
        return { code: status.code, log };
      })();
      return stopped;
    },
  };
}

/** Returns `size` random bytes. */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(data.subarray(at, Math.min(at + 65536, size)));
  }
  return data;
}

/** Writes `size` random bytes to `path` and returns them. */
export async function randomFile(
  path: string,
  size: number,
): Promise<Uint8Array> {
  const data = randomBytes(size);
  await Deno.writeFile(path, data);
  return data;
}

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Starts `fts ARGS...` without waiting for it; output is discarded. */
export function spawnFts(args: string[], cwd?: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/**
 * Waits until the file in `dir` whose name passes `match` holds at least
 * `bytes` bytes; returns its path. Gives up after `timeoutMs`.
 */
export async function waitForPartial(
  dir: string,
  match: (name: string) => boolean,
  bytes: number,
  timeoutMs = 20_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      for (const entry of Deno.readDirSync(dir)) {
        if (!match(entry.name)) continue;
        const path = `${dir}/${entry.name}`;
        if (Deno.statSync(path).size >= bytes) return path;
      }
    } catch {
      // Not created yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no partial of ${bytes} bytes appeared in ${dir}`);
}

/**
 * Runs `fn` with a `fts serve` subprocess (given `extra` flags), its served
 * folder and a local working folder; stops the server and removes both
 * folders after. Returns the server's exit status and log.
 */
export async function withServe(
  fn: (address: string, root: string, work: string) => Promise<void>,
  extra: string[] = [],
): Promise<{ code: number; log: string }> {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const serve = await startServe(root, extra);
  try {
    await fn(serve.address, root, work);
  } finally {
    await serve.stop();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
  return await serve.stop();
}

/** Whether this machine can listen on IPv6's loopback, ::1. */
export function haveIpv6(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}
