/**
 * The remote commands (`ls`, `put`, `get`, ...) shared by one-shot
 * `fts connect HOST COMMAND` and the interactive shell.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "@std/path";
import * as posix from "@std/path/posix";
import {
  type Entry,
  NotFoundError,
  ProtocolError,
  WrongTypeError,
} from "../protocol/mod.ts";
import type { Connection } from "./connection.ts";
import { download } from "./download.ts";
import { formatBytes } from "./format.ts";
import type { Reporter } from "./reporter.ts";
import { safeJson, safeText } from "./safe_text.ts";
import { downloadTree } from "./tree_download.ts";
import type { OpenConnection } from "./tree_lanes.ts";
import { uploadTree } from "./tree_upload.ts";
import type { TransferOptions, TransferResult } from "./options.ts";
import { upload } from "./upload.ts";
import { closest } from "../cli/suggest.ts";
import { UsageError } from "../cli/usage_error.ts";
import { MIRROR_FLAGS, type MirrorFlags, runMirror } from "./mirror_command.ts";
import { watchCommand } from "./watch_command.ts";

/** One remote command: how it is called and what it does. */
export interface CommandSpec {
  usage: string;
  summary: string;
  /** Smallest and largest number of arguments. */
  args: [number, number];
  /** The long names of the flags it takes, in `COMMAND_FLAGS`. */
  flags: string[];
}

const TRANSFER_FLAGS = [
  "recursive",
  "no-clobber",
  "no-resume",
  "whole-file",
  "json",
  "no-verify",
  "limit-rate",
  "parallel",
  "P",
  "checksum",
  "compress",
  ...MIRROR_FLAGS,
];

/** Every remote command. */
export const COMMANDS: Record<string, CommandSpec> = {
  ls: {
    usage: "ls [-l] [PATH]",
    summary: "list a folder: type, size, time, name",
    args: [0, 1],
    flags: ["json", "hash", "checksum", "long"],
  },
  stat: {
    usage: "stat PATH",
    summary: "describe one file or folder",
    args: [1, 1],
    flags: ["json", "hash", "checksum"],
  },
  hash: {
    usage: "hash PATH",
    summary: "print a file's SHA-256 as sha256sum does",
    args: [1, 1],
    flags: ["checksum"],
  },
  put: {
    usage: "put [-r] LOCAL... [REMOTE]",
    summary: "upload a file (- is stdin), or several into a folder",
    args: [1, Infinity],
    flags: TRANSFER_FLAGS,
  },
  get: {
    usage: "get [-r] REMOTE... [LOCAL]",
    summary: "download a file (- is stdout), or several into a folder",
    args: [1, Infinity],
    flags: TRANSFER_FLAGS,
  },
  rm: {
    usage: "rm [-rf] PATH...",
    summary: "remove files, or folders with -r (-f: missing is fine)",
    args: [1, Infinity],
    flags: ["recursive", "force"],
  },
  mkdir: {
    usage: "mkdir PATH...",
    summary: "create folders and their parents",
    args: [1, Infinity],
    flags: ["parents"],
  },
  chmod: {
    usage: "chmod MODE PATH...",
    summary: "set permission bits, in octal (644, 0755)",
    args: [2, Infinity],
    flags: [],
  },
  df: {
    usage: "df",
    summary: "free space where the server keeps the files",
    args: [0, 0],
    flags: [],
  },
  mv: {
    usage: "mv FROM TO",
    summary: "rename or move (into TO if it is a folder)",
    args: [2, 2],
    flags: [],
  },
  watch: {
    usage: "watch [PATH]",
    summary: "print each change under a folder as it happens",
    args: [0, 1],
    flags: ["json"],
  },
};

/**
 * Checks a command's name and argument count before anything is sent (or a
 * password asked for).
 *
 * @throws {UsageError} for an unknown command or wrong arguments.
 */
export function checkCommand(name: string, args: string[]): CommandSpec {
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!spec) {
    const near = closest(name, Object.keys(COMMANDS));
    throw new UsageError(
      `unknown command "${name}"${near ? ` (did you mean ${near}?)` : ""}`,
    );
  }
  if (args.length < spec.args[0] || args.length > spec.args[1]) {
    throw new UsageError(`usage: ${spec.usage}`);
  }
  return spec;
}

