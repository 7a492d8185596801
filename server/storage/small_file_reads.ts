/**
 * Reads a window of small files for tree downloads: through the store's
 * `SmallFileReads` where it has that ability (the local disk's
 * worker thread), otherwise through any {@linkcode Store}, several at once
 * (S3: each read is a GET, so its round trip, not its bytes, is the cost,
 * and running them side by side hides it).
 *
 * @module
 */

import { pooledMap } from "./pooled_map.ts";
import { readFull } from "../../transfer/file_chunks.ts";
import type { SmallFile, Store } from "./store.ts";

/** Reads running at once (as many as the upload side commits). */
const READS_IN_FLIGHT = 16;

/**
 * One file or `null` per remote path: `null` for a path that is not a
 * regular file of at most `limit` bytes or cannot be read, which the caller
 * then serves (or refuses) one by one through {@linkcode Store.open}.
 */
export async function readSmallFiles(
  store: Store,
  paths: readonly (string | null)[],
  limit: number,
): Promise<(SmallFile | null)[]> {
  if (store.smallFileReads) {
    return await store.smallFileReads.readSmall(paths, limit);
  }
  const read = async (path: string | null): Promise<SmallFile | null> => {
    if (path === null) return null;
    try {
      const handle = await store.open(path, 0, { follow: false });
      try {
        const { size, mtime, mode, type } = handle.entry;
        if (type !== "file" || size > limit) return null;
        const data = new Uint8Array(size);
        const n = await readFull(handle, data);
        // A file that changed size since it was opened goes the long way.
        if (n !== size) return null;
        return { data, mtime, mode };
      } finally {
        handle.close();
      }
    } catch {
      return null;
    }
  };
  const results: (SmallFile | null)[] = [];
  for await (const result of pooledMap(READS_IN_FLIGHT, paths, read)) {
    results.push(result);
  }
  return results;
}
