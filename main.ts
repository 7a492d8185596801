/**
 * fts: fast, safe file transfer. This module only parses the command line
 * and dispatches to `fts serve` and `fts user` (server/) or `fts connect`
 * (client/).
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { COMMANDS } from "./client/commands.ts";
import { connectCommand } from "./client/connect_command.ts";
import { knownHostsCommand } from "./client/known_hosts_command.ts";
import { normalizeFingerprint } from "./client/host_trust.ts";
import { HostKeyMismatchError } from "./client/known_hosts.ts";
import { parallelFlag } from "./client/shell.ts";
import { mirrorFlags } from "./client/mirror_command.ts";
import { DEFAULT_PARALLEL } from "./client/tree_progress.ts";
import { safeText } from "./client/safe_text.ts";
import { UsageError } from "./client/usage_error.ts";
import {
  type Checksum,
  DEFAULT_PORT,
  FtsError,
  isChecksum,
} from "./protocol/mod.ts";
import { parseDuration, serveCommand } from "./server/serve_command.ts";
import { type UserAction, userCommand } from "./server/auth/user_command.ts";
import { parseRate } from "./transfer/rate_limit_stream.ts";
import { VERSION } from "./version.ts";

const MAIN_HELP = `fts ${VERSION}: fast, safe file transfer

Usage:
  fts serve [DIR] [options]                     serve DIR (default ./data)
  fts connect [USER@]HOST[:PORT] [COMMAND ...]  run COMMAND, or open a shell
  fts user add|remove|list ... --users FILE     manage the users of a server
  fts known-hosts list | remove HOST[:PORT]     the servers trusted so far
  fts help [COMMAND] | --version | --help

Run "fts help serve", "fts help connect", "fts help user" or
"fts help known-hosts" for details.`;

const KNOWN_HOSTS_HELP = `Usage:
  fts known-hosts list
  fts known-hosts remove HOST[:PORT]

Lists or forgets the servers whose TLS certificates were trusted (the
known_hosts file in $FTS_CONFIG_DIR, else ~/.config/fts). After removing a
server, the next connection asks about its certificate again.`;

const SERVE_HELP = `Usage: fts serve [DIR | s3://BUCKET[/PREFIX]] [options]

Serves DIR (default ./data, created if missing) to fts clients, or the
objects under PREFIX in an S3 bucket (AWS S3 or an S3-compatible store; it
reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION
and AWS_ENDPOINT_URL, as every S3 tool does). The first line
printed is "fts listening on HOST:PORT". Logs one line per connection and per
operation on stderr. SIGINT/SIGTERM stop accepting connections and let running
transfers finish (a second signal stops at once).

With --tls every connection is encrypted. Without --cert and --key, fts makes
a self-signed certificate once and keeps it in its configuration directory
($FTS_CONFIG_DIR, else ~/.config/fts); the second line printed is
"fts tls fingerprint SHA256:...", which clients can check or pin with
"fts connect --fingerprint". With --users FILE every client must log in as
one of the users in FILE (see "fts user --help").

Options:
  --host HOST            address to listen on (default 0.0.0.0)
  --port PORT            port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --tls                  encrypt every connection with TLS
  --cert FILE            TLS certificate (or chain, leaf first), PEM; implies --tls
  --key FILE             the certificate's private key, PEM
  --users FILE           require a login by a user in FILE
  --read-only            refuse put, rm, mkdir and mv for everyone
  --quiet                no log lines
  --idle-timeout SECS    close connections idle, or whose transfer makes no
                         progress, this long (default 300)
  --login-timeout SECS   close connections not logged in this long after
                         connecting (default 20)
  --max-connections N    refuse connections beyond N at once (default 256)
  --partial-ttl TIME     remove interrupted uploads after TIME (default 24h)
  --partial-limit SIZE   cap what interrupted uploads may hold (e.g. 10G);
                         the oldest go first (default: no cap)
  --grace SECS           time running transfers get at shutdown (default 10);
                         a second signal stops at once
  --http [HOST:]PORT     also serve HTTP/WebDAV and the web page on PORT (off
                         by default; HTTPS with --tls; 0 picks a free port);
                         prints "fts http listening on HOST:PORT"
  --http-allow-basic-insecure
                         accept HTTP Basic logins (--users) over plain HTTP
  --watch-poll SECS      watch: scan every SECS instead of using inotify
  --s3-path-style        address the bucket as ENDPOINT/BUCKET (the default
                         when AWS_ENDPOINT_URL is set)
  --s3-virtual-host      address the bucket as BUCKET.ENDPOINT (the default
                         for AWS)
  --debug                show stack traces`;

const CONNECT_HELP =
  `Usage: fts connect [USER@]HOST[:PORT] [COMMAND ARGS...] [options]

Connects to an fts server (default port ${DEFAULT_PORT}). Without a COMMAND,
opens an interactive shell with the same commands plus cd, pwd, lcd, lpwd,
mput, mget, help and quit: line editing, history, Tab completion, globs
(put *.txt expands locally, get *.log remotely), Ctrl-C stops a transfer,
Ctrl-D leaves. Commands piped in or given with -b FILE run as a batch that
stops at the first error (a -COMMAND may fail). HOST may be an alias from
the config file in the configuration directory (see the README).

TLS is used with --tls, --fingerprint or --ca, and always for a server in
known_hosts; fts never falls back to plain TCP. The first time, fts shows the
server's certificate fingerprint and asks whether to trust it (compare it
with the "fts tls fingerprint" line the server printed); the answer is kept
in known_hosts in the configuration directory ($FTS_CONFIG_DIR, else
~/.config/fts). Without a terminal to ask on, pass --fingerprint. A server
whose certificate changed later is refused. A certificate from an authority
the system (or --ca) trusts is checked normally instead.

A server started with --users asks for a login: name the user as
USER@HOST. The password is read from FTS_PASSWORD if set, else asked for
on the terminal.

Commands:
${
    Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(28)}${c.summary}`)
      .join("\n")
  }

With several sources (put A B C DIR, get A B C DIR) the target must be an
existing folder; nothing is sent otherwise. Two arguments always mean
SOURCE TARGET.

put and get replace an existing target atomically: the old version stays
until the new one is complete and verified. Both keep the modification time
and permission bits. Every transfer is checked end to end (XXH3-128; SHA-256
with an older server or --checksum sha256), and an interrupted transfer
resumes where it stopped when run again.

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
  --hash          ls/stat: include each file's SHA-256 (see --checksum)
  -r              rm: remove a folder and its contents; put/get: a folder tree
  -P N            put -r/get -r: use N connections at once (default ${DEFAULT_PARALLEL})
  --delete        put -r/get -r: mirror: also remove what the source lacks
  -n, --dry-run   put -r/get -r: list each change (rsync -i marks), change nothing
  --max-delete N  with --delete: refuse the deletion step past N entries
  --force         with --delete: let an empty source empty the target
  --watch         put -r/get -r: keep the copy live until Ctrl-C (see docs/mirror.md)
  --no-clobber    put/get: refuse to replace an existing target
  --no-resume     put/get: start over instead of resuming
  --limit-rate R  put/get: at most R bytes per second (500K, 10M, 1G)
  --checksum C    put/get: verify with C, xxh128 (default) or sha256;
                  hash/ls --hash/stat --hash: print C (default sha256)
  -z, --compress  put/get: compress with zstd where the data shrinks
  --compress=auto put/get: compress only when the link is slower than
                  compression (measured as the transfer runs)
  --tls           use TLS; ask about the certificate of a new server
  --fingerprint F use TLS; trust the server whose certificate has
                  fingerprint F (SHA256:..., as fts serve prints it)
  --ca FILE       use TLS; verify the server with this certificate
                  authority (PEM) and the system's, by host name
  --timeout SECS  give up when the server sends and takes nothing for SECS
                  while fts waits on it, and when connecting (default 30)
  -b FILE         batch: run the commands in FILE (- is stdin) and stop at
                  the first error, as sftp -b does; a command written as
                  -COMMAND may fail without stopping
  -v, --verbose   say more (each connection, resumes, skipped files)
  --quiet         no progress bar or messages
  --debug         show stack traces

Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.`;

const USER_HELP = `Usage:
  fts user add NAME --users FILE [--read-only] [--replace]
  fts user remove NAME --users FILE
  fts user list --users FILE

Manages the users of "fts serve --users FILE"; a running server sees changes
at the next login. add asks for the password twice without showing it, or
takes it from FTS_PASSWORD when set. FILE keeps only a SCRAM-SHA-256
verifier per user, never the password, and is created with mode 0600.

Options:
  --users FILE    the users file (required)
  --read-only     add: the user may list and download, not change anything
  --replace       add: replace an existing user (sets a new password)
  --debug         show stack traces`;

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
  // A boolean flag would take "--compress=auto" as plain "--compress".
  const compressAuto = args.includes("--compress=auto");
  const flags = parseArgs(args.filter((arg) => arg !== "--compress=auto"), {
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
      "tls",
      "replace",
      "verbose",
      "http-allow-basic-insecure",
      "compress",
      "s3-path-style",
      "s3-virtual-host",
      "delete",
      "dry-run",
      "n",
      "force",
      "watch",
    ],
    string: [
      "cert",
      "key",
      "users",
      "fingerprint",
      "ca",
      "host",
      "port",
      "idle-timeout",
      "login-timeout",
      "max-connections",
      "partial-ttl",
      "partial-limit",
      "grace",
      "limit-rate",
      "P",
      "parallel",
      "timeout",
      "b",
      "http",
      "checksum",
      "watch-poll",
      "max-delete",
    ],
    alias: { h: "help", V: "version", v: "verbose", z: "compress" },
    unknown: (arg: string, key?: string) => {
      if (key !== undefined) unknownOptions.push(arg);
      return key === undefined;
    },
    stopEarly: false,
  });
  const positional: string[] = flags._.map(String);
  const [subcommand, ...rest] = positional;
  const badCompress = args.find((arg) =>
    arg.startsWith("--compress=") && arg !== "--compress=auto"
  );
  if (badCompress) unknownOptions.push(badCompress);
  if (unknownOptions.length > 0) {
    io.err(`fts: unknown option "${unknownOptions[0]}"`);
    io.err(tryHelp(subcommand));
    return 2;
  }
  try {
    if (flags.version) {
      io.out(`fts ${VERSION}`);
      return 0;
    }
    switch (subcommand) {
      case undefined:
        io.out(MAIN_HELP);
        return flags.help ? 0 : 2;
      case "help": {
        const text = rest[0] === undefined ? MAIN_HELP : HELP[rest[0]];
        if (text === undefined || rest.length > 1) {
          throw new UsageError(`no help for "${rest.join(" ")}"`);
        }
        io.out(text);
        return 0;
      }
      case "known-hosts":
        if (flags.help) return io.out(KNOWN_HOSTS_HELP), 0;
        await knownHostsCommand(rest, io.out);
        return 0;
      case "serve":
        if (flags.help) return io.out(SERVE_HELP), 0;
        if (rest.length > 1) {
          throw new UsageError("serve takes one folder or s3:// address");
        }
        if ((flags.cert === undefined) !== (flags.key === undefined)) {
          throw new UsageError("--cert and --key go together");
        }
        if (
          rest[0]?.startsWith("s3://") && flags["partial-limit"] !== undefined
        ) {
          throw new UsageError(
            "--partial-limit caps a folder's staging area; unfinished S3 uploads are bounded by --partial-ttl",
          );
        }
        if (flags["s3-path-style"] && flags["s3-virtual-host"]) {
          throw new UsageError(
            "--s3-path-style and --s3-virtual-host cannot go together",
          );
        }
        await serveCommand({
          root: rest[0] ?? "./data",
          hostname: flags.host ?? "0.0.0.0",
          port: flags.port === undefined
            ? DEFAULT_PORT
            : integer(flags.port, "--port"),
          readOnly: flags["read-only"],
          tls: flags.tls,
          certFile: flags.cert,
          keyFile: flags.key,
          users: flags.users,
          log: flags.quiet ? null : undefined,
          idleTimeoutMs: flags["idle-timeout"] === undefined
            ? undefined
            : duration(flags["idle-timeout"], "--idle-timeout"),
          loginTimeoutMs: flags["login-timeout"] === undefined
            ? undefined
            : duration(flags["login-timeout"], "--login-timeout"),
          maxConnections: flags["max-connections"] === undefined
            ? undefined
            : integer(flags["max-connections"], "--max-connections"),
          partialTtlMs: flags["partial-ttl"] === undefined
            ? undefined
            : duration(flags["partial-ttl"], "--partial-ttl"),
          partialLimit: flags["partial-limit"] === undefined
            ? undefined
            : size(flags["partial-limit"], "--partial-limit"),
          graceMs: flags.grace === undefined
            ? 10_000
            : duration(flags.grace, "--grace"),
          http: flags.http === undefined
            ? undefined
            : httpAddress(flags.http, flags.host ?? "0.0.0.0"),
          httpAllowBasicInsecure: flags["http-allow-basic-insecure"],
          s3: flags["s3-path-style"]
            ? { pathStyle: true }
            : flags["s3-virtual-host"]
            ? { pathStyle: false }
            : undefined,
          announce: io.out,
          watchPollMs: flags["watch-poll"] === undefined
            ? undefined
            : seconds(flags["watch-poll"], "--watch-poll"),
        });
        return 0;
      case "connect":
        if (flags.help) return io.out(CONNECT_HELP), 0;
        if (rest.length === 0) throw new UsageError("connect needs a HOST");
        if (flags.ca !== undefined && flags.fingerprint !== undefined) {
          throw new UsageError("--ca and --fingerprint cannot go together");
        }
        if (flags.b !== undefined && rest.length > 1) {
          throw new UsageError(
            "-b FILE takes the commands from FILE, not after HOST",
          );
        }
        await connectCommand({
          target: rest[0],
          command: rest.slice(1),
          batch: flags.b,
          verbose: flags.verbose,
          timeoutMs: flags.timeout === undefined
            ? undefined
            : seconds(flags.timeout, "--timeout"),
          tls: {
            tls: flags.tls,
            fingerprint: flags.fingerprint === undefined
              ? undefined
              : normalizeFingerprint(flags.fingerprint),
            caFile: flags.ca,
          },
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
          checksum: checksumFlag(flags.checksum),
          compress: compressAuto ? "auto" : flags.compress ? "on" : undefined,
          mirror: mirrorFlags(flags, flags.r || flags.recursive),
        });
        return 0;
      case "user": {
        if (flags.help) return io.out(USER_HELP), 0;
        const [action, name, ...extra] = rest;
        const takesName = action === "add" || action === "remove";
        if (action !== "list" && !takesName) {
          throw new UsageError(
            action === undefined
              ? "user needs add, remove or list"
              : `unknown user command "${action}"`,
          );
        }
        if (takesName ? name === undefined || extra.length > 0 : name) {
          throw new UsageError(
            takesName
              ? `user ${action} takes one NAME`
              : "user list takes no NAME",
          );
        }
        if (flags.users === undefined) {
          throw new UsageError("user needs --users FILE");
        }
        await userCommand({
          action: action as UserAction,
          name,
          usersFile: flags.users,
          readOnly: flags["read-only"],
          replace: flags.replace,
          print: io.out,
        });
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${subcommand}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`fts: ${error.message}`);
      io.err(tryHelp(subcommand));
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

const HELP: Record<string, string> = {
  serve: SERVE_HELP,
  connect: CONNECT_HELP,
  user: USER_HELP,
  "known-hosts": KNOWN_HOSTS_HELP,
};

/** The one line after a usage error that says where the details are. */
function tryHelp(subcommand: string | undefined): string {
  return subcommand !== undefined && Object.hasOwn(HELP, subcommand)
    ? `try 'fts ${subcommand} --help'`
    : "try 'fts --help'";
}

