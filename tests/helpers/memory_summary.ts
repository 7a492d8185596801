/**
 * The chunk summary of bytes held in memory, for tests of the delta
 * algorithm that need no file.
 *
 * @module
 */

import { type ChunkSummary, summarize } from "../../transfer/delta/summary.ts";

/** The summary `summarize` gives for a source holding `bytes`. */
export async function summaryOfBytes(bytes: Uint8Array): Promise<ChunkSummary> {
  let at = 0;
  return await summarize({
    read(buffer) {
      const n = Math.min(buffer.byteLength, bytes.byteLength - at);
      if (n === 0) return Promise.resolve(null);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  });
}
