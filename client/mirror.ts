/**
 * `put -r --delete` and `get -r --delete` (and `-n` / `--dry-run` for
 * either): make the target equal to the source. The transfer is the usual
 * tree transfer; then the target's entries that the source lacks are
 * removed, after the transfers landed, in one `tree-delete` round trip on
 * the server or on the local disk.
 *
 * Safety first: a dry run only lists; `--max-delete N` refuses the whole
 * deletion step past N entries; part of the source unreadable (a folder,
 * a vanished file, a file that failed) skips deletion for the run; an
 * empty source needs `--force` to empty the target.
 *
 * @module
 */

import { resolve } from "@std/path";
import { NotFoundError, type TreeItem } from "../protocol/mod.ts";
import { jsonLines } from "../transfer/tree/tree_manifest.ts";
import { type Connection, unexpected } from "./connection.ts";
import {
  DeletionSkippedError,
  EmptySourceError,
  TooManyDeletionsError,
  UnsupportedByServerError,
} from "./mirror_errors.ts";
import { deleteLocal } from "./mirror_local.ts";
import {
  type Extras,
  extrasOf,
  itemize,
  planMirror,
  type PlannedChange,
} from "./mirror_plan.ts";
import type { Reporter } from "./reporter.ts";
import { safeJson, safeText } from "./safe_text.ts";
import {
  downloadTree,
  listTree,
  TREE_PARTIAL_PREFIX,
} from "./tree_download.ts";
import type { OpenConnection, TreeOptions } from "./tree_progress.ts";
import { sendChanged } from "./mirror_send.ts";
import { type LocalTree, walkLocalTree } from "./tree_walk.ts";
import { localError } from "./local_errors.ts";

/** The mirror flags of `put -r` and `get -r`. */
export interface MirrorOptions {
  /** Remove what the source lacks (`--delete`). */
  delete: boolean;
  /** Only list the changes (`-n`, `--dry-run`). */
  dryRun: boolean;
  /** Refuse the deletion step when more would go (`--max-delete N`). */
  maxDelete?: number;
  /** Let an empty source empty the target (`--force`). */
  force: boolean;
}

/** What a mirror needs besides its paths. */
export interface MirrorContext {
  connection: Connection;
  options: TreeOptions & {
    json: boolean;
    /** Aborted when the user interrupts (the shell's Ctrl-C). */
    interrupt?: AbortSignal;
  };
  mirror: MirrorOptions;
  reporter: Reporter;
  /** Prints a dry run's lines (stdout). */
  print: (text: string) => void;
  openExtra?: OpenConnection;
}

/** `put -r [--delete] [-n] LOCAL REMOTE`. */
export async function mirrorPut(
  local: string,
  remote: string,
  context: MirrorContext,
): Promise<void> {
  const { connection, mirror, reporter } = context;
  const action = `put -r --delete "${local}"`;
  if (mirror.delete) requireDelete(connection, action);
  // The server lists its tree while this end walks the local one.
  const listing = remoteItems(connection, remote, action);
  listing.catch(() => {});
  const tree = walk(local, `put -r "${local}"`);
  const target = await listing ?? [];
  if (mirror.dryRun) {
    printPlan(
      context,
      planMirror(localItems(tree), target, mirror.delete),
      "<",
    );
    const unreadable = unreadableLocal(tree);
    if (mirror.delete && unreadable) skipping(reporter, unreadable);
    return;
  }
  try {
    await sendChanged(tree, target, local, remote, context);
  } catch (error) {
    if (mirror.delete) skipping(reporter, "some of it failed");
    throw error;
  }
  if (!mirror.delete) return;
  const unreadable = unreadableLocal(tree);
  if (unreadable) {
    throw new DeletionSkippedError(`${unreadable}; skipping deletion`, {
      action,
    });
  }
  const source = localItems(tree);
  const extras = extrasOf(new Set(source.map((item) => item.path)), target);
  checkDeletion(extras, source.length <= 1, `"${remote}"`, mirror, action);
  if (extras.count === 0) return;
  try {
    await connection.send({ op: "tree-delete", path: remote });
    await connection.sendBody(jsonLines(extras.top.map((item) => item.path)));
  } catch (error) {
    throw connection.wrap(error, action);
  }
  const reply = await connection.reply(action);
  if (reply.op !== "tree-deleted") throw unexpected(reply, action);
  for (const failure of reply.failed) {
    report(reporter, `cannot delete "${failure.path}": ${failure.reason}`);
  }
  const failed = reply.failed.length + (reply.more ?? 0);
  deletedLine(reporter, extras, failed, action);
}

