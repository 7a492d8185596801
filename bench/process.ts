/**
 * Child-process plumbing for the benchmark: bounded runs (every child has a
 * timeout), background processes, killing whole process trees, waiting for a
 * loopback port to listen, and one registry that stops every child and
 * removes every temp dir on exit, on error and on Ctrl-C.
 *
 * Linux only: process trees and listening sockets are read from `/proc`.
 *
 * @module
 */

/** Result of a finished, bounded child process. */
export interface RunResult {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** True when the exit code was 0. */
  success: boolean;
  /** Standard output, when it was captured. */
  stdout: string;
  /** Standard error, when it was captured. */
  stderr: string;
  /** Wall time from just before the spawn to the exit, in seconds. */
  seconds: number;
  /** True when the run was killed because it exceeded its timeout. */
  timedOut: boolean;
}

/** Options for {@link run} and {@link startBackground}. */
export interface RunOptions {
  /** Kill the process tree after this many milliseconds. Required: every child is bounded. */
  timeoutMs: number;
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Capture stdout (default: discard it). */
  captureStdout?: boolean;
  /** Capture stderr (default: capture it, it is small and explains failures). */
  captureStderr?: boolean;
  /** Called with the child's pid right after it was spawned. */
  onSpawn?: (pid: number) => void;
}

/**
 * Registry of everything the benchmark started: child processes, temp dirs
 * and other clean-up actions. {@link Cleanup.runAll} undoes all of it and is
 * safe to call more than once.
 */
export class Cleanup {
  #children = new Map<number, Deno.ChildProcess>();
  #dirs = new Set<string>();
  #actions = new Set<() => Promise<void> | void>();
  #running: Promise<void> | null = null;
  #closed = false;

  /** True once clean-up has begun: no new children may start after that. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Remembers a child so it is killed at clean-up. */
  track(child: Deno.ChildProcess): void {
    this.#children.set(child.pid, child);
  }

  /** Forgets a child that has exited. */
  untrack(pid: number): void {
    this.#children.delete(pid);
  }

  /** Remembers a temp dir so it is removed at clean-up. */
  addDir(path: string): void {
    this.#dirs.add(path);
  }

  /** Removes a temp dir now and forgets it. */
  async removeDir(path: string): Promise<void> {
    this.#dirs.delete(path);
    await removeQuietly(path);
  }

  /** Registers an extra clean-up action; returns a function that unregisters it. */
  addAction(action: () => Promise<void> | void): () => void {
    this.#actions.add(action);
    return () => this.#actions.delete(action);
  }

  /** Number of children still tracked (for tests and diagnostics). */
  get liveChildren(): number {
    return this.#children.size;
  }

  /** Runs every action, kills every tracked child tree and removes every temp dir. */
  runAll(): Promise<void> {
    if (this.#running) return this.#running;
    this.#closed = true;
    this.#running = (async () => {
      for (const action of [...this.#actions]) {
        try {
          await action();
        } catch { /* keep cleaning */ }
      }
      this.#actions.clear();
      const pids = [...this.#children.keys()];
      await Promise.all(pids.map((pid) => killTree(pid, 2000)));
      this.#children.clear();
      for (const dir of [...this.#dirs]) await removeQuietly(dir);
      this.#dirs.clear();
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }
}

/** The benchmark's one clean-up registry. */
export const cleanup: Cleanup = new Cleanup();

/** Removes a file or directory tree, ignoring "not found" and other errors. */
export async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch { /* already gone */ }
}

/** Makes a temp dir that is removed at clean-up. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  cleanup.addDir(dir);
  return dir;
}

/** Lists all descendants of `pid` (children first, then theirs), read from `/proc`. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    let tasks: string[] = [];
    try {
      tasks = [...Deno.readDirSync(`/proc/${current}/task`)].map((e) => e.name);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      let text = "";
      try {
        text = Deno.readTextFileSync(`/proc/${current}/task/${tid}/children`);
      } catch {
        continue;
      }
      for (const part of text.trim().split(/\s+/)) {
        const child = Number(part);
        if (child > 0 && !out.includes(child)) {
          out.push(child);
          queue.push(child);
        }
      }
    }
  }
  return out;
}

function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 3 (after the parenthesised name) is the state; Z is a zombie.
    const state = stat.slice(
      stat.lastIndexOf(")") + 2,
      stat.lastIndexOf(")") + 3,
    );
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function signalQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch { /* gone */ }
}

/**
 * Sends SIGTERM to `pid` and all its descendants, then SIGKILL to whatever is
 * still alive after `graceMs`. Descendants are collected before the first
 * signal, so children reparented to init are not lost.
 */
export async function killTree(pid: number, graceMs = 2000): Promise<void> {
  const all = [pid, ...descendants(pid)];
  for (const p of all) signalQuietly(p, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && all.some(isAlive)) {
    await sleep(20);
  }
  for (const p of [...all, ...descendants(pid)]) {
    if (isAlive(p)) signalQuietly(p, "SIGKILL");
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function spawn(
  cmd: string,
  args: string[],
  options: RunOptions,
): Deno.ChildProcess {
  if (cleanup.closed) throw new Error("the benchmark is stopping");
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: options.captureStdout ? "piped" : "null",
    stderr: options.captureStderr === false ? "null" : "piped",
  }).spawn();
  cleanup.track(child);
  return child;
}

/**
 * Runs `cmd args` to completion, bounded by `options.timeoutMs`: when the
 * time is up the whole process tree is killed and `timedOut` is set.
 */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions,
): Promise<RunResult> {
  const start = performance.now();
  const child = spawn(cmd, args, options);
  options.onSpawn?.(child.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(child.pid, 1000);
  }, options.timeoutMs);
  try {
    const out = await child.output();
    const seconds = (performance.now() - start) / 1000;
    const decoder = new TextDecoder();
    return {
      code: out.code,
      success: out.success && !timedOut,
      stdout: options.captureStdout ? decoder.decode(out.stdout) : "",
      stderr: options.captureStderr === false ? "" : decoder.decode(out.stderr),
      seconds,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    cleanup.untrack(child.pid);
  }
}

/**
 * Runs `script` with `sh -c`, passing `params` as `$1`, `$2`, ... so paths
 * are never spliced into the script text. Used where the peers need shell
 * redirections or pipes (`nc ... > file`, `tar c | nc`).
 */
export function runShell(
  script: string,
  params: string[],
  options: RunOptions,
): Promise<RunResult> {
  return run("sh", ["-c", script, "sh", ...params], options);
}

/** A process left running in the background (a server or a listener). */
export class Background {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Resolves with the exit status once the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Collected standard error (when captured). */
  stderrText = "";
  #exited = false;
  #timer: ReturnType<typeof setTimeout>;
  #timedOut = false;

