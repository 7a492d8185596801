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

import { CHUNK_HASH_BYTES, readHash } from "./chunk_hash.ts";
import { GIVE_UP_AFTER, HOPELESS } from "./delta_encoder.ts";
import type { ChunkSummary } from "./summary.ts";

/**
 * Old chunks to have received before judging (about 27 MiB of the old
 * version): content shifted by less than that still counts as a match.
 */
export const JUDGE_AFTER_OLD_CHUNKS = 2500;

/**
 * Judges the start of a new version against old chunk hashes as they
 * arrive, in memory and time proportional to what it is given (the
 * pieces are not kept once the new start is known).
 */
export class EarlyJudge {
  /** Lengths of the new start's chunks by hash, until found among the old. */
  #wanted: Map<number, number> | null = null;
  #covered = 0;
  #reused = 0;
  #old = 0;
  #pending: Uint8Array[] = [];

  /** Adds old chunk hashes (6 bytes each, as a summary piece holds them). */
  addOld(hashes: Uint8Array): void {
    this.#old += hashes.byteLength / CHUNK_HASH_BYTES;
    if (this.#wanted) this.#match(hashes);
    else this.#pending.push(hashes);
  }

  /**
   * Whether the new version's first {@linkcode GIVE_UP_AFTER} bytes reuse
   * under 1 byte in {@linkcode HOPELESS} from the old chunks added; undefined
   * while either side has seen too little to tell. `listed` gives the new
   * version's chunks so far; it is asked only once they cover enough.
   */
  verdict(
    listedBytes: number,
    listed: () => ChunkSummary,
  ): boolean | undefined {
    if (!this.#wanted) {
      if (listedBytes < GIVE_UP_AFTER) return undefined;
      this.#start(listed());
    }
    if (this.#old < JUDGE_AFTER_OLD_CHUNKS) return undefined;
    return this.#reused * HOPELESS < this.#covered;
  }

  #start(chunks: ChunkSummary): void {
    const wanted = new Map<number, number>();
    for (let i = 0; i < chunks.count && this.#covered < GIVE_UP_AFTER; i++) {
      const hash = chunks.hashes[i];
      wanted.set(hash, (wanted.get(hash) ?? 0) + chunks.lengths[i]);
      this.#covered += chunks.lengths[i];
    }
    this.#wanted = wanted;
    for (const hashes of this.#pending) this.#match(hashes);
    this.#pending = [];
  }

  #match(hashes: Uint8Array): void {
    const wanted = this.#wanted!;
    for (let at = 0; at < hashes.byteLength; at += CHUNK_HASH_BYTES) {
      const hash = readHash(hashes, at);
      const length = wanted.get(hash);
      if (length === undefined) continue;
      this.#reused += length;
      wanted.delete(hash);
    }
  }
}
