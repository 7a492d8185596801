/**
 * Whole-file digests the storage core recorded (see
 * `../storage/file_record.ts`, kept when an upload commits: see
 * `../storage/committed_record.ts`), used so a
 * `get`, `hash` or `ls --hash` of an unchanged file needs no read of it on
 * the server. The client of a `get` still hashes what it receives and
 * compares, so damage to the stored file at rest is caught too.
 *
 * @module
 */

import type { Checksum, Digests } from "../../protocol/messages.ts";
import { digestIn } from "../../transfer/hash/checksum.ts";
import type { ReadHandle, Store } from "../storage/store.ts";
import { type FileIdentity, sameIdentity } from "../storage/file_record.ts";
import { CHUNKING } from "../../transfer/delta/gear.ts";
import type { ChunkSummary } from "../../transfer/delta/summary.ts";

/** The recorded digest of the open file for `checksum`, or undefined. */
export async function recordedDigest(
  store: Store,
  handle: ReadHandle,
  checksum: Checksum,
): Promise<string | undefined> {
  if (!store.records || !handle.identity) return undefined;
  const record = await store.records.load(await handle.identity());
  return record ? digestIn(record.digests, checksum) : undefined;
}

/** The recorded chunk summary of the open file, or undefined. */
export async function recordedChunks(
  store: Store,
  handle: ReadHandle,
): Promise<ChunkSummary | undefined> {
  if (!store.records || !handle.identity) return undefined;
  const record = await store.records.load(await handle.identity());
  return record?.summary?.chunking === CHUNKING
    ? record.summary.chunks
    : undefined;
}

/**
 * Records the digest of a whole file just read from its start to its end
 * through `handle` (a `get` without a record), when the file still has the
 * identity it had when opened (`before`): the next `get` of it then needs
 * no read on the server (and goes by sendfile). A failure to record is no
 * failure of the get.
 */
export async function recordRead(
  store: Store,
  handle: ReadHandle,
  before: FileIdentity | undefined,
  digests: Digests,
): Promise<void> {
  if (!store.records || !handle.identity || !before) return;
  try {
    const after = await handle.identity();
    if (!sameIdentity(before, after)) return;
    await store.records.save({ identity: after, digests });
  } catch {
    // The record is an optimisation: without one, the file is hashed.
  }
}
