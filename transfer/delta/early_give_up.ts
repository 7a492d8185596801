/**
 * Giving up on a hopeless match before the receiver's whole summary came:
 * a receiver that sends its summary in pieces (a `put` to a server that
 * reads its old version meanwhile) lets the sender judge its first
 * {@linkcode GIVE_UP_AFTER} bytes against the old chunks received so far,
 * the same rule the encoder applies later, and send the file as it is
 * without waiting for the rest. Content unrelated to the old version then
 * costs about what a plain put does.
 *
 * @module
 */

import { GIVE_UP_AFTER, HOPELESS } from "./delta_encoder.ts";
import type { ChunkIndex, ChunkSummary } from "./summary.ts";

/**
 * Old chunks to have received before judging (about 32 MiB of the old
 * version): content shifted by less than that still counts as a match.
 */
export const JUDGE_AFTER_OLD_CHUNKS = 3000;

/**
 * Whether the first {@linkcode GIVE_UP_AFTER} bytes of the new version
 * (`listed`, from a head start) reuse under 1 byte in
 * {@linkcode HOPELESS} from the old chunks in `index`; undefined while
 * either side has seen too little to tell.
 */
export function hopelessStart(
  listed: ChunkSummary,
  index: ChunkIndex,
): boolean | undefined {
  if (index.count < JUDGE_AFTER_OLD_CHUNKS) return undefined;
  let covered = 0;
  let reused = 0;
  for (let i = 0; i < listed.count && covered < GIVE_UP_AFTER; i++) {
    covered += listed.lengths[i];
    if (index.get(listed.hashes[i]) >= 0) reused += listed.lengths[i];
  }
  if (covered < GIVE_UP_AFTER) return undefined;
  return reused * HOPELESS < covered;
}
