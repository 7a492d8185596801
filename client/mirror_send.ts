/**
 * The transfer step of `put -r --delete`, quick-checked on the client: the
 * remote tree's listing (which the deletion step needs anyway) tells which
 * files and folders differ, and only those go in the tree upload. A mirror
 * with nothing to send then costs one listing instead of a listing plus a
 * full manifest checked folder by folder on the server.
 *
 * @module
 */

import type { TreeItem } from "../protocol/mod.ts";
import { isUpToDate } from "../transfer/tree/tree_files.ts";
import type { MirrorContext } from "./mirror.ts";
import { join } from "@std/path";
import * as posix from "@std/path/posix";
import type { Reporter } from "./reporter.ts";
import { uploadTree } from "./tree_upload.ts";
import { upload } from "./upload.ts";
import type { LocalTree } from "./tree_walk.ts";

/**
 * Sends the files of `tree` that `target` (the remote listing, empty when
 * the folder does not exist yet) lacks or holds in another version, and
 * the folders that are new, differ, or get files (their times are set
 * again after).
 */
export async function sendChanged(
  tree: LocalTree,
  target: readonly TreeItem[],
  local: string,
  remote: string,
  context: MirrorContext,
): Promise<void> {
  const have = new Map(target.map((item) => [item.path, item]));
  const files = tree.files.filter((item) =>
    !isUpToDate(have.get(item.path), item)
  );
  const touched = new Set(
    files.map((item) =>
      item.path.slice(0, Math.max(0, item.path.lastIndexOf("/")))
    ),
  );
  const dirs = tree.dirs.filter((item) => {
    const old = have.get(item.path);
    return old?.type !== "dir" || old.mtime !== item.mtime ||
      (item.mode !== null && old.mode !== null && old.mode !== item.mode) ||
      touched.has(item.path);
  });
  const upToDate = tree.files.length - files.length;
  if (
    files.length === 0 && dirs.length === 0 &&
    tree.unreadable.length === 0 && tree.skipped.length === 0
  ) {
    context.reporter.info(
      `all ${upToDate} ${upToDate === 1 ? "file" : "files"} already up to date`,
    );
    return;
  }
  await sendFiles(local, remote, { ...tree, files, dirs }, context);
  if (upToDate > 0) {
    context.reporter.info(
      upToDate === 1
        ? "1 other file was already up to date"
        : `${upToDate} other files were already up to date`,
    );
  }
}

/** Files from this size on go one by one, each resumable. */
export const RESUMABLE_SIZE = 32 * 1024 * 1024;

/**
 * Sends `tree` (already narrowed to what must go): small files in one tree
 * upload, files of {@linkcode RESUMABLE_SIZE} or more each as a resumable
 * put, so a large file cut off by a lost link continues where it stopped
 * when sent again (a tree upload would start it over). `loud` reports
 * those puts (their progress and resumes).
 */
export async function sendFiles(
  local: string,
  remote: string,
  tree: LocalTree,
  context: MirrorContext,
  loud: Reporter = context.reporter,
): Promise<void> {
  const large = tree.files.filter((item) => item.size >= RESUMABLE_SIZE);
  const small = tree.files.filter((item) => item.size < RESUMABLE_SIZE);
  if (small.length > 0 || tree.dirs.length > 0 || large.length === 0) {
    await uploadTree(
      context.connection,
      local,
      remote,
      { ...context.options, tree: { ...tree, files: small } },
      context.reporter,
      context.openExtra,
    );
  }
  const { connection } = context;
  for (const item of large) {
    const target = posix.join(remote || ".", item.path);
    const parent = posix.dirname(target);
    if (parent !== ".") await connection.mkdir(parent);
    await upload(
      connection,
      join(local, item.path),
      target,
      { ...context.options, resume: true, noClobber: false },
      loud,
    );
  }
}