  /** Wraps `child`, killing its tree after `timeoutMs`. */
  constructor(child: Deno.ChildProcess, timeoutMs: number) {
    this.child = child;
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      killTree(child.pid, 1000);
    }, timeoutMs);
    this.status = child.status.then((status) => {
      this.#exited = true;
      clearTimeout(this.#timer);
      cleanup.untrack(child.pid);
      return status;
    });
  }

  /** Process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** True when the process was killed for exceeding its timeout. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /**
   * Waits for the process to exit on its own, at most `timeoutMs`; kills its
   * tree if it does not. Returns its status and whether it had to be killed.
   */
  async wait(
    timeoutMs: number,
  ): Promise<{ status: Deno.CommandStatus; killed: boolean }> {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      killTree(this.pid, 1000);
    }, timeoutMs);
    try {
      const status = await this.status;
      return { status, killed: killed || this.#timedOut };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the process tree (SIGTERM, then SIGKILL after `graceMs`) and waits for its exit. */
  async stop(graceMs = 3000): Promise<Deno.CommandStatus> {
    if (!this.#exited) await killTree(this.pid, graceMs);
    return await this.status;
  }
}

/**
 * Starts `cmd args` in the background. stdout is handed to `onStdout` line by
 * line when given (and drained either way); stderr is collected into
 * {@link Background.stderrText} unless `captureStderr` is false.
 */
export function startBackground(
  cmd: string,
  args: string[],
  options: RunOptions & { onStdoutLine?: (line: string) => void },
): Background {
  const child = spawn(cmd, args, {
    ...options,
    captureStdout: options.onStdoutLine !== undefined,
  });
  const bg = new Background(child, options.timeoutMs);
  if (options.onStdoutLine && child.stdout) {
    readLines(child.stdout, options.onStdoutLine);
  }
  if (options.captureStderr !== false && child.stderr) {
    readLines(child.stderr, (line) => {
      if (bg.stderrText.length < 64 * 1024) bg.stderrText += line + "\n";
    });
  }
  return bg;
}

/** Like {@link startBackground} for a `sh -c` script with positional `params`. */
export function startShell(
  script: string,
  params: string[],
  options: RunOptions,
): Background {
  return startBackground("sh", ["-c", script, "sh", ...params], options);
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let index;
      while ((index = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, index).replace(/\r$/, ""));
        pending = pending.slice(index + 1);
      }
    }
    if (pending) onLine(pending);
  } catch { /* process killed */ }
}

/** Asks the kernel for a free loopback TCP port (bind to port 0, then release it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * True when some socket is listening on TCP `port` (IPv4 or IPv6), per
 * `/proc/net/tcp*`: of this process's network namespace, or of process
 * `pid`'s (a listener started in another namespace).
 */
export function isListening(port: number, pid?: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const net = pid === undefined ? "/proc/net" : `/proc/${pid}/net`;
  for (const file of [`${net}/tcp`, `${net}/tcp6`]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4) continue;
      // fields[1] is local "ADDR:PORT", fields[3] the state; 0A is LISTEN.
      if (fields[3] === "0A" && fields[1].endsWith(":" + hex)) return true;
    }
  }
  return false;
}

/**
 * Waits until something listens on `port`, without connecting to it (a
 * connection would use up a one-shot listener such as `nc -l`). Throws when
 * `proc` exits first or after `timeoutMs`. With `ownNamespace`, looks in
 * `proc`'s network namespace (it was started in another one).
 */
export async function waitForListen(
  port: number,
  timeoutMs: number,
  proc?: Background,
  ownNamespace = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isListening(port, ownNamespace ? proc?.pid : undefined)) return;
    if (proc?.exited) {
      throw new Error(
        `process exited before listening on port ${port}: ${proc.stderrText.trim()}`,
      );
    }
    await sleep(5);
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}

/** Full path of `name` on PATH (or the path itself when it contains a slash and is executable), else null. */
export function which(name: string): string | null {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin")
      .split(":")
      .concat(["/usr/sbin", "/sbin"])
      .filter((dir) => dir)
      .map((dir) => `${dir}/${name}`);
  for (const path of candidates) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) {
        return path;
      }
    } catch { /* not here */ }
  }
  return null;
}