/** `get -r [--delete] [-n] REMOTE LOCAL`. */
export async function mirrorGet(
  remote: string,
  local: string,
  context: MirrorContext,
): Promise<void> {
  const { connection, mirror, reporter } = context;
  const action = `get -r --delete "${remote || "/"}"`;
  if (mirror.dryRun) {
    const source = await listTree(connection, remote, `get -r "${remote}"`);
    const target = localTarget(local);
    printPlan(
      context,
      planMirror(source, target?.items ?? [], mirror.delete),
      ">",
    );
    const unreadable = source.filter((item) => item.error).length;
    if (mirror.delete && unreadable > 0) {
      skipping(reporter, `${unreadable} remote folders could not be read`);
    }
    return;
  }
  let source: TreeItem[] | undefined;
  try {
    await downloadTree(
      connection,
      remote,
      local,
      { ...context.options, onListing: (items) => source = items },
      reporter,
      context.openExtra,
    );
  } catch (error) {
    if (mirror.delete && source) skipping(reporter, "some of it failed");
    throw error;
  }
  if (!mirror.delete || !source) return;
  const unreadable = source.filter((item) => item.error).length;
  if (unreadable > 0) {
    throw new DeletionSkippedError(
      `${unreadable} remote folders could not be read; skipping deletion`,
      { action },
    );
  }
  const target = localTarget(local);
  if (!target) return;
  const extras = extrasOf(
    new Set(source.map((item) => item.path)),
    target.items,
    (path) => path.startsWith(TREE_PARTIAL_PREFIX) && !path.includes("/"),
  );
  checkDeletion(extras, source.length <= 1, `"${local}"`, mirror, action);
  if (extras.count === 0) return;
  const result = await deleteLocal(target.root, extras.top);
  for (const failure of result.failed) {
    report(reporter, `cannot delete "${failure.path}": ${failure.reason}`);
  }
  deletedLine(reporter, extras, result.failed.length, action);
}

/**
 * Refuses `--delete` on a server that does not announce it.
 *
 * @throws {UnsupportedByServerError}
 */
export function requireDelete(connection: Connection, action: string): void {
  if (!connection.welcome.features.includes("delete")) {
    throw new UnsupportedByServerError(
      "the server does not support --delete (it is older than this client)",
      { action },
    );
  }
}

/**
 * Throws when the deletion step must not run: more than `--max-delete`
 * entries, or an empty source that would empty the target without
 * `--force`.
 */
function checkDeletion(
  extras: Extras,
  sourceEmpty: boolean,
  target: string,
  mirror: MirrorOptions,
  action: string,
): void {
  if (extras.count === 0) return;
  if (sourceEmpty && !mirror.force) {
    throw new EmptySourceError(
      `the source is empty: this would delete all ${extras.count} entries of ${target}; add --force if that is meant`,
      { action },
    );
  }
  if (mirror.maxDelete !== undefined && extras.count > mirror.maxDelete) {
    throw new TooManyDeletionsError(
      `${extras.count} entries would be deleted, more than --max-delete ${mirror.maxDelete}; deleted nothing`,
      { action },
    );
  }
}

function deletedLine(
  reporter: Reporter,
  extras: Extras,
  failed: number,
  action: string,
): void {
  if (failed > 0) {
    throw new DeletionSkippedError(
      `${failed} of ${extras.top.length} deletions failed`,
      { action },
    );
  }
  reporter.info(
    `deleted ${extras.count} ${extras.count === 1 ? "entry" : "entries"}`,
  );
}

function skipping(reporter: Reporter, why: string): void {
  report(reporter, `${why}; skipping deletion`);
}

function report(reporter: Reporter, text: string): void {
  if (reporter.error) reporter.error(text);
  else reporter.info(text);
}

/** What part of a local source could not be read, or "". */
function unreadableLocal(tree: LocalTree): string {
  const parts = [
    tree.unreadable.length > 0
      ? `${tree.unreadable.length} local folders could not be read`
      : "",
    tree.vanished.length > 0
      ? `${tree.vanished.length} local files vanished while listed`
      : "",
  ].filter((part) => part !== "");
  return parts.join(" and ");
}

/** Every entry of a walked local tree, as a manifest. */
function localItems(tree: LocalTree): TreeItem[] {
  return [...tree.dirs, ...tree.files, ...tree.skipped];
}

function walk(local: string, action: string): LocalTree {
  try {
    return walkLocalTree(local);
  } catch (error) {
    throw localError(error, action);
  }
}

/** The local target's entries, or null when it does not exist yet. */
function localTarget(
  local: string,
): { root: string; items: TreeItem[] } | null {
  try {
    const tree = walkLocalTree(local);
    return { root: tree.root, items: localItems(tree) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw localError(error, `read "${resolve(local)}"`);
  }
}

/** The remote tree's entries, or null when it does not exist yet. */
async function remoteItems(
  connection: Connection,
  remote: string,
  action: string,
): Promise<TreeItem[] | null> {
  try {
    return await listTree(connection, remote, action);
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

function printPlan(
  context: MirrorContext,
  changes: PlannedChange[],
  direction: "<" | ">",
): void {
  const lines = changes.map((change) =>
    context.options.json
      ? safeJson(change, 0)
      : safeText(itemize(change, direction))
  );
  if (lines.length > 0) context.print(lines.join("\n"));
  context.reporter.info(
    `dry run: ${changes.length} ${
      changes.length === 1 ? "change" : "changes"
    }, nothing changed`,
  );
}
