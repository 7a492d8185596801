/**
 * The sending side of a delta: chunks the new version as it reads it, looks
 * each chunk up among the receiver's, and writes COPY instructions for the
 * chunks the receiver has and LITERAL ones for the rest.
 *
 * Bounded on purpose:
 * - memory: one 4 MiB read window and one output piece; no chunk is kept;
 * - a hopeless match: after {@linkcode GIVE_UP_AFTER} bytes with almost
 *   nothing reused, the rest of the file goes out as plain literals without
 *   chunking or hashing chunks, so unrelated content costs about what a
 *   plain put does;
 * - a file of one repeated block: every chunk hits the same index entry
 *   (duplicates are dropped when the index is built), so there is no chain
 *   to walk.
 *
 * @module
 */

import { ChunkReader, type ChunkSource } from "./chunk_reader.ts";
import { COPY, type DeltaStats, LITERAL, RAW } from "./delta_ops.ts";
import type { ChunkIndex, ChunkSummary } from "./summary.ts";
import { MAX_VARINT_BYTES, writeVarint } from "./varint.ts";

/** Bytes per output piece (one DATA frame's worth). */
const PIECE = 1024 * 1024;
/** An output piece's buffer: a full piece and the largest single addition. */
const CAPACITY = 2 * PIECE + 64;
/** Send what was described at least this often (bytes of the file). */
const FLUSH_EVERY = 4 * 1024 * 1024;
/** Chunk this much before judging whether the match is hopeless. */
export const GIVE_UP_AFTER = 16 * 1024 * 1024;
/** Below one reused byte in this many, the match is hopeless. */
const HOPELESS = 64;

/** Options for {@linkcode encodeDelta}. */
export interface EncodeOptions {
  /**
   * The receiver already holds the first `from` bytes of the new version (a
   * resumed transfer): only the bytes from here on are described.
   */
  from?: number;
  /** Sees every byte from `from` on, in order (the whole-file checksum). */
  onBytes?: (bytes: Uint8Array) => void;
  /** Counts what was sent and reused; updated as pieces are yielded. */
  stats: DeltaStats;
  /**
   * The source's own chunks, found by an earlier pass (while the summary
   * was on its way) or recorded: then they are not found and hashed again.
   */
  cut?: ChunkSummary;
}

/**
 * Yields the delta encoding of `source` (read from its current position,
 * which is offset 0 of the new version) against the receiver's chunks.
 */
export async function* encodeDelta(
  source: ChunkSource,
  index: ChunkIndex,
  options: EncodeOptions,
): AsyncGenerator<Uint8Array> {
  const from = options.from ?? 0;
  const { stats } = options;
  const out = new Output();
  const reader = new ChunkReader(source, options.cut);
  let flushedAt = from;
  let runStart = -1;
  let runCount = 0;
  // Nothing to match against: no chunking at all.
  let hopeless = index.count === 0;
  let judging = !hopeless;
  const flushRun = () => {
    if (runCount === 0) return;
    stats.overhead += out.copy(runStart, runCount);
    runCount = 0;
  };
  while (!hopeless) {
    const chunk = await reader.next();
    if (chunk === null) break;
    const end = chunk.offset + chunk.bytes.byteLength;
    if (end <= from) continue;
    let bytes = chunk.bytes;
    let found = -1;
    const partial = chunk.offset < from;
    if (partial) {
      bytes = bytes.subarray(from - chunk.offset);
    } else {
      found = index.get(chunk.hash);
    }
    options.onBytes?.(bytes);
    if (found >= 0) {
      stats.reused += bytes.byteLength;
      if (runCount > 0 && found === runStart + runCount) {
        runCount++;
      } else {
        flushRun();
        runStart = found;
        runCount = 1;
      }
    } else {
      flushRun();
      stats.overhead += out.literal(bytes, partial);
      stats.literal += bytes.byteLength;
    }
    if (out.full || end - flushedAt >= FLUSH_EVERY) {
      // Also after a stretch of copies: the receiver rebuilds while this
      // side reads on, and progress moves.
      flushRun();
      yield out.take();
      flushedAt = end;
    }
    if (judging && end - from >= GIVE_UP_AFTER) {
      judging = false;
      hopeless = stats.reused * HOPELESS < end - from;
    }
  }
  flushRun();
  if (hopeless) {
    // Hopeless: the rest goes as it is, read in large pieces.
    yield* plainRest(reader, source, out, options);
  }
  if (out.length > 0) yield out.take();
}

