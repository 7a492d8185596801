/**
 * Writes the per-file record (`file_record.ts`) of a file an upload just
 * committed, from the digest the upload computed while receiving it, so a
 * later `get`, `hash` or delta against the file needs no read of it. Every
 * front-end's commit goes through here: the native `put` and `put -r`, HTTP
 * PUT with a digest, tus with a checksum.
 *
 * @module
 */

import type { Digests } from "../../protocol/messages.ts";
import { CHUNKING } from "../../transfer/delta/gear.ts";
import type { ChunkSummary } from "../../transfer/delta/summary.ts";
import type { Store } from "./store.ts";

/** What an upload knows of the file it committed. */
export interface CommittedContent {
  /** Whole-file digests, each in its checksum's field. */
  digests: Digests;
  /** The chunk summary, when the upload was a delta. */
  chunks?: ChunkSummary;
}

/**
 * Records `content` for the file just committed at `path`, when the file
 * there is still the one committed (its size and mtime); a failure to
 * record is no failure of the upload.
 */
export async function recordCommitted(
  store: Store,
  path: string,
  expected: { size: number | null; mtime: number },
  content: CommittedContent,
): Promise<void> {
  const records = store.records;
  if (!records) return;
  try {
    const handle = await store.open(path, 0, { follow: false });
    try {
      if (
        !handle.identity ||
        (expected.size !== null && handle.entry.size !== expected.size) ||
        handle.entry.mtime !== expected.mtime
      ) return;
      await records.save({
        identity: await handle.identity(),
        path,
        digests: content.digests,
        summary: content.chunks &&
          { chunking: CHUNKING, chunks: content.chunks },
      });
    } finally {
      handle.close();
    }
  } catch {
    // The record is an optimisation: without one, the file is hashed.
  }
}
