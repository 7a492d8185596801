/**
 * The deletion step of `get -r --delete` on the local disk: removes the
 * entries the remote tree lacks, only inside the target folder and never
 * through a symlink. Each parent on the way to an entry is checked with
 * lstat to be a real folder (once per folder); the entry itself is removed
 * as what lstat says it is, so a link is removed as a link and a folder
 * with `Deno.remove`'s recursive removal, which does not follow links.
 *
 * @module
 */

import { join } from "@std/path";
import type { TreeItem } from "../protocol/mod.ts";
import { localReason } from "./local_errors.ts";

/** What a local deletion step did. */
export interface LocalDeleted {
  deleted: number;
  failed: { path: string; reason: string }[];
}

/** Removes `top` (paths relative to folder `root`) from the local disk. */
export async function deleteLocal(
  root: string,
  top: readonly TreeItem[],
): Promise<LocalDeleted> {
  const good = new Set<string>([""]);
  const result: LocalDeleted = { deleted: 0, failed: [] };
  for (const item of top) {
    try {
      const segments = item.path.split("/");
      for (let depth = 1; depth < segments.length; depth++) {
        const parent = segments.slice(0, depth).join("/");
        if (good.has(parent)) continue;
        if (!Deno.lstatSync(join(root, parent)).isDirectory) {
          throw new Error(`"${parent}" is no longer a folder`);
        }
        good.add(parent);
      }
      const host = join(root, item.path);
      const info = Deno.lstatSync(host);
      await Deno.remove(host, { recursive: info.isDirectory });
      result.deleted++;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        result.deleted++;
        continue;
      }
      result.failed.push({
        path: item.path,
        reason: localReason(error).reason,
      });
    }
  }
  return result;
}