/** The bytes after the last chunk read, as RAW pieces. */
async function* plainRest(
  reader: ChunkReader,
  source: ChunkSource,
  out: Output,
  options: EncodeOptions,
): AsyncGenerator<Uint8Array> {
  const { stats } = options;
  const ahead = reader.rest();
  const from = options.from ?? 0;
  // The read-ahead can still hold bytes before `from` (a chunk straddled it).
  let skip = Math.max(0, from - reader.position);
  const emit = (bytes: Uint8Array) => {
    if (skip >= bytes.byteLength) {
      skip -= bytes.byteLength;
      return;
    }
    bytes = bytes.subarray(skip);
    skip = 0;
    options.onBytes?.(bytes);
    stats.overhead += out.literal(bytes, true);
    stats.literal += bytes.byteLength;
  };
  if (ahead.byteLength > 0) emit(ahead);
  if (out.length > 0) yield out.take();
  // Read straight into the piece after room for its header: one frame, no
  // copy.
  const head = 1 + MAX_VARINT_BYTES;
  while (true) {
    const piece = new Uint8Array(PIECE);
    const room = piece.subarray(head);
    let filled = 0;
    while (filled < room.byteLength) {
      const n = await source.read(room.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled === 0) return;
    const skipped = Math.min(skip, filled);
    skip -= skipped;
    const data = room.subarray(skipped, filled);
    if (data.byteLength > 0) {
      options.onBytes?.(data);
      const header = new Uint8Array(head);
      header[0] = RAW;
      const size = writeVarint(header, 1, data.byteLength);
      const start = head + skipped - size;
      piece.set(header.subarray(0, size), start);
      stats.overhead += size;
      stats.literal += data.byteLength;
      yield piece.subarray(start, head + filled);
    }
    if (filled < room.byteLength) return;
  }
}

/** Gathers instructions into pieces of about {@linkcode PIECE} bytes. */
class Output {
  // Room for a full piece plus the largest addition (a 1 MiB RAW piece).
  #piece = new Uint8Array(CAPACITY);
  length = 0;

  get full(): boolean {
    return this.length >= PIECE;
  }

  /** Adds a COPY; returns its size. */
  copy(index: number, count: number): number {
    this.#room(1 + 2 * MAX_VARINT_BYTES);
    const start = this.length;
    this.#piece[start] = COPY;
    this.length = writeVarint(
      this.#piece,
      writeVarint(this.#piece, start + 1, index),
      count,
    );
    return this.length - start;
  }

  /**
   * Adds a LITERAL of `bytes` (copied now: they are a view into a window
   * that moves on), or a RAW when they are not one whole chunk; returns the
   * size of its header.
   */
  literal(bytes: Uint8Array, raw = false): number {
    this.#room(1 + MAX_VARINT_BYTES + bytes.byteLength);
    const start = this.length;
    this.#piece[start] = raw ? RAW : LITERAL;
    const end = writeVarint(this.#piece, start + 1, bytes.byteLength);
    this.#piece.set(bytes, end);
    this.length = end + bytes.byteLength;
    return end - start;
  }

  /** The gathered bytes as one piece; starts a new one. */
  take(): Uint8Array {
    // A small piece (instructions, a few chunks) is copied out and the
    // buffer kept; a large one is handed over whole.
    const small = this.length < PIECE / 4;
    const piece = small
      ? this.#piece.slice(0, this.length)
      : this.#piece.subarray(0, this.length);
    if (!small) this.#piece = new Uint8Array(CAPACITY);
    this.length = 0;
    return piece;
  }

  #room(bytes: number): void {
    if (this.length + bytes > this.#piece.byteLength) {
      // Only a caller adding past a full piece gets here: grow once.
      const grown = new Uint8Array(this.length + bytes);
      grown.set(this.#piece.subarray(0, this.length));
      this.#piece = grown;
    }
  }
}
