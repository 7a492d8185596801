/**
 * `tree-delete`: the deletion step of a mirror (`put -r --delete`). The
 * client names, in one body, the entries of the tree at `path` that its
 * source lacks; each is removed through the storage core, folders with what
 * they hold, links as links (never followed). One round trip for the whole
 * list, so 100,000 deletions cost no more than their removals.
 *
 * Every parent folder on the way to an entry must be a real folder of the
 * tree, checked through the store (a link in the middle of a path is
 * refused, so a deletion never leaves the tree by one); the store itself
 * keeps every path inside the served root.
 *
 * @module
 */

import {
  InvalidPathError,
  type TreeDeleteRequest,
  type TreeFailure,
  WrongTypeError,
} from "../../protocol/mod.ts";
import {
  forEachJsonLine,
  joinTree,
  treeSegments,
} from "../../transfer/tree/tree_manifest.ts";
import { fsError } from "../storage/fs_errors.ts";
import { normalizePath } from "../storage/remote_path.ts";
import type { Store } from "../storage/store.ts";
import { type Outcome, PING_MS, type RequestIo } from "./request_io.ts";

/** Most paths one `tree-delete` may name. */
const MAX_DELETE_LINES = 2_000_000;

/** Failures named in the reply; the rest are counted. */
const MAX_NAMED_FAILURES = 100;

/** Serves `tree-delete`: removes the listed entries, then answers `tree-deleted`. */
export async function treeDelete(
  io: RequestIo,
  request: TreeDeleteRequest,
): Promise<Outcome> {
  const paths: string[] = [];
  // The list is read whole first, so a refusal leaves the session in step.
  await forEachJsonLine(io.reader.body(), (value) => {
    if (typeof value !== "string") {
      throw new InvalidPathError("a path to delete is not a string");
    }
    paths.push(value);
  }, MAX_DELETE_LINES);
  io.assertWritable();
  const { store } = io.ctx;
  const root = normalizePath(request.path);
  const info = await store.stat(root, { follow: false });
  if (info.type !== "dir") {
    throw new WrongTypeError(`"${request.path}" is not a folder`);
  }
  const failed: TreeFailure[] = [];
  let more = 0;
  let deleted = 0;
  const folders = new FolderCheck(store, root);
  let quietSince = Date.now();
  for (const path of paths) {
    // A long deletion keeps the link visibly alive for the waiting client.
    if (Date.now() - quietSince > PING_MS) {
      await io.writer.send({ op: "ping" });
      quietSince = Date.now();
    }
    try {
      const segments = treeSegments(path);
      if (segments.length === 0) {
        throw new InvalidPathError("the tree's own folder is not deleted");
      }
      await folders.check(segments.slice(0, -1));
      await store.remove(joinTree(root, path), { recursive: true });
      deleted++;
    } catch (error) {
      const typed = fsError(error, joinTree(root, path));
      if (typed.code === "not_found") {
        deleted++; // Gone already: what a mirror wants.
        continue;
      }
      if (failed.length < MAX_NAMED_FAILURES) {
        failed.push({ path, code: typed.code, reason: typed.reason });
      } else more++;
      io.ctx.log.record({
        peer: io.peer,
        op: "tree-delete",
        path: joinTree(root, path),
        result: `failed: ${typed.reason}`,
      });
    }
  }
  await io.writer.send({
    op: "tree-deleted",
    deleted,
    failed,
    more: more > 0 ? more : undefined,
  });
  return {
    path: root,
    result: `ok, ${deleted} deleted, ${failed.length + more} failed`,
  };
}

/**
 * Checks, once per folder, that each parent on the way to an entry is a
 * real folder (not a link) of the tree.
 */
class FolderCheck {
  #store: Store;
  #root: string;
  #good = new Set<string>([""]);

  constructor(store: Store, root: string) {
    this.#store = store;
    this.#root = root;
  }

  async check(segments: string[]): Promise<void> {
    for (let depth = 1; depth <= segments.length; depth++) {
      const relative = segments.slice(0, depth).join("/");
      if (this.#good.has(relative)) continue;
      const entry = await this.#store.stat(joinTree(this.#root, relative), {
        follow: false,
      });
      if (entry.type !== "dir") {
        throw new WrongTypeError(
          `"${relative}" is not a folder (a link is never followed)`,
        );
      }
      this.#good.add(relative);
    }
  }
}
