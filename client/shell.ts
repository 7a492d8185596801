/**
 * The shell `fts connect HOST` opens: the remote commands plus `cd`, `pwd`,
 * `lcd`, `lpwd`, `help` and `quit`, with sftp's conveniences: `put *.txt`
 * expands locally and `get *.log` remotely (each match into the working
 * folder), `mput`/`mget` are aliases, and Ctrl-C stops the running command.
 *
 * At a terminal an error is printed and the shell goes on. In batch mode
 * (`-b FILE`, or commands piped in) the first error stops it, as `sftp -b`
 * does, unless the command was written `-COMMAND`.
 *
 * @module
 */

import { basename, dirname, globToRegExp, join } from "@std/path";
import * as posix from "@std/path/posix";
import {
  type Checksum,
  type Entry,
  FtsError,
  NotFoundError,
  WrongTypeError,
} from "../protocol/mod.ts";
import { parseFlags } from "../cli/flags.ts";
import { UsageError } from "../cli/usage_error.ts";
import { COMMAND_FLAGS, commandSettings } from "./command_flags.ts";
import {
  CommandRunner,
  COMMANDS,
  type CommandSettings,
  formatListing,
} from "./commands.ts";
import type { Connection } from "./connection.ts";
import { expandHome } from "./home.ts";
import type { Reporter } from "./reporter.ts";
import { safeJson, safeText } from "./safe_text.ts";
import { localListing, localMkdir, runLocalCommand } from "./shell_local.ts";
import { localError } from "./local_errors.ts";

const SHELL_COMMANDS: Record<string, string> = {
  "cd [PATH]": "change the remote folder (/ is the served root)",
  "pwd": "print the remote folder",
  "lcd [PATH]": "change the local folder (default: home; ~ expands)",
  "lpwd": "print the local folder",
  "lls [PATH]": "list a local folder",
  "lmkdir PATH...": "create local folders",
  "!COMMAND": "run COMMAND on this machine (! alone: a local shell)",
  "mput, mget, rename": "the same as put, get and mv",
  "help, ?": "show this list",
  "quit, exit, bye": "leave (Ctrl-D too)",
};

/** Other names of commands, as sftp users type them. */
const ALIASES: Record<string, string> = {
  mput: "put",
  mget: "get",
  rename: "mv",
  "?": "help",
  bye: "quit",
  exit: "quit",
};

/** Every word the shell takes as a command (for completion). */
export const SHELL_WORDS: string[] = [
  ...Object.keys(COMMANDS),
  ...["cd", "pwd", "lcd", "lpwd", "lls", "lmkdir", "help", "quit"],
  ...Object.keys(ALIASES).filter((alias) => alias !== "?"),
];

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
    "\nFlags: ls/stat --json --hash, rm -rf, put/get -r --parallel N --no-clobber --no-resume --limit-rate R -z" +
    "\nput *.txt expands locally; get *.log, ls *.txt and rm *.tmp remotely (with -r, folders match too)." +
    "\nCtrl-C stops a transfer (a rerun resumes) or clears the line.";
}

interface Word {
  text: string;
  /** Holds `*`, `?` or `[` outside quotes and escapes. */
  glob: boolean;
}

/**
 * Splits a command line into words, honouring single and double quotes and
 * backslash escapes. Each word says whether it held an unquoted glob
 * character, so `put '*.txt'` sends a file named `*.txt`.
 */
function splitLine(line: string): Word[] {
  const words: Word[] = [];
  let word = "";
  let glob = false;
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
      if (started) words.push({ text: word, glob });
      word = "";
      glob = false;
      started = false;
    } else {
      if (ch === "*" || ch === "?" || ch === "[") glob = true;
      word += ch;
      started = true;
    }
  }
  if (quote) throw new UsageError("unterminated quote");
  if (started) words.push({ text: word, glob });
  return words;
}

/** What the shell needs from its surroundings. */
export interface ShellIo {
  /** Command output. */
  print: (text: string) => void;
  /** Error lines. */
  printError: (text: string) => void;
  /** Stop at the first error and report it (sftp -b); else go on. */
  batch: boolean;
  /**
   * Sets what Ctrl-C does while a command runs (`null` when none runs).
   * Absent when there is no terminal to press it on.
   */
  onInterrupt?: (handler: (() => void) | null) => void;
  /**
   * Lends the terminal to a local command (`!command`); returns what gives
   * it back. Absent without a terminal.
   */
  suspendTerminal?: () => () => void;
}

