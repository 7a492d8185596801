/**
 * The deletion step of a mirror, decided before anything is sent: which
 * target entries the source lacks (rsync's `--delete`), which stand in the
 * way of a source entry of another type (a folder where the source has a
 * file, a file where it has a folder: removed first, as rsync does, so the
 * source's entry can take their place), and whether the step may run at
 * all (part of the source unreadable, more than `--max-delete`, an empty
 * source without `--force`). Also the one `tree-delete` round trip that
 * removes a list of entries on the server.
 *
 * @module
 */

import type { FtsError, TreeFailure, TreeItem } from "../protocol/mod.ts";
import { jsonLines } from "../transfer/tree/tree_manifest.ts";
import { type Connection, unexpected } from "./connection.ts";
import {
  DeletionSkippedError,
  EmptySourceError,
  TooManyDeletionsError,
} from "./mirror_errors.ts";
import { conflictsOf, type Extras, extrasOf, typesOf } from "./mirror_plan.ts";
import type { MirrorOptions } from "./mirror.ts";
import type { Reporter } from "./reporter.ts";

/** What a mirror's deletion step will do, or why it will not run. */
export interface DeletionPlan {
  /** Every entry that goes (what `--max-delete` counts), conflicts included. */
  extras: Extras;
  /** Entries in the way of a source entry of another type: removed first. */
  conflicts: TreeItem[];
  /** The topmost entries removed after the transfers landed. */
  rest: TreeItem[];
  /** Set when the step must not run: nothing at all is removed then. */
  refused?: FtsError;
}

/** `items` without the entries at or under any of `paths`. */
export function withoutUnder(
  items: readonly TreeItem[],
  paths: ReadonlySet<string>,
): TreeItem[] {
  if (paths.size === 0) return [...items];
  return items.filter((item) => {
    for (let at = item.path; at !== ""; at = at.slice(0, at.lastIndexOf("/"))) {
      if (paths.has(at)) return false;
      if (!at.includes("/")) break;
    }
    return true;
  });
}

/** What {@linkcode planDeletion} needs besides the two trees. */
export interface DeletionScope {
  /** Why part of the source could not be read, or "" when all of it was. */
  unreadable: string;
  /** The target as messages name it, e.g. `"www"`. */
  where: string;
  mirror: MirrorOptions;
  action: string;
  /** Target names that are never extra (the client's staging folders). */
  keep?: (path: string) => boolean;
}

/**
 * The deletion step for `source` onto `target`: refused (and then nothing
 * is removed, conflicts neither) when part of the source was unreadable,
 * when more than `--max-delete` entries would go, or when an empty source
 * would empty the target without `--force`.
 */
export function planDeletion(
  source: readonly TreeItem[],
  target: readonly TreeItem[],
  scope: DeletionScope,
): DeletionPlan {
  // One map of the source serves both questions (two sets of 200,000
  // paths cost more than the rest of the plan).
  const types = typesOf(source);
  const conflicts = conflictsOf(types, target);
  const clashing = new Set(conflicts.map((item) => item.path));
  const names = {
    has: (path: string) => types.has(path) && !clashing.has(path),
  };
  const extras = extrasOf(names, target, scope.keep);
  const rest = extras.top.filter((item) => !clashing.has(item.path));
  const refused = refusal(extras, source.length <= 1, scope);
  return refused
    ? { extras, conflicts: [], rest: [], refused }
    : { extras, conflicts, rest };
}

/** Why the deletion step must not run, or undefined when it may. */
function refusal(
  extras: Extras,
  sourceEmpty: boolean,
  { unreadable, where, mirror, action }: DeletionScope,
): FtsError | undefined {
  if (unreadable) {
    return new DeletionSkippedError(`${unreadable}; skipping deletion`, {
      action,
    });
  }
  if (extras.count === 0) return undefined;
  if (sourceEmpty && !mirror.force) {
    return new EmptySourceError(
      `the source is empty: this would delete all ${extras.count} entries of ${where}; add --force if that is meant`,
      { action },
    );
  }
  if (mirror.maxDelete !== undefined && extras.count > mirror.maxDelete) {
    return new TooManyDeletionsError(
      `${extras.count} entries would be deleted, more than --max-delete ${mirror.maxDelete}; deleted nothing`,
      { action },
    );
  }
  return undefined;
}

/** What a `tree-delete` could not remove. */
export interface RemoteDeleted {
  failed: TreeFailure[];
  /** Failures beyond the ones named. */
  more: number;
}

/**
 * Removes `paths` (relative to the remote folder `remote`) on the server
 * in one `tree-delete` round trip.
 */
export async function deleteRemote(
  connection: Connection,
  remote: string,
  paths: readonly string[],
  action: string,
): Promise<RemoteDeleted> {
  try {
    await connection.send({ op: "tree-delete", path: remote });
    await connection.sendBody(jsonLines(paths));
  } catch (error) {
    throw connection.wrap(error, action);
  }
  const reply = await connection.reply(action);
  if (reply.op !== "tree-deleted") throw unexpected(reply, action);
  return { failed: reply.failed, more: reply.more ?? 0 };
}

/**
 * Names each failed removal on its own line; returns how many failed.
 */
export function reportFailed(
  reporter: Reporter,
  failed: readonly { path: string; reason: string }[],
  more = 0,
): number {
  for (const failure of failed) {
    report(reporter, `cannot delete "${failure.path}": ${failure.reason}`);
  }
  return failed.length + more;
}

/**
 * Ends the deletion step: `deleted N entries`, or the error counting the
 * removals that failed.
 *
 * @throws {DeletionSkippedError} when any failed.
 */
export function deletedLine(
  reporter: Reporter,
  plan: DeletionPlan,
  failed: number,
  action: string,
): void {
  if (failed > 0) {
    const total = plan.rest.length + plan.conflicts.length;
    throw new DeletionSkippedError(`${failed} of ${total} deletions failed`, {
      action,
    });
  }
  const count = plan.extras.count;
  if (count === 0) return;
  reporter.info(`deleted ${count} ${count === 1 ? "entry" : "entries"}`);
}

/** An error line (stderr), or an info line where the reporter has none. */
export function report(reporter: Reporter, text: string): void {
  if (reporter.error) reporter.error(text);
  else reporter.info(text);
}