function oneLine(error: unknown): string {
  // Reasons may come from the server: never let them drive the terminal.
  if (error instanceof FtsError) return safeText(error.message);
  // Meant to be loud: several lines naming both certificates.
  if (error instanceof HostKeyMismatchError) return error.message;
  if (error instanceof Deno.errors.AddrInUse) {
    return "cannot listen: the address is already in use (try --port)";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `cannot continue: permission denied (${error.message})`;
  }
  return safeText(error instanceof Error ? error.message : String(error));
}

function seconds(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value > 0)) {
    throw new UsageError(`${flag} takes a number of seconds, not "${text}"`);
  }
  return value * 1000;
}

/** `--http [HOST:]PORT`; without a host, the one of `--host`. */
function httpAddress(
  text: string,
  defaultHost: string,
): { hostname: string; port: number } {
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(text);
  if (!match) {
    throw new UsageError(`--http takes [HOST:]PORT, not "${text}"`);
  }
  return {
    hostname: match[1] || defaultHost,
    port: integer(match[2], "--http"),
  };
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

function size(text: string, flag: string): number {
  try {
    return parseRate(text.replace(/\/s$/i, "") + "");
  } catch {
    throw new UsageError(
      `${flag} takes a size such as 500M or 10G, not "${text}"`,
    );
  }
}

function checksumFlag(text: string | undefined): Checksum | undefined {
  if (text === undefined || isChecksum(text)) return text;
  throw new UsageError(`--checksum takes xxh128 or sha256, not "${text}"`);
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