/** Settings that shape how commands run and print. */
export interface CommandSettings extends TransferOptions {
  /** Print machine-readable JSON (`ls`, `stat`). */
  json: boolean;
  /** Folders with their contents (`rm -r`, `put -r`, `get -r`). */
  recursive: boolean;
  /** Connections a tree transfer may use at once (`-P`). */
  parallel?: number;
  /** Include each file's SHA-256 (`ls`, `stat`). */
  hash: boolean;
  /** `rm -f`: a missing path is no error. */
  force?: boolean;
  /** `ls -l`: the long listing (the listing is always long). */
  long?: boolean;
  /** `--delete`, `--dry-run`, `--max-delete`, `--force`, `--watch`. */
  mirror?: MirrorFlags;
  /** Aborted when the user interrupts the command (the shell's Ctrl-C). */
  interrupt?: AbortSignal;
}

/**
 * Runs remote commands over one connection, relative to a remote working
 * folder (the shell's `cd`).
 */
export class CommandRunner {
  /** The remote working folder, `""` for the served root. */
  cwd = "";
  #connection: Connection;
  #reporter: Reporter;
  #print: (text: string) => void;
  #rooted: boolean;
  #openExtra: OpenConnection | undefined;

  /**
   * With `rooted` (the shell), paths resolve against `cwd`; without it
   * (one-shot commands) relative paths go to the server as typed. Either
   * way `/` names the served root. `openExtra` opens more
   * connections to the same server, for tree transfers with `-P`.
   */
  constructor(
    connection: Connection,
    reporter: Reporter,
    print: (text: string) => void,
    rooted = false,
    openExtra?: OpenConnection,
  ) {
    this.#connection = connection;
    this.#reporter = reporter;
    this.#print = print;
    this.#rooted = rooted;
    this.#openExtra = openExtra;
  }

  /** The connection commands run on; the shell swaps it after a reconnect. */
  set connection(connection: Connection) {
    this.#connection = connection;
  }

  /**
   * Resolves a remote path against the working folder; `/` is the served
   * root everywhere, as in sftp.
   */
  remote(path: string): string {
    if (!this.#rooted) {
      // Relative paths go as typed, so the server still refuses "..".
      return path.startsWith("/")
        ? posix.normalize(path).replace(/^\/+|\/+$/g, "")
        : path;
    }
    const joined: string = path.startsWith("/")
      ? posix.normalize(path)
      : posix.join("/", this.cwd, path);
    return joined.replace(/^\/+|\/+$/g, "");
  }

