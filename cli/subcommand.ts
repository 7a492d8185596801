/**
 * What `main.ts` dispatches to: a subcommand with its help, its flag spec
 * and the function that runs it. The modules in client/ and server/ each
 * export one; main.ts keeps only the table.
 *
 * @module
 */

import type { FlagSpec, ParsedArgs } from "./flags.ts";

/** Where a subcommand writes its output and messages. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** One subcommand of fts (`serve`, `connect`, ...). */
export interface Subcommand<S extends FlagSpec = FlagSpec> {
  /** `fts serve [DIR] [options]`, for the list in `fts --help`. */
  usage: string;
  /** What it does, in a few words. */
  summary: string;
  /** The text of `fts SUBCOMMAND --help`. */
  help: string;
  /** The flags it takes (`--help` and `--debug` are added for every one). */
  flags: S;
  /** Runs it; throws a UsageError for a bad command line. */
  run(parsed: ParsedArgs<S>, io: CliIo): Promise<void>;
}

/** Declares a subcommand, keeping its flag spec's types for `run`. */
export function subcommand<S extends FlagSpec>(
  definition: Subcommand<S>,
): Subcommand<S> {
  return definition;
}
