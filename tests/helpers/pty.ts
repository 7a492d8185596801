/**
 * Test helper: runs fts in a pseudo-terminal, as a person at a terminal
 * would, through a tiny Python relay (`pty.fork`): keys written to it go to
 * the terminal, and everything the terminal shows is collected.
 *
 * @module
 */

import { MAIN } from "./cli.ts";

// Forks a child on a new pty (PTY_COLUMNS wide, 120 unless set; 40 rows), then copies stdin to the pty and the
// pty to stdout until the child ends; exits with the child's status.
const RELAY = `
import fcntl, os, pty, select, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
columns = int(os.environ.get("PTY_COLUMNS", "120"))
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
open_in = True
while True:
    ready, _, _ = select.select([fd] + ([0] if open_in else []), [], [], 0.2)
    if 0 in ready:
        data = os.read(0, 4096)
        if data:
            os.write(fd, data)
        else:
            open_in = False
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        os.write(1, data)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

/** An fts process on a pseudo-terminal. */
export class PtySession {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #output = "";
  #reading: Promise<void>;

  /** Starts `fts ARGS...` in `cwd` with `env`, on a terminal `columns` wide. */
  constructor(
    args: string[],
    options: {
      cwd?: string;
      env?: Record<string, string>;
      columns?: number;
    } = {},
  ) {
    const child = new Deno.Command("python3", {
      args: ["-c", RELAY, Deno.execPath(), "run", "-A", MAIN, ...args],
      cwd: options.cwd,
      env: {
        NO_COLOR: "1",
        TERM: "xterm",
        PTY_COLUMNS: String(options.columns ?? 120),
        ...options.env,
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) {
        this.#output += decoder.decode(chunk, { stream: true });
      }
    })();
  }

  /** Everything the terminal showed so far. */
  get output(): string {
    return this.#output;
  }

  /** Types `keys` (raw bytes: `\r` is Enter, `\x03` Ctrl-C). */
  async type(keys: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(keys));
  }

  /**
   * Waits until the output after position `from` includes `text`; returns
   * the position just after it.
   *
   * @throws when it does not appear within `timeoutMs`.
   */
  async waitFor(text: string, from = 0, timeoutMs = 20_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const at = this.#output.indexOf(text, from);
      if (at >= 0) return at + text.length;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(
      `no ${JSON.stringify(text)} after ${from} in ${
        JSON.stringify(this.#output)
      }`,
    );
  }

  /**
   * Types `line` and Enter at the shell, waits for `expect` and then for the
   * next prompt; returns the position after that prompt.
   */
  async command(line: string, expect: string, from = 0): Promise<number> {
    await this.type(`${line}\r`);
    const at = await this.waitFor(expect, from);
    return await this.waitFor("> ", at);
  }

  /** Waits for the process to end (killing it after `timeoutMs`). */
  async exit(timeoutMs = 20_000): Promise<number> {
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
    try {
      await this.#writer.close().catch(() => {});
      const status = await this.#child.status;
      await this.#reading;
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }
}
