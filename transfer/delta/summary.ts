/**
 * A file's chunk summary: the short hash and the length of every chunk, in
 * order. The receiver of a delta computes it for the version it holds and
 * sends the hashes (not the lengths: only the receiver needs to know where
 * its own chunks lie); the sender matches its chunks against them.
 *
 * @module
 */

import {
  CHUNK_HASH_BYTES,
  chunkHash,
  readHash,
  writeHash,
} from "./chunk_hash.ts";
import { concat } from "@std/bytes/concat";
import { type ChunkSource, readChunks } from "./chunk_reader.ts";
import { MAX_CHUNK } from "./gear.ts";
import type { DeltaWatcher } from "./delta_apply.ts";

/** The chunks of one version of a file. */
export interface ChunkSummary {
  /** Chunk count. */
  readonly count: number;
  /** The 48-bit hash of each chunk. */
  readonly hashes: Float64Array;
  /** Each chunk's length in bytes. */
  readonly lengths: Uint32Array;
}

/** Gathers chunk hashes and lengths as chunks are found. */
export class SummaryBuilder {
  #hashes = new Float64Array(1024);
  #lengths = new Uint32Array(1024);
  #count = 0;

  /** How many chunks were added. */
  get count(): number {
    return this.#count;
  }

  /** Adds the next chunk. */
  add(chunk: Uint8Array): void {
    this.addKnown(chunkHash(chunk), chunk.byteLength);
  }

  /** Adds the next chunk, whose hash is known. */
  addKnown(hash: number, length: number): void {
    const count = this.#count;
    if (count === this.#hashes.length) {
      const hashes = new Float64Array(count * 2);
      hashes.set(this.#hashes);
      this.#hashes = hashes;
      const lengths = new Uint32Array(count * 2);
      lengths.set(this.#lengths);
      this.#lengths = lengths;
    }
    this.#hashes[count] = hash;
    this.#lengths[count] = length;
    this.#count++;
  }

  /** The hashes of chunks `from` on, as {@linkcode encodeHashes} writes them. */
  encodeFrom(from: number): Uint8Array {
    const hashes = this.#hashes.subarray(0, this.#count);
    return encodeHashes(
      { count: this.#count, hashes, lengths: this.#lengths },
      from,
    );
  }

  /** The summary of the chunks added. */
  finish(): ChunkSummary {
    const count = this.#count;
    return {
      count,
      hashes: this.#hashes.slice(0, count),
      lengths: this.#lengths.slice(0, count),
    };
  }
}

/**
 * Computes the summary of `source` from its current position to its end;
 * `onBytes` sees every byte in order (a whole-file digest on the way). When
 * `enough` turns true, it stops and returns the chunks found so far.
 */
export async function summarize(
  source: ChunkSource,
  onBytes?: (bytes: Uint8Array) => void,
  enough?: () => boolean,
): Promise<ChunkSummary> {
  const builder = new SummaryBuilder();
  for await (const chunk of readChunks(source)) {
    if (enough?.()) break;
    onBytes?.(chunk.bytes);
    builder.addKnown(chunk.hash, chunk.bytes.byteLength);
  }
  return builder.finish();
}

/**
 * The summary of a new version rebuilt from a delta, told from the
 * instructions alone: a COPY brings the old chunks' hashes, a LITERAL is one
 * new chunk hashed here. Nothing is found twice. A RAW (bytes that are not
 * one chunk) leaves no summary.
 */
export class DerivedSummary implements DeltaWatcher {
  #old: ChunkSummary;
  #builder = new SummaryBuilder();
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #valid = true;

  constructor(old: ChunkSummary) {
    this.#old = old;
  }

  copied(index: number, count: number): void {
    if (this.#pendingBytes > 0) this.#valid = false;
    for (let i = index; i < index + count; i++) {
      this.#builder.addKnown(this.#old.hashes[i], this.#old.lengths[i]);
    }
  }

  literal(bytes: Uint8Array, end: boolean, chunk: boolean): void {
    if (!chunk || !this.#valid) {
      this.#valid = false;
      return;
    }
    if (end && this.#pendingBytes === 0) return this.#builder.add(bytes);
    this.#pending.push(bytes.slice());
    this.#pendingBytes += bytes.byteLength;
    if (this.#pendingBytes > MAX_CHUNK) this.#valid = false;
    if (!end) return;
    this.#builder.add(concat(this.#pending) as Uint8Array);
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** The new version's summary, or undefined when it cannot be told. */
  finish(): ChunkSummary | undefined {
    return this.#valid && this.#pendingBytes === 0
      ? this.#builder.finish()
      : undefined;
  }
}

/**
 * Where each chunk starts in the file, plus the file's length at the end:
 * `count + 1` offsets.
 */
export function chunkOffsets(summary: ChunkSummary): Float64Array {
  const offsets = new Float64Array(summary.count + 1);
  for (let i = 0; i < summary.count; i++) {
    offsets[i + 1] = offsets[i] + summary.lengths[i];
  }
  return offsets;
}

/**
 * The hashes as they cross the network: 6 bytes each, little-endian; those
 * of chunks `from` to `to - 1` (all by default).
 */
export function encodeHashes(
  summary: ChunkSummary,
  from = 0,
  to = summary.count,
): Uint8Array {
  const bytes = new Uint8Array((to - from) * CHUNK_HASH_BYTES);
  for (let i = from; i < to; i++) {
    writeHash(bytes, (i - from) * CHUNK_HASH_BYTES, summary.hashes[i]);
  }
  return bytes;
}

/**
 * Looks chunk hashes up: the index of the first chunk with a hash, or -1.
 * Open addressing over typed arrays (about 24 bytes per chunk), so the
 * summary of a 10 GiB file fits in about 20 MB. Duplicate hashes (a file of
 * one repeated block) keep only their first chunk, so no chain grows.
 */
export class ChunkIndex {
  readonly count: number;
  #keys: Float64Array;
  #values: Int32Array;
  #mask: number;

  constructor(count: number) {
    this.count = count;
    let size = 1024;
    while (size < count * 2) size *= 2;
    this.#keys = new Float64Array(size);
    this.#values = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
  }

  /** Builds the index of hashes received as {@linkcode encodeHashes} made them. */
  static fromWire(bytes: Uint8Array): ChunkIndex {
    const count = Math.floor(bytes.byteLength / CHUNK_HASH_BYTES);
    const index = new ChunkIndex(count);
    for (let i = 0; i < count; i++) {
      index.add(readHash(bytes, i * CHUNK_HASH_BYTES), i);
    }
    return index;
  }

  /** Records chunk `at` under `hash`, unless an earlier chunk has it. */
  add(hash: number, at: number): void {
    let slot = hash & this.#mask;
    while (this.#values[slot] !== -1) {
      if (this.#keys[slot] === hash) return;
      slot = (slot + 1) & this.#mask;
    }
    this.#keys[slot] = hash;
    this.#values[slot] = at;
  }

  /** The first chunk with `hash`, or -1. */
  get(hash: number): number {
    let slot = hash & this.#mask;
    while (this.#values[slot] !== -1) {
      if (this.#keys[slot] === hash) return this.#values[slot];
      slot = (slot + 1) & this.#mask;
    }
    return -1;
  }
}
