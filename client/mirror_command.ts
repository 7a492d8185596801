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
import { UsageError } from "./usage_error.ts";

/** The flags, for the shell's parser (`max-delete` takes a value). */
export const MIRROR_FLAGS = [
  "delete",
  "dry-run",
  "n",
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

/**
 * The mirror flags among parsed `flags`, or undefined when there are none
 * (a plain tree transfer).
 *
 * @throws {UsageError} for flags that do not go together.
 */
export function mirrorFlags(
  flags: Record<string, unknown>,
  recursive: boolean,
): MirrorFlags | undefined {
  const dryRun = Boolean(flags.n || flags["dry-run"]);
  const del = Boolean(flags.delete);
  const watch = Boolean(flags.watch);
  const max = flags["max-delete"];
  if (!del && !dryRun && !watch) {
    if (max !== undefined) throw new UsageError("--max-delete needs --delete");
    if (flags.force) throw new UsageError("--force needs --delete");
    return undefined;
  }
  const used = del ? "--delete" : dryRun ? "--dry-run" : "--watch";
  if (!recursive) throw new UsageError(`${used} needs -r (a folder tree)`);
  if (watch && dryRun) {
    throw new UsageError("--watch and --dry-run cannot go together");
  }
  let maxDelete: number | undefined;
  if (max !== undefined) {
    if (!del) throw new UsageError("--max-delete needs --delete");
    const text = String(max);
    if (!/^\d+$/.test(text)) {
      throw new UsageError(`--max-delete takes a whole number, not "${text}"`);
    }
    maxDelete = Number(text);
  }
  return {
    delete: del,
    dryRun,
    maxDelete,
    force: Boolean(flags.force),
    watch,
    verbose: Boolean(flags.verbose),
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
