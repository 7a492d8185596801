/**
 * The mirror flags of `put -r` and `get -r` (`--delete`, `-n` /
 * `--dry-run`, `--max-delete N`, `--force`, `--watch`) as the command line
 * and the shell give them, and the dispatch to a one-off mirror or a live
 * one.
 *
 * @module
 */

import { liveMirror } from "./mirror_live.ts";
import { type MirrorContext, mirrorGet, mirrorPut } from "./mirror.ts";
import type { MirrorOptions } from "./mirror.ts";
import { UsageError } from "../cli/usage_error.ts";

/** The mirror flags' long names, for `COMMANDS` (`max-delete` takes a value). */
export const MIRROR_FLAGS = [
  "delete",
  "dry-run",
  "max-delete",
  "force",
  "watch",
];

/** The mirror flags of one command. */
export interface MirrorFlags extends MirrorOptions {
  /** Keep following the source's changes until Ctrl-C (`--watch`). */
  watch: boolean;
  /** Print a line per file sent (`-v`). */
  verbose?: boolean;
}

/** The parsed flags the mirror flags are read from. */
export interface MirrorFlagValues {
  delete: boolean;
  "dry-run": boolean;
  "max-delete": number | undefined;
  force: boolean;
  watch: boolean;
  /** `-v`, where the command line has it. */
  verbose?: boolean;
}

/**
 * The mirror flags among parsed `flags`, or undefined when there are none
 * (a plain tree transfer; `--force` alone is `rm -f`'s).
 *
 * @throws {UsageError} for flags that do not go together.
 */
export function mirrorFlags(
  flags: MirrorFlagValues,
  recursive: boolean,
): MirrorFlags | undefined {
  const { delete: del, "dry-run": dryRun, watch } = flags;
  const maxDelete = flags["max-delete"];
  if (maxDelete !== undefined && !del) {
    throw new UsageError("--max-delete needs --delete");
  }
  if (!del && !dryRun && !watch) return undefined;
  const used = del ? "--delete" : dryRun ? "--dry-run" : "--watch";
  if (!recursive) throw new UsageError(`${used} needs -r (a folder tree)`);
  if (watch && dryRun) {
    throw new UsageError("--watch and --dry-run cannot go together");
  }
  return {
    delete: del,
    dryRun,
    maxDelete,
    force: flags.force,
    watch,
    verbose: flags.verbose,
  };
}

/** Runs `put -r`/`get -r` with mirror flags: once, or live with `--watch`. */
export async function runMirror(
  direction: "put" | "get",
  source: string,
  target: string,
  context: MirrorContext & { mirror: MirrorFlags },
): Promise<void> {
  if (context.mirror.watch) {
    return await liveMirror(direction, source, target, context);
  }
  if (direction === "put") await mirrorPut(source, target, context);
  else await mirrorGet(source, target, context);
}