/**
 * Runs `shell` on `lines` (typed, or read from a batch file) until `quit`
 * or their end, then logs out.
 *
 * @throws the first error in batch mode.
 */
export async function runShell(
  shell: Shell,
  lines: AsyncIterable<string>,
): Promise<void> {
  try {
    for await (const line of lines) {
      if (!await shell.runLine(line)) break;
    }
  } finally {
    await shell.connection.close();
  }
}

/**
 * One shell session: its connection, folders and listing cache. `connect`
 * opens a new connection when the old one has closed (an idle timeout, a
 * Ctrl-C).
 */
export class Shell {
  /** The connection commands run on now. */
  connection: Connection;
  /** Runs the remote commands. */
  readonly runner: CommandRunner;
  #connect: () => Promise<Connection>;
  #defaults: CommandSettings;
  #io: ShellIo;
  #listings = new Map<string, Promise<{ name: string; dir: boolean }[]>>();
  /** Extra connections a running command opened (`-P`), for Ctrl-C. */
  #extra = new Set<Connection>();
  /** Aborted by Ctrl-C during the running command (ends a live mirror). */
  #interrupt = new AbortController();

  constructor(
    connection: Connection,
    connect: () => Promise<Connection>,
    reporter: Reporter,
    defaults: CommandSettings,
    io: ShellIo,
  ) {
    this.connection = connection;
    this.#connect = connect;
    this.#defaults = defaults;
    this.#io = io;
    this.runner = new CommandRunner(
      connection,
      reporter,
      io.print,
      true,
      async () => {
        const extra = await connect();
        this.#extra.add(extra);
        return extra;
      },
    );
  }

  /** The prompt: `fts HOST:/FOLDER> `. */
  prompt(): string {
    return `fts ${this.connection.label}:/${safeText(this.runner.cwd)}> `;
  }

  /**
   * Runs one line; returns false when the shell should end (`quit`).
   *
   * @throws in batch mode, the error of a command not written `-COMMAND`.
   */
  async runLine(line: string): Promise<boolean> {
    let tolerant = false;
    let interrupted = false;
    let transfer = false;
    try {
      let text = line.trim();
      if (this.#io.batch && text.startsWith("-")) {
        tolerant = true;
        text = text.slice(1);
      }
      if (text === "" || text.startsWith("#")) return true;
      if (text.startsWith("!")) {
        const resume = this.#io.suspendTerminal?.();
        try {
          await runLocalCommand(text.slice(1), this.#io.batch);
        } finally {
          resume?.();
        }
        return true;
      }
      const [nameWord, ...rest] = splitLine(text);
      const name = ALIASES[nameWord.text] ?? nameWord.text;
      if (name === "quit") return false;
      transfer = name === "put" || name === "get";
      if (this.connection.closed) {
        this.connection = await this.#connect();
        this.runner.connection = this.connection;
      }
      this.#interrupt = new AbortController();
      this.#io.onInterrupt?.(() => {
        interrupted = true;
        this.#interrupt.abort();
        this.connection.abort();
        for (const extra of this.#extra) extra.abort();
      });
      try {
        await this.#runBuiltin(name, rest);
      } finally {
        this.#io.onInterrupt?.(null);
        this.#listings.clear();
        this.#extra.clear();
      }
    } catch (error) {
      if (interrupted) {
        this.#io.printError(
          transfer
            ? "interrupted; the partial transfer is kept, so the same command resumes"
            : "interrupted",
        );
        return true;
      }
      const message = safeText(
        error instanceof FtsError || error instanceof UsageError
          ? error.message
          : `error: ${error instanceof Error ? error.message : error}`,
      );
      if (this.#io.batch && !tolerant) throw error;
      this.#io.printError(message);
    }
    return true;
  }

  async #runBuiltin(command: string, words: Word[]): Promise<void> {
    const name = command;
    const spec = Object.hasOwn(COMMANDS, command)
      ? COMMANDS[command]
      : undefined;
    const { flags, positional: plain, positionalIndex } = parseFlags(
      COMMAND_FLAGS,
      words.map((word) => word.text),
      { command: name, elsewhere: () => true, allowed: spec?.flags ?? [] },
    );
    switch (command) {
      case "help":
        return this.#io.print(shellHelp());
      case "pwd":
        return this.#io.print(`/${safeText(this.runner.cwd)}`);
      case "lpwd":
        return this.#io.print(Deno.cwd());
      case "lcd":
        return changeLocalFolder(plain);
      case "cd":
        return await this.#changeFolder(plain);
      case "lls":
        return this.#io.print(await localListing(plain));
      case "lmkdir":
        return await localMkdir(plain);
    }
    const globbed = positionalIndex.map((index) => words[index]);
    const settings = {
      ...commandSettings(flags, this.#defaults),
      interrupt: this.#interrupt.signal,
    };
    if (globbed.some((word) => word.glob)) {
      if (command === "put" || command === "get") {
        return await this.#transferGlobs(command, globbed, settings);
      }
      if (command === "ls" || command === "rm" || command === "chmod") {
        return await this.#remoteGlobs(command, globbed, settings);
      }
    }
    await this.runner.run(command, plain, settings);
  }

