/**
 * fts: fast, safe file transfer. This module only parses the command line
 * and dispatches to `fts serve` (server/) or `fts connect` (client/).
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { COMMANDS } from "./client/commands.ts";
import { connectCommand } from "./client/connect_command.ts";
import { parallelFlag } from "./client/shell.ts";
import { DEFAULT_PARALLEL } from "./client/tree_progress.ts";
import { UsageError } from "./client/usage_error.ts";
import { DEFAULT_PORT, FtsError } from "./protocol/mod.ts";
import { parseDuration, serveCommand } from "./server/serve_command.ts";
import { parseRate } from "./transfer/rate_limit_stream.ts";
import { VERSION } from "./version.ts";

const MAIN_HELP = `fts ${VERSION}: fast, safe file transfer

Usage:
  fts serve [DIR] [options]             serve DIR (default ./data)
  fts connect HOST[:PORT] [COMMAND ...]  run COMMAND, or open a shell
  fts --version | --help

Run "fts serve --help" or "fts connect --help" for details.`;

const SERVE_HELP = `Usage: fts serve [DIR] [options]

Serves DIR (default ./data, created if missing) to fts clients. The first line
printed is "fts listening on HOST:PORT". Logs one line per connection and per
operation on stderr. SIGINT/SIGTERM stop accepting connections and let running
transfers finish (a second signal stops at once).

Options:
  --host HOST            address to listen on (default 0.0.0.0)
  --port PORT            port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --read-only            refuse put, rm, mkdir and mv
  --quiet                no log lines
  --idle-timeout SECS    close connections idle this long (default 300)
  --max-connections N    refuse connections beyond N at once (default 256)
  --partial-ttl TIME     remove interrupted uploads after TIME (default 24h)
  --grace SECS           time running transfers get at shutdown (default 10)
  --debug                show stack traces`;

const CONNECT_HELP = `Usage: fts connect HOST[:PORT] [COMMAND ARGS...] [options]

Connects to an fts server (default port ${DEFAULT_PORT}). Without a COMMAND,
opens an interactive shell with the same commands plus cd, pwd, lcd, lpwd,
help and quit (Ctrl-D leaves).

Commands:
${
  Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(20)}${c.summary}`)
    .join("\n")
}

put and get replace an existing target atomically: the old version stays
until the new one is complete and verified. Both keep the modification time
and permission bits. Every transfer is checked with SHA-256 end to end, and
an interrupted transfer resumes where it stopped when run again.

put -r and get -r copy a whole folder tree, empty folders included, as
cp -r does: a destination that does not exist becomes the copy; an existing
folder gets the source folder inside it (default destination: the working
folder). Each file lands atomically and verified; a file that fails is
reported by name, the rest go on, and the exit status is 1. Run the same
command again to resume: files whose size and modification time already
match are skipped. Kept: contents, modification times and permission bits
of files and folders. Not kept: owner and group, ACLs, extended attributes,
hard links (each name arrives as a separate file). Symlinks and special
files are never followed or created; each is reported as skipped.

Options:
  --json          machine-readable output for ls and stat
  --hash          ls/stat: include each file's SHA-256
  -r              rm: remove a folder and its contents; put/get: a folder tree
  -P N            put -r/get -r: use N connections at once (default ${DEFAULT_PARALLEL})
  --no-clobber    put/get: refuse to replace an existing target
  --no-resume     put/get: start over instead of resuming
  --limit-rate R  put/get: at most R bytes per second (500K, 10M, 1G)
  --quiet         no progress bar or messages
  --debug         show stack traces

Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.`;

/** Where `main` writes; tests pass their own. */
export interface MainIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo: MainIo = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
};

/**
 * Runs fts with command-line `args` and returns the exit status.
 *
 * @example
 * ```ts
 * const status = await main(["connect", "127.0.0.1:7373", "ls"]);
 * ```
 */
