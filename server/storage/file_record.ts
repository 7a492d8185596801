/**
 * The per-file record the storage core keeps about a stored file: its
 * whole-file digest(s) and the chunk summary a delta compares against, so
 * neither is computed again while the file stays the same.
 *
 * A record is keyed by the file's identity: device, inode, size,
 * modification time and change time. Any other writer changes at least the
 * change time, so a record of a file changed behind the server's back no
 * longer matches and is ignored (then replaced). Records live beside the
 * store, never in the file's own metadata: setting an extended attribute
 * would itself change the change time.
 *
 * @module
 */

import type { Digests } from "../../protocol/messages.ts";
import type { ChunkSummary } from "../../transfer/delta/summary.ts";

/** What tells one version of a stored file from every other. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  /** Modification time, ms since the epoch. */
  mtime: number;
  /** Change time (of the inode), ms since the epoch. */
  ctime: number;
}

/** What the store knows about one version of a file. */
export interface FileRecord {
  identity: FileIdentity;
  /**
   * The remote path the file had when recorded, so a sweep can tell a
   * record of a deleted or replaced file (absent in records that predate it).
   */
  path?: string;
  /** Whole-file digests, each in its checksum's field. */
  digests: Digests;
  /** The chunk summary, with the boundary rule it was cut with. */
  summary?: { chunking: string; chunks: ChunkSummary };
}

/** A store's records. */
export interface FileRecords {
  /** The record of the file with `identity`, or null when none matches. */
  load(identity: FileIdentity): Promise<FileRecord | null>;
  /**
   * Keeps `record`, merged with what a record of the same identity already
   * holds (a summary added to a digest, a second checksum's digest).
   */
  save(record: FileRecord): Promise<void>;
  /** Forgets the record of `identity` (its content proved wrong). */
  drop(identity: FileIdentity): Promise<void>;
  /**
   * Removes records of files deleted or replaced since, checking at most
   * `limit` records per call (the next call goes on from there).
   *
   * @returns how many were removed.
   */
  sweep?(limit: number): Promise<number>;
}

/** Whether two identities name the same version of the same file. */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size &&
    a.mtime === b.mtime && a.ctime === b.ctime;
}

/** The identity of an open local file. */
export async function identityOf(file: Deno.FsFile): Promise<FileIdentity> {
  const info = await file.stat();
  return {
    dev: info.dev ?? 0,
    ino: info.ino ?? 0,
    size: info.size,
    mtime: info.mtime?.getTime() ?? 0,
    ctime: info.ctime?.getTime() ?? 0,
  };
}
