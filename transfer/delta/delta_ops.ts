/**
 * The delta encoding: the body a delta sender writes instead of the file.
 * A sequence of instructions that rebuild the new version in order:
 *
 * - `COPY index count`: the receiver's own chunks `index` to
 *   `index + count - 1` (of the summary it sent), read from its old version;
 * - `LITERAL length` followed by `length` new bytes: one whole chunk of
 *   the new version, as the sender cut it;
 * - `RAW length` followed by `length` new bytes that are not one whole
 *   chunk (the tail of a chunk a resume started in, or the rest of a file
 *   whose match was hopeless).
 *
 * Since LITERAL and COPY follow the new version's own chunks, the receiver
 * can tell the new version's chunk summary without finding its chunks
 * (unless a RAW came).
 *
 * Numbers are unsigned LEB128 varints. The body's trailer carries the
 * checksum of the whole new file, as for a plain body.
 *
 * @module
 */

/**
 * Files smaller than this go whole: a delta could save at most a few
 * kilobytes and costs a round of summaries.
 */
export const DELTA_MIN_SIZE = 64 * 1024;

/** Tag of a copy of old chunks. */
export const COPY = 1;
/** Tag of new bytes that are one chunk. */
export const LITERAL = 2;
/** Tag of new bytes that are not one chunk. */
export const RAW = 3;

/** Bytes sent and bytes taken from the old version, in one delta. */
export interface DeltaStats {
  /** New bytes that crossed the network (the literals). */
  literal: number;
  /** Bytes rebuilt from the receiver's old version. */
  reused: number;
  /** Bytes of instructions around them. */
  overhead: number;
}

/** A fresh, empty {@linkcode DeltaStats}. */
export function emptyStats(): DeltaStats {
  return { literal: 0, reused: 0, overhead: 0 };
}
