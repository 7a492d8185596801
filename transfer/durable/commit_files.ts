/**
 * The one commit step of a received tree's files, shared by the batch on
 * the main thread and the staging workers: make each staged file durable
 * (unless the caller already made the whole file system durable, see
 * `file_system_sync.ts`), give it its mode and modification time, rename it
 * over its target, then sync the folders that received renames. A file that
 * fails is removed from staging and reported; the others still go in.
 *
 * Paths are whatever the owner resolved: plain local paths on the client,
 * `/proc/self/fd/N/name` paths of held folders on the server (see
 * `server/confined_root.ts`), which is why nothing here resolves a path.
 *
 * @module
 */

import { renameHeld } from "./held_paths.ts";

/** One staged file and where it goes. */
export interface CommitFile {
  /** Where the bytes were written (created by this process, never a link). */
  staged: string;
  /** Where the file belongs. */
  target: string;
  mode: number | null;
  /** Modification time in milliseconds since the epoch. */
  mtime: number;
  /** The staged file, still open, when its writer kept it open. */
  file?: Deno.FsFile | null;
  /** Set when the file failed already; it is only cleaned up. */
  error?: unknown;
  /** The file has its mode and mtime already (set as it was written). */
  described?: boolean;
}

/** Options of {@linkcode commitFiles}. */
export interface CommitOptions {
  /**
   * The files' data is durable already (a `syncfs` after their writes
   * succeeded): skip the per-file syncs.
   */
  dataDurable?: boolean;
}

/**
 * Commits `files`, then syncs `folders` (those holding the targets; none
 * when the caller makes the renames durable itself). Resolves with one
 * error, or `null` for a file now in place, per file.
 */
export async function commitFiles(
  files: readonly CommitFile[],
  folders: Iterable<string>,
  options: CommitOptions = {},
): Promise<(unknown | null)[]> {
  // Only the syncs run as async ops, all at once, so the file system can
  // share its journal commits among them. The other calls are synchronous:
  // a few µs each, where an async op's trip through Deno's blocking pool
  // cost about three times that (~0.5 s of CPU per 10,000 files received).
  const synced = await Promise.allSettled(files.map(async (entry) => {
    if (entry.error !== undefined) throw entry.error;
    if (options.dataDurable) {
      entry.file?.close();
      entry.file = null;
      return;
    }
    const file = entry.file ?? Deno.openSync(entry.staged, { write: true });
    try {
      await file.syncData();
    } finally {
      file.close();
      entry.file = null;
    }
  }));
  const now = new Date();
  const results = files.map((entry, i) => {
    try {
      const sync = synced[i];
      if (sync.status === "rejected") throw sync.reason;
      if (!entry.described) {
        if (entry.mode !== null) {
          Deno.chmodSync(entry.staged, entry.mode & 0o777);
        }
        Deno.utimeSync(entry.staged, now, new Date(entry.mtime));
      }
      if (!renameHeld(entry.staged, entry.target)) {
        Deno.renameSync(entry.staged, entry.target);
      }
      return null;
    } catch (error) {
      try {
        Deno.removeSync(entry.staged);
      } catch {
        // Already gone.
      }
      return error;
    }
  });
  // The renames are durable once their folders are synced.
  await Promise.all([...new Set(folders)].map(syncFolder));
  return results;
}

/** Syncs a folder; some file systems cannot, and the files are synced anyway. */
export async function syncFolder(path: string): Promise<void> {
  try {
    using folder = await Deno.open(path);
    await folder.sync();
  } catch {
    // Not supported here.
  }
}