  /**
   * Runs `name` with `args`.
   *
   * @throws {UsageError} for an unknown command or wrong arguments.
   */
  async run(
    name: string,
    args: string[],
    settings: CommandSettings,
  ): Promise<void> {
    checkCommand(name, args);
    const c = this.#connection;
    switch (name) {
      case "ls": {
        const entries = await c.list(
          this.remote(args[0] ?? ""),
          settings.hash,
          settings.checksum,
        );
        this.#print(
          settings.json ? safeJson(entries) : formatListing(entries),
        );
        return;
      }
      case "stat": {
        const entry = await c.stat(
          this.remote(args[0]),
          settings.hash,
          undefined,
          settings.checksum,
        );
        this.#print(
          settings.json ? safeJson(entry) : formatEntry(entry),
        );
        return;
      }
      case "hash": {
        const path = this.remote(args[0]);
        // sha256 by default, so the output matches sha256sum's.
        const checksum = settings.checksum ?? "sha256";
        const entry = await c.stat(path, true, `hash "${path}"`, checksum);
        if (entry.type !== "file") {
          throw new UsageError(`"${args[0]}" is not a file`);
        }
        const digest = entry[checksum];
        if (!digest) {
          throw new ProtocolError(`the server does not offer ${checksum}`, {
            action: `hash "${path}"`,
          });
        }
        this.#print(`${safeText(digest)}  ${args[0]}`);
        return;
      }
      case "put":
        return await this.#put(args, settings);
      case "get":
        return await this.#get(args, settings);
      case "rm":
        for (const path of args) {
          await c.remove(this.remote(path), settings.recursive).catch(
            (error) => {
              if (!(settings.force && error instanceof NotFoundError)) {
                throw error;
              }
            },
          );
        }
        return;
      case "mkdir":
        for (const path of args) await c.mkdir(this.remote(path));
        return;
      case "chmod": {
        const mode = octalMode(args[0]);
        for (const path of args.slice(1)) {
          await c.chmod(this.remote(path), mode);
        }
        return;
      }
      case "df":
        return this.#print(formatSpace(await c.space()));
      case "mv": {
        const notice = await c.move(this.remote(args[0]), this.remote(args[1]));
        if (notice) this.#reporter.info(notice);
        return;
      }
      case "watch":
        return await watchCommand(c, this.remote(args[0] ?? ""), {
          json: settings.json,
          print: this.#print,
          reporter: this.#reporter,
        });
    }
  }

  #mirrorContext(
    settings: CommandSettings & { rerun?: string },
    mirror: MirrorFlags,
  ) {
    return {
      connection: this.#connection,
      options: settings,
      mirror,
      reporter: this.#reporter,
      print: this.#print,
      openExtra: this.#openExtra,
    };
  }

  /** `put LOCAL [REMOTE]`, `put A B DIR`, `put -r`. */
  async #put(args: string[], settings: CommandSettings): Promise<void> {
    if (args.length > 2) {
      return await this.putMany(args.slice(0, -1), args.at(-1)!, settings);
    }
    const [local, remoteArg] = args;
    if (settings.recursive) {
      const { remote, created } = await this.#treePutTarget(local, remoteArg);
      // A rerun of this command would put the tree inside the folder this
      // run made: the advice names the command that resumes.
      const rerun = created
        ? `put -r ${intoItself(local)} ${remoteArg}`
        : undefined;
      if (settings.mirror) {
        return await runMirror(
          "put",
          local,
          remote,
          this.#mirrorContext({ ...settings, rerun }, settings.mirror),
        );
      }
      await uploadTree(
        this.#connection,
        local,
        remote,
        { ...settings, rerun },
        this.#reporter,
        this.#openExtra,
      );
      return;
    }
    const remote = await this.#putTarget(local, remoteArg);
    const started = performance.now();
    const result = await upload(
      this.#connection,
      local,
      remote,
      settings,
      this.#reporter,
    ).catch(async (error) => {
      throw await this.#missingRemoteFolder(error, remote, local);
    });
    this.#summary("sent", result, started, settings.json);
  }

  /** `get REMOTE [LOCAL]`, `get A B DIR`, `get -r`. */
  async #get(args: string[], settings: CommandSettings): Promise<void> {
    if (args.length > 2) {
      return await this.getMany(args.slice(0, -1), args.at(-1)!, settings);
    }
    const [remoteArg, localArg] = args;
    const remote = this.remote(remoteArg);
    if (settings.recursive) {
      const local = await treeGetTarget(
        remote,
        localArg,
        endsInSlash(remoteArg),
      );
      if (settings.mirror) {
        return await runMirror(
          "get",
          remote,
          local,
          this.#mirrorContext(settings, settings.mirror),
        );
      }
      await downloadTree(
        this.#connection,
        remote,
        local,
        settings,
        this.#reporter,
        this.#openExtra,
      );
      return;
    }
    const local = await getTarget(remote, localArg);
    await checkLocalFolder(local, `get "${remoteArg}"`);
    const started = performance.now();
    const result: TransferResult = await download(
      this.#connection,
      remote,
      local,
      settings,
      this.#reporter,
    );
    if (local !== "-") {
      this.#summary("received", result, started, settings.json);
    }
  }

  /**
   * `put A B C DIR`: every source into the remote folder DIR, which must
   * exist; refused before anything is sent otherwise, so nothing is
   * replaced by surprise.
   */
  async putMany(
    sources: string[],
    folder: string,
    settings: CommandSettings,
  ): Promise<void> {
    const remote = this.remote(folder);
    const action = `put into "${folder}"`;
    if (remote !== "") {
      const entry = await this.#connection.stat(remote, false, action);
      if (entry.type !== "dir") {
        throw new WrongTypeError(
          `"${folder}" is not a folder; with several sources the target must be one`,
          { action },
        );
      }
    }
    for (const source of sources) {
      await this.run(
        "put",
        [source, `${folder.replace(/\/+$/, "")}/`],
        settings,
      );
    }
  }

  /**
   * `get A B C DIR`: every source into the local folder DIR, which must
   * exist; refused before anything is fetched otherwise.
   */
  async getMany(
    sources: string[],
    folder: string,
    settings: CommandSettings,
  ): Promise<void> {
    const info = await Deno.stat(folder).catch(() => null);
    if (!info?.isDirectory) {
      throw new WrongTypeError(
        `"${folder}" is not a local folder; with several sources the target must be one`,
        { action: `get into "${folder}"` },
      );
    }
    for (const source of sources) {
      await this.run("get", [source, folder], settings);
    }
  }

  /**
   * `sent 200.0 MiB in 5.5 s, 36.4 MiB/s, verified`, as trees end; a delta
   * says `sent 2.3 MiB of 256.0 MiB (delta) in …`, zstd `sent 21.8 MiB as
   * 4.9 MiB (zstd) in …`. With `--json`, one JSON line with the bytes sent
   * and reused instead.
   */
  #summary(
    verb: string,
    result: TransferResult,
    started: number,
    json = false,
  ): void {
    const seconds = Math.max((performance.now() - started) / 1000, 1e-3);
    if (json) {
      // On stdout, as ls --json prints, so scripts can read it.
      this.#print(JSON.stringify({
        [verb]: result.bytes,
        reused: result.reused ?? 0,
        size: result.size ?? null,
        delta: result.reused !== undefined,
        wire: result.wire ?? result.bytes,
        resumedAt: result.resumedAt,
        seconds: Number(seconds.toFixed(3)),
        checksum: result.digest ? result.checksum : null,
        digest: result.digest ?? null,
      }));
      return;
    }
    const of = result.reused !== undefined && result.size !== undefined
      ? ` of ${formatBytes(result.size)} (delta)`
      : "";
    const wire = result.wire === undefined
      ? ""
      : ` as ${formatBytes(result.wire)} (zstd)`;
    const parts = [
      `${verb} ${formatBytes(result.bytes)}${of}${wire} in ${
        seconds.toFixed(1)
      } s`,
      `${formatBytes(Math.round(result.bytes / seconds))}/s`,
    ];
    if (result.reused !== undefined) {
      parts.push(`${formatBytes(result.reused)} reused`);
    }
    if (result.resumedAt > 0) {
      parts.push(`resumed at ${formatBytes(result.resumedAt)}`);
    }
    if (result.digest) parts.push(`verified (${result.checksum})`);
    this.#reporter.info(parts.join(", "));
  }

  /**
   * `error` as it is, unless it is a put refused because the remote folder
   * of `remote` does not exist: then an error that names that folder.
   */
  async #missingRemoteFolder(
    error: unknown,
    remote: string,
    local: string,
  ): Promise<unknown> {
    const parent = posix.dirname(remote);
    if (!(error instanceof NotFoundError) || parent === ".") return error;
    const action = error.action ?? `put "${local}"`;
    const found = await this.#connection.stat(parent, false, action).then(
      () => true,
      (statError) => statError instanceof NotFoundError ? false : true,
    );
    return found ? error : new NotFoundError(
      `there is no folder "${parent}" on the server`,
      { action },
    );
  }

  async #putTarget(
    local: string,
    remoteArg: string | undefined,
  ): Promise<string> {
    const name = local === "-" ? "stdin" : basename(local);
    if (remoteArg === undefined) return this.remote(name);
    const remote = this.remote(remoteArg);
    if (remoteArg.endsWith("/")) return posix.join(remote, name);
    try {
      const entry = await this.#connection.stat(
        remote,
        false,
        `put "${local}"`,
      );
      if (entry.type === "dir") return posix.join(remote, name);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    return remote;
  }

  /**
   * Where `put -r LOCAL [REMOTE]` puts the tree, as `cp -r` would: into
   * REMOTE/NAME when REMOTE is a folder (default: the remote working
   * folder), else at REMOTE itself (`created`: this run makes it). With a
   * slash after LOCAL (`dir/`, as rsync reads it) REMOTE is the copy even
   * when it exists.
   */
  async #treePutTarget(
    local: string,
    remoteArg: string | undefined,
  ): Promise<{ remote: string; created: boolean }> {
    const name = basename(resolve(local));
    const remote = this.remote(remoteArg ?? "");
    if (remoteArg === undefined || remote === "") {
      return { remote: posix.join(remote || ".", name), created: false };
    }
    const action = `put -r "${local}"`;
    try {
      const entry = await this.#connection.stat(remote, false, action);
      if (entry.type === "dir") {
        return {
          remote: endsInSlash(local) ? remote : posix.join(remote, name),
          created: false,
        };
      }
      throw new WrongTypeError(
        `"${remoteArg}" is a file on the server`,
        { action: action },
      );
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    return { remote, created: true };
  }
}

