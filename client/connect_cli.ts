/**
 * The command line of `fts connect`: its help, its flags (the connection's
 * and those of the remote commands), and the check that a one-shot command
 * was given only flags it uses.
 *
 * @module
 */

import { flag, seconds } from "../cli/flags.ts";
import { subcommand } from "../cli/subcommand.ts";
import { UsageError } from "../cli/usage_error.ts";
import { DEFAULT_PORT } from "../protocol/mod.ts";
import { COMMAND_FLAGS, commandSettings } from "./command_flags.ts";
import { COMMANDS } from "./commands.ts";
import { connectCommand } from "./connect_command.ts";
import { normalizeFingerprint } from "./host_trust.ts";
import { DEFAULT_PARALLEL } from "./tree_progress.ts";

const CONNECT_HELP =
  `Usage: fts connect [USER@]HOST[:PORT] [COMMAND ARGS...] [options]

Connects to an fts server (default port ${DEFAULT_PORT}). Without a COMMAND,
opens an interactive shell with the same commands plus cd, pwd, lcd, lpwd,
lls, lmkdir, !COMMAND, mput, mget, rename, help (?) and quit (bye): line
editing, history, Tab completion, globs (put *.txt expands locally; get *.log,
ls *.txt and rm *.tmp remotely; with -r folders match too), Ctrl-C stops a
transfer, Ctrl-D leaves. Remote paths start at the served folder: / is its
root. Commands piped in or given with -b FILE run as a batch that
stops at the first error (a -COMMAND may fail). HOST may be an alias from
the config file in the configuration directory (see docs/connect.md).

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

A command takes only the options it uses (ls --parallel is refused).

Options:
  --json          machine-readable output for ls and stat, and put/get's
                  summary (bytes sent and reused)
  --hash          ls/stat: include each file's SHA-256 (see --checksum)
  -r              rm: remove a folder and its contents; put/get: a folder tree
  --parallel N    put -r/get -r: use N connections at once (default ${DEFAULT_PARALLEL});
                  -P is refused: to scp users it is the port (write HOST:PORT)
  --delete        put -r/get -r: mirror: also remove what the source lacks
  -n, --dry-run   put -r/get -r: list each change (rsync -i marks), change nothing
  --max-delete N  with --delete: refuse the deletion step past N entries
  --force         with --delete: let an empty source empty the target
                  (exit status 23: deletion skipped for an error; 25: a
                  limit above stopped it, as rsync's)
  --watch         put -r/get -r: keep the copy live until Ctrl-C
                  (see docs/mirror.md)
  --no-clobber    put/get: refuse to replace an existing target
  --no-resume     put/get: start over instead of resuming
  --whole-file    put/get: send whole files, even where the other side
                  holds another version (by default only changes go;
                  see docs/delta.md)
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

/** The flags of the connection itself, whatever the command. */
const CONNECTION_FLAGS = {
  tls: flag.boolean(),
  fingerprint: flag.value(normalizeFingerprint, "a fingerprint SHA256:..."),
  ca: flag.text("a PEM file"),
  timeout: flag.value(seconds, "a number of seconds up to 2147483"),
  b: flag.text("a file of commands (- is stdin)"),
  verbose: flag.boolean("v"),
  quiet: flag.boolean(),
};

/** `fts connect`'s flags; add connection flags above, command flags in command_flags.ts. */
export const CONNECT_FLAGS = { ...CONNECTION_FLAGS, ...COMMAND_FLAGS };

/**
 * Refuses a command flag the one-shot command does not use (`ls -r`), as
 * the shell does.
 */
function checkCommandFlags(
  name: string,
  given: { name: string; typed: string }[],
): void {
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!spec) return;
  for (const { name: flagName, typed } of given) {
    if (!Object.hasOwn(COMMAND_FLAGS, flagName)) continue;
    if (!spec.flags.includes(flagName)) {
      throw new UsageError(`${name} does not take ${typed}`);
    }
  }
}

/** `fts connect`. */
export const CONNECT = subcommand({
  usage: "fts connect [USER@]HOST[:PORT] [COMMAND ...]",
  summary: "run COMMAND, or open a shell",
  help: CONNECT_HELP,
  flags: CONNECT_FLAGS,
  async run({ flags, positional, given }) {
    if (positional.length === 0) throw new UsageError("connect needs a HOST");
    if (flags.ca !== undefined && flags.fingerprint !== undefined) {
      throw new UsageError("--ca and --fingerprint cannot go together");
    }
    if (flags.b !== undefined && positional.length > 1) {
      throw new UsageError(
        "-b FILE takes the commands from FILE, not after HOST",
      );
    }
    const [target, ...command] = positional;
    if (command.length > 0) checkCommandFlags(command[0], given);
    await connectCommand({
      ...commandSettings(flags, {
        json: false,
        hash: false,
        recursive: false,
        noClobber: false,
        resume: true,
        verify: true,
        parallel: DEFAULT_PARALLEL,
      }),
      target,
      command,
      batch: flags.b,
      verbose: flags.verbose,
      timeoutMs: flags.timeout,
      tls: {
        tls: flags.tls,
        fingerprint: flags.fingerprint,
        caFile: flags.ca,
      },
      quiet: flags.quiet,
    });
  },
});