export async function main(
  args: string[],
  io: MainIo = defaultIo,
): Promise<number> {
  const unknownOptions: string[] = [];
  const flags = parseArgs(args, {
    boolean: [
      "help",
      "version",
      "debug",
      "read-only",
      "quiet",
      "json",
      "hash",
      "no-clobber",
      "no-resume",
      "no-verify",
      "r",
      "recursive",
    ],
    string: [
      "host",
      "port",
      "idle-timeout",
      "max-connections",
      "partial-ttl",
      "grace",
      "limit-rate",
      "P",
      "parallel",
    ],
    alias: { h: "help", V: "version" },
    unknown: (arg: string, key?: string) => {
      if (key !== undefined) unknownOptions.push(arg);
      return key === undefined;
    },
    stopEarly: false,
  });
  const positional: string[] = flags._.map(String);
  if (unknownOptions.length > 0) {
    io.err(`fts: unknown option "${unknownOptions[0]}"`);
    io.err(MAIN_HELP);
    return 2;
  }
  const [subcommand, ...rest] = positional;
  try {
    if (flags.version) {
      io.out(`fts ${VERSION}`);
      return 0;
    }
    switch (subcommand) {
      case undefined:
        io.out(MAIN_HELP);
        return flags.help ? 0 : 2;
      case "serve":
        if (flags.help) return io.out(SERVE_HELP), 0;
        if (rest.length > 1) throw new UsageError("serve takes one folder");
        await serveCommand({
          root: rest[0] ?? "./data",
          hostname: flags.host ?? "0.0.0.0",
          port: flags.port === undefined
            ? DEFAULT_PORT
            : integer(flags.port, "--port"),
          readOnly: flags["read-only"],
          log: flags.quiet ? null : undefined,
          idleTimeoutMs: flags["idle-timeout"] === undefined
            ? undefined
            : duration(flags["idle-timeout"], "--idle-timeout"),
          maxConnections: flags["max-connections"] === undefined
            ? undefined
            : integer(flags["max-connections"], "--max-connections"),
          partialTtlMs: flags["partial-ttl"] === undefined
            ? undefined
            : duration(flags["partial-ttl"], "--partial-ttl"),
          graceMs: flags.grace === undefined
            ? 10_000
            : duration(flags.grace, "--grace"),
          announce: io.out,
        });
        return 0;
      case "connect":
        if (flags.help) return io.out(CONNECT_HELP), 0;
        if (rest.length === 0) throw new UsageError("connect needs a HOST");
        await connectCommand({
          target: rest[0],
          command: rest.slice(1),
          quiet: flags.quiet,
          json: flags.json,
          hash: flags.hash,
          recursive: flags.r || flags.recursive,
          noClobber: flags["no-clobber"],
          resume: !flags["no-resume"],
          verify: !flags["no-verify"],
          limitRate: flags["limit-rate"] === undefined
            ? undefined
            : rate(flags["limit-rate"]),
          parallel: parallelFlag(flags.P ?? flags.parallel) ??
            DEFAULT_PARALLEL,
        });
        return 0;
      default:
        throw new UsageError(`unknown command "${subcommand}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`fts: ${error.message}`);
      io.err(
        subcommand === "connect"
          ? CONNECT_HELP
          : subcommand === "serve"
          ? SERVE_HELP
          : MAIN_HELP,
      );
      return 2;
    }
    if (flags.debug) {
      io.err(
        error instanceof Error ? error.stack ?? error.message : String(error),
      );
    } else io.err(`fts: ${oneLine(error)}`);
    return 1;
  }
}

function oneLine(error: unknown): string {
  if (error instanceof FtsError) return error.message;
  if (error instanceof Deno.errors.AddrInUse) {
    return "cannot listen: the address is already in use (try --port)";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `cannot continue: permission denied (${error.message})`;
  }
  return error instanceof Error ? error.message : String(error);
}

function integer(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new UsageError(`${flag} takes a whole number, not "${text}"`);
  }
  return value;
}

function rate(text: string): number {
  try {
    return parseRate(text);
  } catch {
    throw new UsageError(
      `--limit-rate takes a rate such as 500K or 10M, not "${text}"`,
    );
  }
}

function duration(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new UsageError(
      `${flag} takes a duration such as 90s, 30m or 24h, not "${text}"`,
    );
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
