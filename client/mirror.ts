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
import {
  ConnectionError,
  FtsError,
  NotFoundError,
  type TreeItem,
} from "../protocol/mod.ts";
import type { Connection } from "./connection.ts";
import {
  deletedLine,
  deleteRemote,
  type DeletionPlan,
  planDeletion,
  report,
  reportFailed,
  withoutUnder,
} from "./mirror_delete.ts";
import {
  DeletionSkippedError,
  UnsupportedByServerError,
} from "./mirror_errors.ts";
import { deleteLocal } from "./mirror_local.ts";
import { itemize, planMirror, type PlannedChange } from "./mirror_plan.ts";
import type { Reporter } from "./reporter.ts";
import { safeJson, safeText } from "./safe_text.ts";
import {
  downloadTree,
  listTree,
  TREE_PARTIAL_PREFIX,
} from "./tree_download.ts";
import type { TreeOptions } from "./tree_progress.ts";
import type { OpenConnection } from "./tree_lanes.ts";
import { sendChanged } from "./mirror_send.ts";
import {
  type LocalTree,
  walkLocalTree,
  walkLocalTreeInTurns,
} from "./tree_walk.ts";
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
  const tree = await walk(local, `put -r "${local}"`);
  const target = await listing ?? [];
  const source = localItems(tree);
  const unreadable = unreadableLocal(tree);
  if (mirror.dryRun) {
    printPlan(context, planMirror(source, target, mirror.delete), "<");
    if (mirror.delete && unreadable) skipping(reporter, unreadable);
    return;
  }
  if (!mirror.delete) {
    return void await sendChanged(tree, target, local, remote, context);
  }
  const plan = planDeletion(source, target, {
    unreadable,
    where: `"${remote}"`,
    mirror,
    action,
  });
  // What stands in the way of another type goes first, so the source's
  // entry can take its place.
  const clashing = new Set(plan.conflicts.map((item) => item.path));
  let failed = 0;
  if (clashing.size > 0) {
    const result = await deleteRemote(
      connection,
      remote,
      [...clashing],
      action,
    );
    failed += reportFailed(reporter, result.failed, result.more);
  }
  const have = withoutUnder(target, clashing);
  await transfersThenDeletion(
    sendChanged(tree, have, local, remote, context),
    () => plan,
  );
  if (plan.rest.length > 0) {
    const paths = plan.rest.map((item) => item.path);
    const result = await deleteRemote(connection, remote, paths, action);
    failed += reportFailed(reporter, result.failed, result.more);
  }
  deletedLine(reporter, plan, failed, action);
}

/**
 * Runs a mirror's transfers; then throws the deletion step's refusal, if
 * any. A transfer that failed (but not a lost link, nor a listing that
 * failed before there was a `plan`) skips deletion for the run: one line
 * saying both, exit status 23.
 */
async function transfersThenDeletion(
  transfers: Promise<unknown>,
  plan: () => DeletionPlan | undefined,
): Promise<void> {
  try {
    await transfers;
  } catch (error) {
    const decided = plan();
    if (decided?.refused) throw decided.refused;
    if (
      !decided || !(error instanceof FtsError) ||
      error instanceof ConnectionError
    ) throw error;
    throw new DeletionSkippedError(`${error.reason}; skipping deletion`, {
      action: error.action,
      cause: error,
    });
  }
  const refused = plan()?.refused;
  if (refused) throw refused;
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
    const unreadable = unreadableRemote(source);
    if (mirror.delete && unreadable) skipping(reporter, unreadable);
    return;
  }
  if (!mirror.delete) {
    return void await downloadTree(
      connection,
      remote,
      local,
      context.options,
      reporter,
      context.openExtra,
    );
  }
  let plan: DeletionPlan | undefined;
  let root = "";
  let failed = 0;
  // Decided once the listing is in, before anything is received: what
  // stands in the way of another type goes first.
  const onListing = async (source: TreeItem[]) => {
    const target = localTarget(local);
    root = target?.root ?? resolve(local);
    plan = planDeletion(source, target?.items ?? [], {
      unreadable: unreadableRemote(source),
      where: `"${local}"`,
      mirror,
      action,
      keep: (path) =>
        path.startsWith(TREE_PARTIAL_PREFIX) && !path.includes("/"),
    });
    if (plan.conflicts.length === 0) return;
    const result = await deleteLocal(root, plan.conflicts);
    failed += reportFailed(reporter, result.failed);
  };
  await transfersThenDeletion(
    downloadTree(
      connection,
      remote,
      local,
      { ...context.options, onListing },
      reporter,
      context.openExtra,
    ),
    () => plan,
  );
  if (!plan) return;
  if (plan.rest.length > 0) {
    const result = await deleteLocal(root, plan.rest);
    failed += reportFailed(reporter, result.failed);
  }
  deletedLine(reporter, plan, failed, action);
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

function skipping(reporter: Reporter, why: string): void {
  report(reporter, `${why}; skipping deletion`);
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

/** What part of a remote source could not be read, or "". */
function unreadableRemote(source: readonly TreeItem[]): string {
  const count = source.filter((item) => item.error).length;
  return count > 0 ? `${count} remote folders could not be read` : "";
}

/** Every entry of a walked local tree, as a manifest. */
function localItems(tree: LocalTree): TreeItem[] {
  return [...tree.dirs, ...tree.files, ...tree.skipped];
}

/** Walks `local` while the connection reads the server's listing. */
async function walk(local: string, action: string): Promise<LocalTree> {
  try {
    return await walkLocalTreeInTurns(local);
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
