/**
 * `tree-get` on the server: the listing of a folder tree, without following
 * symlinks, streamed as the storage core walks it (a thousand JSON lines at
 * a time), so a listing of 200,000 files is never held whole.
 *
 * @module
 */

import {
  type Entry,
  type TreeGetRequest,
  type TreeItem,
  WrongTypeError,
} from "../../protocol/mod.ts";
import type { WalkItem } from "../storage/store.ts";
import { fsError } from "../storage/fs_errors.ts";
import { normalizePath } from "../storage/remote_path.ts";
import type { Outcome, RequestIo } from "./request_io.ts";

/**
 * Serves `tree-get`: lists the tree without following symlinks, streamed
 * as it is walked. A folder that cannot be read is listed with its error,
 * and the rest still comes.
 */
export async function treeList(
  io: RequestIo,
  request: TreeGetRequest,
): Promise<Outcome> {
  const { store } = io.ctx;
  const rootPath = normalizePath(request.path);
  const root = await store.stat(rootPath, { follow: true });
  if (root.type !== "dir") {
    throw new WrongTypeError(
      `"${request.path}" is a file, not a folder (use get without -r)`,
    );
  }
  const walk = store.walk(rootPath)[Symbol.asyncIterator]();
  // The root's listing comes first: its failure is the request's.
  const first = await walk.next();
  const counts = { entries: 0, failed: 0 };
  await io.writer.send({ op: "tree-list", path: request.path });
  await io.writer.sendBody(
    listingLines(
      { ...itemOf("", root), type: "dir", size: 0 },
      first,
      walk,
      counts,
    ),
  );
  return {
    path: rootPath,
    result: `ok, ${counts.entries} entries${
      counts.failed ? `, ${counts.failed} unreadable` : ""
    }`,
  };
}

/**
 * The JSON lines of a tree listing, a thousand at a time, as the walk goes:
 * the server never holds the whole listing. A folder's line waits until
 * the folder itself is listed (its first entry, or its error, which is set
 * on its line), so parents still come before what they hold; folders that
 * turned out empty come last.
 */
export async function* listingLines(
  root: TreeItem,
  first: IteratorResult<WalkItem>,
  walk: AsyncIterator<WalkItem>,
  counts: { entries: number; failed: number },
): AsyncGenerator<Uint8Array> {
  const held = new Map<string, TreeItem>();
  let text = "";
  let lines = 0;
  const line = (item: TreeItem) => {
    text += JSON.stringify(item) + "\n";
    lines++;
    counts.entries++;
  };
  line(root);
  for (let next = first; !next.done; next = await walk.next()) {
    const found = next.value;
    if (found.error) {
      counts.failed++;
      const error = fsError(found.error, found.path);
      const folder = held.get(found.path);
      held.delete(found.path);
      if (folder) {
        line({ ...folder, error: { code: error.code, reason: error.reason } });
      }
    } else {
      const slash = found.path.lastIndexOf("/");
      const parent = held.get(slash < 0 ? "" : found.path.slice(0, slash));
      if (parent) {
        held.delete(parent.path);
        line(parent);
      }
      const item = itemOf(found.path, found.entry);
      if (item.type === "dir") held.set(item.path, item);
      else line(item);
    }
    if (lines >= 1000) {
      yield encoder.encode(text);
      text = "";
      lines = 0;
    }
  }
  for (const folder of held.values()) line(folder);
  if (text !== "") yield encoder.encode(text);
}

const encoder = new TextEncoder();

/** A walked entry as a tree listing's item. */
function itemOf(path: string, entry: Entry): TreeItem {
  return {
    path,
    type: entry.type,
    size: entry.type === "file" ? entry.size : 0,
    mtime: entry.mtime,
    mode: entry.mode,
  };
}