  /**
   * `put *.txt [DIR]`, `get *.log [DIR]`: the matches, each into DIR (the
   * working folder when the last word is a pattern too).
   */
  async #transferGlobs(
    command: "put" | "get",
    words: Word[],
    settings: CommandSettings,
  ): Promise<void> {
    const last = words.at(-1)!;
    const target = words.length > 1 && !last.glob ? last.text : undefined;
    const patterns = target === undefined ? words : words.slice(0, -1);
    const sources: string[] = [];
    for (const word of patterns) {
      // With -r, folders match too.
      const matches = !word.glob
        ? [word.text]
        : command === "put"
        ? await localMatches(word.text, settings.recursive)
        : (await this.#remoteMatches(word.text, settings.recursive)).map(
          (match) => match.path,
        );
      if (matches.length === 0) {
        throw new UsageError(`no match for "${word.text}"`);
      }
      sources.push(...matches);
    }
    if (command === "put") {
      await this.runner.putMany(sources, target ?? "./", settings);
    } else await this.runner.getMany(sources, target ?? ".", settings);
  }

  /**
   * `ls *.txt`, `rm *.tmp` (`rm -r build-*`), `chmod 644 *.sh`: the remote
   * matches listed, removed or changed; folders match `ls` and `chmod`, and
   * `rm` with -r.
   */
  async #remoteGlobs(
    command: "ls" | "rm" | "chmod",
    words: Word[],
    settings: CommandSettings,
  ): Promise<void> {
    const matches: { path: string; entry?: Entry }[] = [];
    // chmod's MODE is no path.
    const lead = command === "chmod" ? words.slice(0, 1) : [];
    for (const word of words.slice(lead.length)) {
      const found = !word.glob
        ? [{ path: word.text }]
        : await this.#remoteMatches(
          word.text,
          command !== "rm" || settings.recursive,
          command === "ls" && settings.hash
            ? settings.checksum ?? "default"
            : undefined,
        );
      if (found.length === 0) {
        throw new UsageError(`no match for "${word.text}"`);
      }
      matches.push(...found);
    }
    const paths = matches.map((match) => match.path);
    if (command !== "ls") {
      const modes = lead.map((word) => word.text);
      return await this.runner.run(command, [...modes, ...paths], settings);
    }
    const entries: Entry[] = [];
    for (const { path, entry } of matches) {
      // A plain name beside a pattern: described as stat describes it.
      const found = entry ?? await this.connection.stat(
        this.runner.remote(path),
        settings.hash,
        `ls "${path}"`,
        settings.checksum,
      );
      entries.push({ ...found, name: path });
    }
    this.#io.print(
      settings.json ? safeJson(entries) : formatListing(entries),
    );
  }

  /**
   * The remote entries matching `pattern` (a glob in its last part): files,
   * and folders too with `folders`; hidden names only for a pattern that
   * starts with a dot. `hash`: list with that checksum.
   */
  async #remoteMatches(
    pattern: string,
    folders: boolean,
    hash?: Checksum | "default",
  ): Promise<{ path: string; entry: Entry }[]> {
    const folder = posix.dirname(pattern);
    const last = posix.basename(pattern);
    const regex = globToRegExp(last, { extended: true });
    const entries = await this.connection.list(
      this.runner.remote(folder),
      hash !== undefined,
      hash === "default" ? undefined : hash,
    );
    return entries
      .filter((entry) =>
        entry.type === "file" || (folders && entry.type === "dir")
      )
      .filter((entry) => regex.test(entry.name))
      .filter((entry) => !entry.name.startsWith(".") || last.startsWith("."))
      .map((entry) => ({
        path: folder === "." ? entry.name : posix.join(folder, entry.name),
        entry,
      }))
      .sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  }

  async #changeFolder(args: string[]): Promise<void> {
    if (args.length > 1) throw new UsageError("usage: cd [PATH]");
    const target = this.runner.remote(args[0] ?? "/");
    if (target !== "") {
      const action = `cd "${args[0]}"`;
      const entry = await this.connection.stat(target, false, action).catch(
        (error) => {
          if (error instanceof NotFoundError) {
            throw new NotFoundError("no such folder", { action });
          }
          throw error;
        },
      );
      if (entry.type !== "dir") {
        throw new WrongTypeError("not a folder", { action });
      }
    }
    this.runner.cwd = target;
  }

  /**
   * Completes the word under the cursor: a command name first, then local
   * paths for `lcd`, `lls`, `lmkdir`, the source of `put` and the target of
   * `get`, remote paths (from a listing cached until the next command) for
   * the rest; `~` becomes `~/`.
   */
  async complete(line: string): Promise<[string[], string]> {
    const at = line.search(/\S*$/);
    const word = line.slice(at);
    const before = line.slice(0, at).trim();
    if (before === "") {
      const names = SHELL_WORDS.filter((name) => name.startsWith(word));
      // One match is finished off with a space, as in bash.
      return [names.length === 1 ? [`${names[0]} `] : names, word];
    }
    const [typed, ...previous] = before.split(/\s+/);
    const command = ALIASES[typed] ?? typed;
    // put LOCAL REMOTE, get REMOTE LOCAL: the side depends on the place.
    const operand = previous.filter((arg) => !arg.startsWith("-")).length;
    const local = ["lcd", "lls", "lmkdir"].includes(command) ||
      (command === "put" && operand === 0) ||
      (command === "get" && operand > 0);
    if (local && word === "~") return [["~/"], word];
    const folder = word.includes("/")
      ? word.slice(0, word.lastIndexOf("/") + 1)
      : "";
    const prefix = word.slice(folder.length);
    let entries: { name: string; dir: boolean }[];
    try {
      entries = local
        ? await localEntries(folder === "" ? "." : expandHome(folder))
        : await this.#remoteEntries(folder === "" ? "." : folder);
    } catch {
      return [[], word];
    }
    const hits = entries
      .filter((entry) => entry.name.startsWith(prefix))
      .filter((entry) => !entry.name.startsWith(".") || prefix.startsWith("."))
      .map((entry) =>
        folder + entry.name.replace(/([\s"'\\])/g, "\\$1") +
        (entry.dir ? "/" : "")
      )
      .sort();
    if (hits.length === 1 && !hits[0].endsWith("/")) hits[0] += " ";
    return [hits, word];
  }

  #remoteEntries(folder: string): Promise<{ name: string; dir: boolean }[]> {
    const path = this.runner.remote(folder);
    let listing = this.#listings.get(path);
    if (!listing) {
      listing = this.connection.list(path).then((entries) =>
        entries.map((entry) => ({
          name: safeText(entry.name),
          dir: entry.type === "dir",
        }))
      );
      listing.catch(() => this.#listings.delete(path));
      this.#listings.set(path, listing);
    }
    return listing;
  }
}

async function localEntries(
  folder: string,
): Promise<{ name: string; dir: boolean }[]> {
  const entries = [];
  for await (const entry of Deno.readDir(folder)) {
    let dir = entry.isDirectory;
    if (entry.isSymlink) {
      dir = (await Deno.stat(join(folder, entry.name)).catch(() => null))
        ?.isDirectory ?? false;
    }
    entries.push({ name: entry.name, dir });
  }
  return entries;
}

/**
 * Local files matching `pattern` (a glob in its last part), and folders
 * too with `folders`, sorted.
 */
async function localMatches(
  pattern: string,
  folders: boolean,
): Promise<string[]> {
  const expanded = expandHome(pattern);
  const folder = dirname(expanded);
  const regex = globToRegExp(basename(expanded), { extended: true });
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (!regex.test(entry.name) || (entry.isDirectory && !folders)) continue;
      if (entry.name.startsWith(".") && !basename(expanded).startsWith(".")) {
        continue;
      }
      names.push(folder === "." ? entry.name : join(folder, entry.name));
    }
  } catch {
    return [];
  }
  return names.sort();
}

function changeLocalFolder(args: string[]): void {
  if (args.length > 1) throw new UsageError("usage: lcd [PATH]");
  const path = expandHome(args[0] ?? "~");
  const action = `lcd "${args[0] ?? "~"}"`;
  try {
    Deno.chdir(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError("no such local folder", { action });
    }
    throw localError(error, action);
  }
}
