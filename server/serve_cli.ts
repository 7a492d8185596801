/**
 * The command line of `fts serve`: its help, its flags, and how they become
 * {@linkcode ServeCommandOptions}.
 *
 * @module
 */

import {
  flag,
  MAX_TIMER_MS,
  port,
  seconds,
  wholeNumber,
} from "../cli/flags.ts";
import { subcommand } from "../cli/subcommand.ts";
import { UsageError } from "../cli/usage_error.ts";
import { DEFAULT_PORT } from "../protocol/mod.ts";
import { parseRate } from "../transfer/rate_limit_stream.ts";
import { existingDefaultUsersFile } from "./auth/default_users.ts";

/**
 * Parses a duration such as `90`, `90s`, `30m`, `24h` or `7d` into
 * milliseconds.
 *
 * @throws {TypeError} when `text` is not a duration.
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new TypeError(`"${text}" is not a duration (try 90s, 30m, 24h)`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[
    (match[2] ?? "s") as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(match[1]) * unit;
}

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
one of the users in FILE (see "fts user --help"); without --users, the file
"users" in the configuration folder is used when it exists.

Options:
  --host HOST            address to listen on (default: every IPv6 and IPv4
                         address, :: and 0.0.0.0)
  --port PORT            port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --tls                  encrypt every connection with TLS
  --cert FILE            TLS certificate (or chain, leaf first), PEM; implies --tls
  --key FILE             the certificate's private key, PEM
  --users FILE           require a login by a user in FILE (default: the
                         configuration folder's "users", if it exists)
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
  --watch-poll SECS      watch: scan every SECS instead of using inotify
  --grace SECS           time running transfers get at shutdown (default 10);
                         a second signal stops at once
  --http [HOST:]PORT     also serve HTTP/WebDAV and the web page on PORT (off
                         by default; HTTPS with --tls; 0 picks a free port);
                         prints "fts http listening on HOST:PORT"
  --http-allow-basic-insecure
                         accept HTTP Basic logins (--users) over plain HTTP
  --http-host NAME       also accept requests for NAME (repeatable; the names
                         a reverse proxy uses); by default only this
                         machine's names and addresses and localhost
  --s3-path-style        address the bucket as ENDPOINT/BUCKET (the default
                         when AWS_ENDPOINT_URL is set)
  --s3-virtual-host      address the bucket as BUCKET.ENDPOINT (the default
                         for AWS)
  --debug                show stack traces`;

/** A duration (`90`, `90s`, `30m`, `24h`) a timer can wait for. */
function timerDuration(text: string): number {
  const ms = parseDuration(text);
  if (!(ms > 0) || ms > MAX_TIMER_MS) throw new RangeError(text);
  return ms;
}

/** How long interrupted uploads are kept: up to ten years. */
function keepDuration(text: string): number {
  const ms = parseDuration(text);
  if (!(ms > 0) || ms > 3650 * 86_400_000) throw new RangeError(text);
  return ms;
}

/** A duration that may be zero (`--grace 0`: stop at once). */
function graceDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms > MAX_TIMER_MS) throw new RangeError(text);
  return ms;
}

const DURATION = "a duration such as 90s, 30m or 24h";

/** `--http [HOST:]PORT`; the host is checked against `--host` later. */
function httpAddress(text: string): { hostname?: string; port: number } {
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(text);
  if (!match) throw new TypeError(text);
  return { hostname: match[1] || undefined, port: port(match[2]) };
}

/** `fts serve`'s flags; add new ones here. */
export const SERVE_FLAGS = {
  host: flag.text("a host name or address"),
  port: flag.value(port, "a port from 0 to 65535"),
  tls: flag.boolean(),
  cert: flag.text("a PEM file"),
  key: flag.text("a PEM file"),
  users: flag.text("a users file"),
  "read-only": flag.boolean(),
  quiet: flag.boolean(),
  "idle-timeout": flag.value(timerDuration, DURATION),
  "login-timeout": flag.value(timerDuration, DURATION),
  "max-connections": flag.value(
    wholeNumber(1, 1_000_000),
    "a number of connections from 1 to 1000000",
  ),
  "partial-ttl": flag.value(keepDuration, DURATION),
  "partial-limit": flag.value(
    (text) => parseRate(text.replace(/\/s$/i, "")),
    "a size such as 500M or 10G",
  ),
  grace: flag.value(graceDuration, DURATION),
  "watch-poll": flag.value(seconds, "a number of seconds"),
  http: flag.value(httpAddress, "[HOST:]PORT with a port from 0 to 65535"),
  "http-allow-basic-insecure": flag.boolean(),
  "http-host": flag.list("a host name"),
  "s3-path-style": flag.boolean(),
  "s3-virtual-host": flag.boolean(),
};

/** `fts serve`. */
export const SERVE = subcommand({
  usage: "fts serve [DIR] [options]",
  summary: "serve DIR (default ./data)",
  help: SERVE_HELP,
  flags: SERVE_FLAGS,
  async run({ flags, positional }, io) {
    if (positional.length > 1) {
      throw new UsageError("serve takes one folder or s3:// address");
    }
    if ((flags.cert === undefined) !== (flags.key === undefined)) {
      throw new UsageError("--cert and --key go together");
    }
    const root = positional[0] ?? "./data";
    if (root.startsWith("s3://") && flags["partial-limit"] !== undefined) {
      throw new UsageError(
        "--partial-limit caps a folder's staging area; unfinished S3 uploads are bounded by --partial-ttl",
      );
    }
    if (flags["s3-path-style"] && flags["s3-virtual-host"]) {
      throw new UsageError(
        "--s3-path-style and --s3-virtual-host cannot go together",
      );
    }
    // Without --host: every IPv6 and IPv4 address (serve_command.ts).
    const hostname = flags.host;
    // "fts user add" without --users made this file: logins from then on.
    const users = flags.users ?? await existingDefaultUsersFile();
    // Loaded only to serve: a client's start-up need not compile the server.
    const { serveCommand } = await import("./serve_command.ts");
    await serveCommand({
      root,
      hostname,
      port: flags.port ?? DEFAULT_PORT,
      readOnly: flags["read-only"],
      tls: flags.tls,
      certFile: flags.cert,
      keyFile: flags.key,
      users,
      log: flags.quiet ? null : undefined,
      idleTimeoutMs: flags["idle-timeout"],
      loginTimeoutMs: flags["login-timeout"],
      maxConnections: flags["max-connections"],
      partialTtlMs: flags["partial-ttl"],
      partialLimit: flags["partial-limit"],
      graceMs: flags.grace ?? 10_000,
      http: flags.http && { ...flags.http, hosts: flags["http-host"] },
      httpAllowBasicInsecure: flags["http-allow-basic-insecure"],
      s3: flags["s3-path-style"]
        ? { pathStyle: true }
        : flags["s3-virtual-host"]
        ? { pathStyle: false }
        : undefined,
      announce: io.out,
      watchPollMs: flags["watch-poll"],
    });
  },
});
