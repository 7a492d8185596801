/**
 * fts: fast, safe file transfer. This module only dispatches: each
 * subcommand (server/ or client/) owns its help and its flags, and main.ts
 * parses the command line against them and prints errors.
 *
 * @module
 */

import {
  flag,
  type FlagSpec,
  type ParsedArgs,
  parseFlags,
} from "./cli/flags.ts";
import type { CliIo, Subcommand } from "./cli/subcommand.ts";
import { closest } from "./cli/suggest.ts";
import { UsageError } from "./cli/usage_error.ts";
import { CONNECT } from "./client/connect_cli.ts";
import { KNOWN_HOSTS } from "./client/known_hosts_command.ts";
import { HostKeyMismatchError } from "./client/known_hosts.ts";
import { safeText } from "./client/safe_text.ts";
import { FtsError } from "./protocol/mod.ts";
import { USER } from "./server/auth/user_cli.ts";
import { SERVE } from "./server/serve_cli.ts";
import { VERSION } from "./version.ts";

/** Every subcommand, by name. */
const SUBCOMMANDS: Record<string, Subcommand> = {
  serve: SERVE as Subcommand,
  connect: CONNECT as Subcommand,
  user: USER as Subcommand,
  "known-hosts": KNOWN_HOSTS as Subcommand,
};

/** Flags every subcommand takes. */
const COMMON_FLAGS = {
  help: flag.boolean("h"),
  debug: flag.boolean(),
};

/** Flags before (or instead of) a subcommand. */
const TOP_FLAGS = { ...COMMON_FLAGS, version: flag.boolean("V") };

const MAIN_HELP = `fts ${VERSION}: fast, safe file transfer

Usage:
${
  Object.values(SUBCOMMANDS).map((s) => `  ${s.usage.padEnd(46)}${s.summary}`)
    .join("\n")
}
  fts help [COMMAND] | --version | --help

Run "fts help serve", "fts help connect", "fts help user" or
"fts help known-hosts" for details.`;

/** Where `main` writes; tests pass their own. */
export type MainIo = CliIo;

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
  // The first word that is no flag, or after flags that took values
  // (fts --timeout 5 connect ...) the first naming a subcommand.
  let at = args.findIndex((arg) => !arg.startsWith("-") || arg === "-");
  if (at >= 0 && !Object.hasOwn(SUBCOMMANDS, args[at]) && args[at] !== "help") {
    const named = args.findIndex((arg) => Object.hasOwn(SUBCOMMANDS, arg));
    if (named >= 0) at = named;
  }
  const name: string | undefined = args[at];
  const sub = at >= 0 && Object.hasOwn(SUBCOMMANDS, name)
    ? SUBCOMMANDS[name]
    : undefined;
  let debug = args.includes("--debug");
  try {
    if (!sub) return topLevel(args, at, io);
    const spec: FlagSpec = { ...COMMON_FLAGS, ...sub.flags };
    const parsed = parseFlags(spec, args.filter((_, i) => i !== at), {
      command: name,
      elsewhere: (arg) => flagOfAnother(arg),
    });
    debug = Boolean(parsed.flags.debug);
    if (parsed.flags.help) return io.out(sub.help), 0;
    await sub.run(parsed as ParsedArgs<FlagSpec>, io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`fts: ${error.message}`);
      io.err(sub ? `try 'fts ${name} --help'` : "try 'fts --help'");
      return 2;
    }
    if (debug) {
      io.err(
        error instanceof Error ? error.stack ?? error.message : String(error),
      );
    } else io.err(`fts: ${oneLine(error)}`);
    return exitStatus(error);
  }
}

/**
 * The exit status for a failed command: an error that names its own (130
 * for Ctrl-C, as shells report a program ended by SIGINT; 23 and 25 for a
 * mirror's skipped or refused deletion, as rsync's), else 1.
 */
function exitStatus(error: unknown): number {
  if (error instanceof FtsError && "exitCode" in error) {
    const code = error.exitCode;
    if (typeof code === "number") return code;
  }
  return 1;
}

/** `fts`, `fts --version`, `fts help [COMMAND]`, or an unknown command. */
function topLevel(args: string[], at: number, io: MainIo): number {
  const { flags, positional } = parseFlags(TOP_FLAGS, args);
  const [name, ...rest] = positional;
  if (flags.version) return io.out(`fts ${VERSION}`), 0;
  if (name === undefined) {
    io.out(MAIN_HELP);
    return flags.help ? 0 : 2;
  }
  if (name === "help") {
    const text = rest[0] === undefined
      ? MAIN_HELP
      : Object.hasOwn(SUBCOMMANDS, rest[0])
      ? SUBCOMMANDS[rest[0]].help
      : undefined;
    if (text === undefined || rest.length > 1) {
      throw new UsageError(`no help for "${rest.join(" ")}"`);
    }
    io.out(text);
    return 0;
  }
  const near = closest(args[at], [...Object.keys(SUBCOMMANDS), "help"]);
  throw new UsageError(
    `unknown command "${name}"${near ? ` (did you mean ${near}?)` : ""}`,
  );
}

/** Whether some subcommand takes `arg` (`--parallel`, `-r`). */
function flagOfAnother(arg: string): boolean {
  const name = arg.replace(/^--?/, "");
  return Object.values(SUBCOMMANDS).some((sub) =>
    Object.entries(sub.flags).some(([long, f]) =>
      arg.startsWith("--") ? long === name : long === name || f.short === name
    )
  );
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

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