/**
 * Where `get -r REMOTE [LOCAL]` puts the tree, as `cp -r` would: into
 * LOCAL/NAME when LOCAL is a folder (default: the working folder), else at
 * LOCAL itself; with `itself` (a slash after REMOTE, as rsync reads it) at
 * LOCAL even when it exists.
 */
async function treeGetTarget(
  remote: string,
  localArg: string | undefined,
  itself: boolean,
): Promise<string> {
  const name = posix.basename(remote);
  const local = localArg ?? ".";
  const info = await Deno.stat(local).catch(() => null);
  if (info?.isDirectory) {
    return name === "" || (itself && localArg !== undefined)
      ? local
      : join(local, name);
  }
  if (info) {
    throw new WrongTypeError(
      `cannot get -r "${remote || "/"}": "${local}" is a file`,
    );
  }
  return local;
}

/**
 * Refuses, naming it, a local folder that does not exist for the file
 * `local` (before anything is fetched).
 */
async function checkLocalFolder(local: string, action: string): Promise<void> {
  if (local === "-") return;
  const folder = dirname(local);
  const info = await Deno.stat(folder).catch(() => null);
  if (!info) {
    throw new NotFoundError(`there is no local folder "${folder}"`, { action });
  }
  if (!info.isDirectory) {
    throw new WrongTypeError(`"${folder}" is not a local folder`, { action });
  }
}

