/**
 * The interactive shell `fts connect HOST` opens: the remote commands plus
 * `cd`, `pwd`, `lcd`, `lpwd`, `help` and `quit`. An error is printed and the
 * shell goes on; Ctrl-D or `quit` leaves.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { TextLineStream } from "@std/streams";
import { FtsError } from "../protocol/mod.ts";
import { CommandRunner, COMMANDS, type CommandSettings } from "./commands.ts";
import type { Connection } from "./connection.ts";
import type { Reporter } from "./reporter.ts";
import { safeText } from "./safe_text.ts";
import { UsageError } from "./usage_error.ts";

const SHELL_COMMANDS: Record<string, string> = {
  "cd [PATH]": "change the remote folder (/ is the served root)",
  "pwd": "print the remote folder",
  "lcd PATH": "change the local folder",
  "lpwd": "print the local folder",
  "help": "show this list",
  "quit, exit": "leave (Ctrl-D too)",
};

/** Returns the shell's help text. */
export function shellHelp(): string {
  const rows: [string, string][] = [
    ...Object.values(COMMANDS).map((
      c,
    ): [string, string] => [c.usage, c.summary]),
    ...Object.entries(SHELL_COMMANDS),
  ];
  const width = Math.max(...rows.map(([usage]) => usage.length));
  return rows.map(([usage, summary]) => `  ${usage.padEnd(width)}  ${summary}`)
    .join("\n") +
    "\nFlags: ls/stat --json --hash, rm/put/get -r, put/get --no-clobber --no-resume";
}

/**
 * Splits a command line into words, honouring single and double quotes and
 * backslash escapes.
 *
 * @example
 * ```ts
 * splitWords(`put "my file.txt" docs/`); // ["put", "my file.txt", "docs/"]
 * ```
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length) {
        word += line[++i];
      } else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      started = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      word += line[++i];
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) words.push(word);
      word = "";
      started = false;
    } else {
      word += ch;
      started = true;
    }
  }
  if (quote) throw new UsageError("unterminated quote");
  if (started) words.push(word);
  return words;
}

/** What the shell needs from its surroundings. */
export interface ShellIo {
  /** Lines typed by the user. */
  input: ReadableStream<Uint8Array>;
  /** Command output. */
  print: (text: string) => void;
  /** Error lines. */
  printError: (text: string) => void;
  /** Shows the prompt (only when the input is a terminal). */
  prompt?: (text: string) => void;
}

/**
 * Runs the shell until `quit` or the end of input. `connect` opens a new
 * connection when the server has closed the old one (an idle timeout, say).
 */
export async function runShell(
  first: Connection,
  connect: () => Promise<Connection>,
  reporter: Reporter,
  defaults: CommandSettings,
  io: ShellIo,
): Promise<void> {
  let connection = first;
  const runner = new CommandRunner(
    connection,
    reporter,
    io.print,
    true,
    connect,
  );
  const lines: ReadableStream<string> = io.input
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new TextLineStream());
  const reader = lines.getReader();
  const showPrompt = () =>
    io.prompt?.(`fts ${connection.label}:/${runner.cwd}> `);
  try {
    showPrompt();
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      try {
        const words = splitWords(value.trim());
        if (words.length === 0) continue;
        const [name, ...rest] = words;
        if (name === "quit" || name === "exit") break;
        if (connection.closed) {
          connection = await connect();
          runner.connection = connection;
        }
        await runBuiltin(name, rest, runner, connection, defaults, io);
      } catch (error) {
        io.printError(safeText(
          error instanceof FtsError || error instanceof UsageError
            ? error.message
            : `error: ${error instanceof Error ? error.message : error}`,
        ));
      } finally {
        showPrompt();
      }
    }
  } finally {
    reader.releaseLock();
    await connection.close();
  }
}

async function runBuiltin(
  name: string,
  rest: string[],
  runner: CommandRunner,
  connection: Connection,
  defaults: CommandSettings,
  io: ShellIo,
): Promise<void> {
  const flags: Record<string, unknown> & { _: unknown[] } = parseArgs(rest, {
    boolean: ["json", "hash", "r", "recursive", "no-clobber", "no-resume"],
    string: ["P", "parallel"],
  });
  const args: string[] = flags._.map(String);
  switch (name) {
    case "help":
      return io.print(shellHelp());
    case "pwd":
      return io.print(`/${runner.cwd}`);
    case "lpwd":
      return io.print(Deno.cwd());
    case "lcd":
      if (args.length !== 1) throw new UsageError("usage: lcd PATH");
      return Deno.chdir(args[0]);
    case "cd": {
      const target = runner.remote(args[0] ?? "/");
      if (target !== "") {
        const entry = await connection.stat(target);
        if (entry.type !== "dir") {
          throw new UsageError(`cannot cd "${args[0]}": not a folder`);
        }
      }
      runner.cwd = target;
      return;
    }
  }
  await runner.run(name, args, {
    ...defaults,
    json: defaults.json || Boolean(flags.json),
    hash: defaults.hash || Boolean(flags.hash),
    recursive: Boolean(flags.r || flags.recursive),
    noClobber: defaults.noClobber || Boolean(flags["no-clobber"]),
    resume: defaults.resume && !flags["no-resume"],
    parallel: parallelFlag(flags.P ?? flags.parallel) ?? defaults.parallel,
  });
}

/**
 * Parses the value of `-P N` (connections at once), if given.
 *
 * @throws {UsageError} when it is not a whole number from 1 to 16.
 */
export function parallelFlag(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > 16) {
    throw new UsageError(
      `-P takes a number of connections from 1 to 16, not "${text}"`,
    );
  }
  return count;
}