async function getTarget(
  remote: string,
  localArg: string | undefined,
): Promise<string> {
  const name = posix.basename(remote);
  if (localArg === undefined) return name;
  if (localArg === "-") return localArg;
  if (localArg.endsWith("/")) return join(localArg, name);
  const info = await Deno.stat(localArg).catch(() => null);
  return info?.isDirectory ? join(localArg, name) : localArg;
}

/** `644`, `0755`: permission bits in octal, as chmod takes them. */
function octalMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) {
    throw new UsageError(
      `chmod takes a MODE in octal such as 644 or 0755, not "${text}"`,
    );
  }
  return parseInt(text, 8);
}

/** `df`'s line: `12.3 GiB free of 100.0 GiB (12%)`. */
function formatSpace({ free, total }: { free: number; total: number }): string {
  const share = total > 0 ? ` (${Math.round((free / total) * 100)}%)` : "";
  return `${formatBytes(free)} free of ${formatBytes(total)}${share}`;
}

/** Formats entries as `ls` prints them. */
export function formatListing(entries: Entry[]): string {
  // `ls --hash`: a column of digests before the names (which may hold
  // spaces), `-` for a folder.
  const width = Math.max(0, ...entries.map((entry) => digestOf(entry).length));
  return entries.map((entry) => formatLine(entry, width)).join("\n");
}

function digestOf(entry: Entry): string {
  return safeText(entry.sha256 ?? entry.xxh128 ?? "");
}

function formatLine(entry: Entry, hashWidth: number): string {
  const size = entry.type === "dir" ? "-" : formatBytes(entry.size);
  const name = safeText(entry.type === "dir" ? `${entry.name}/` : entry.name);
  const hash = hashWidth === 0
    ? ""
    : `${(digestOf(entry) || "-").padEnd(hashWidth)}  `;
  return `${modeString(entry)} ${size.padStart(10)}  ${
    formatTime(entry.mtime)
  }  ${hash}${name}`;
}

/** Formats one entry as `stat` prints it. */
export function formatEntry(entry: Entry): string {
  const lines = [
    `name: ${safeText(entry.name)}`,
    `type: ${entry.type}`,
    `size: ${entry.size} (${formatBytes(entry.size)})`,
    `modified: ${new Date(entry.mtime).toISOString()}`,
    `mode: ${
      entry.mode === null ? "-" : entry.mode.toString(8).padStart(4, "0")
    }`,
  ];
  if (entry.sha256) lines.push(`sha256: ${safeText(entry.sha256)}`);
  if (entry.xxh128) lines.push(`xxh128: ${safeText(entry.xxh128)}`);
  return lines.join("\n");
}

function modeString(entry: Entry): string {
  const type = entry.type === "dir"
    ? "d"
    : entry.type === "symlink"
    ? "l"
    : "-";
  if (entry.mode === null) return type + "?????????";
  let bits = "";
  for (let shift = 6; shift >= 0; shift -= 3) {
    const triple = (entry.mode >> shift) & 7;
    bits += (triple & 4 ? "r" : "-") + (triple & 2 ? "w" : "-") +
      (triple & 1 ? "x" : "-");
  }
  return type + bits;
}

function formatTime(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${
    pad(date.getDate())
  } ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Whether a path ends in a slash: "the folder itself" to rsync and fts. */
function endsInSlash(path: string | undefined): boolean {
  return path !== undefined && /[^\\/][\\/]+$/.test(path);
}

/** `path` with one slash after it, so that a rerun copies into itself. */
function intoItself(path: string): string {
  return endsInSlash(path) ? path : `${path}/`;
}
