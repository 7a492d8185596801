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
import { type HeadStart, readBack, type SeekableSource } from "./head_start.ts";
import { readFull } from "../file_chunks.ts";
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
export const HOPELESS = 64;

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
  /**
   * The chunks a {@linkcode HeadStart} found (and fed to the checksum) from
   * the source's start while the summary was on its way: they are described
   * from its list and its reader goes on, so the source is read once. Not
   * with `from` or `cut`.
   */
  head?: { start: HeadStart; chunks: ChunkSummary };
  /**
   * Where the pieces of a file sent as it is come from, given back by the
   * sender once written (else each is a new buffer).
   */
  buffers?: PieceBuffers;
}

/**
 * The 1 MiB buffers of RAW pieces read in place, taken back once written:
 * a file sent as it is then cycles through a few instead of leaving
 * hundreds of megabytes to the garbage collector.
 */
export class PieceBuffers {
  #free: Uint8Array[] = [];

  /** A free buffer, or a new one. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(PIECE);
  }

  /** Takes back the buffer under `view` if it is one of these; else nothing. */
  give(view: Uint8Array): void {
    const buffer = view.buffer as ArrayBuffer;
    if (buffer.byteLength !== PIECE || this.#free.length >= 4) return;
    this.#free.push(new Uint8Array(buffer));
  }
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
  const { head } = options;
  const state = new Matcher(index, options.stats, from);
  const reader = head?.start.reader ?? new ChunkReader(source, options.cut);
  if (head) {
    yield* describeListed(head.start.source, head.chunks, state);
    if (state.hopeless) {
      // The rest goes as it is, read again from the give-up point in order
      // (the bytes the head start listed are in the checksum already).
      if (state.out.length > 0) yield state.out.take();
      const { position } = state;
      const hashed = reader.position;
      await head.start.source.seek(position, Deno.SeekMode.Start);
      yield* rawRest(
        head.start.source,
        state.stats,
        position,
        0,
        (bytes, at) => {
          if (at + bytes.byteLength <= hashed) return;
          options.onBytes?.(bytes.subarray(Math.max(0, hashed - at)));
        },
        options.buffers,
      );
      return;
    }
  }
  while (!state.hopeless) {
    const chunk = await reader.next();
    if (chunk === null) break;
    const end = chunk.offset + chunk.bytes.byteLength;
    if (end <= from) continue;
    let bytes = chunk.bytes;
    const partial = chunk.offset < from;
    if (partial) bytes = bytes.subarray(from - chunk.offset);
    options.onBytes?.(bytes);
    state.chunk(bytes, partial ? -1 : index.get(chunk.hash), partial);
    const piece = state.described(end);
    if (piece) yield piece;
  }
  state.flushRun();
  if (state.hopeless) {
    // Hopeless: the rest goes as it is, read in large pieces.
    yield* plainRest(reader, source, state.out, options);
  }
  if (state.out.length > 0) yield state.out.take();
}

/**
 * Describes the chunks a head start listed (from offset 0), reading back
 * the new ones; stops early when the match turns out hopeless.
 */
async function* describeListed(
  source: SeekableSource,
  chunks: ChunkSummary,
  state: Matcher,
): AsyncGenerator<Uint8Array> {
  let offset = 0;
  // New chunks in a row are read back at once (up to a piece's worth).
  let ahead: Uint8Array | null = null;
  let aheadAt = 0;
  for (let i = 0; i < chunks.count && !state.hopeless; i++) {
    const length = chunks.lengths[i];
    const found = state.index.get(chunks.hashes[i]);
    if (found >= 0) {
      state.chunk(length, found, false);
    } else {
      if (!ahead || offset + length > aheadAt + ahead.byteLength) {
        let end = offset + length;
        for (let j = i + 1; j < chunks.count; j++) {
          if (end + chunks.lengths[j] - offset > PIECE) break;
          if (state.index.get(chunks.hashes[j]) >= 0) break;
          end += chunks.lengths[j];
        }
        ahead = await readBack(source, offset, end - offset);
        aheadAt = offset;
      }
      const start = offset - aheadAt;
      state.chunk(ahead.subarray(start, start + length), -1, false);
    }
    offset += length;
    const piece = state.described(offset);
    if (piece) yield piece;
  }
  state.flushRun();
}

/**
 * The matching state of one delta: the run of copies being gathered, the
 * output, and whether the match has turned out hopeless.
 */
class Matcher {
  readonly index: ChunkIndex;
  readonly stats: DeltaStats;
  readonly out = new Output();
  /** Where the next chunk starts in the new version. */
  position: number;
  hopeless: boolean;
  #from: number;
  #judging: boolean;
  #flushedAt: number;
  #runStart = -1;
  #runCount = 0;

  constructor(index: ChunkIndex, stats: DeltaStats, from: number) {
    this.index = index;
    this.stats = stats;
    this.position = from;
    this.#from = from;
    this.#flushedAt = from;
    // Nothing to match against: no chunking at all.
    this.hopeless = index.count === 0;
    this.#judging = !this.hopeless;
  }

  /**
   * Adds the next chunk: `found` is the receiver's chunk with its hash (or
   * -1), `bytes` its bytes when new (its length when found).
   */
  chunk(bytes: Uint8Array | number, found: number, partial: boolean): void {
    const { stats } = this;
    if (typeof bytes === "number" || found >= 0) {
      const length = typeof bytes === "number" ? bytes : bytes.byteLength;
      stats.reused += length;
      this.position += length;
      if (this.#runCount > 0 && found === this.#runStart + this.#runCount) {
        this.#runCount++;
      } else {
        this.flushRun();
        this.#runStart = found;
        this.#runCount = 1;
      }
      return;
    }
    this.flushRun();
    stats.overhead += this.out.literal(bytes, partial);
    stats.literal += bytes.byteLength;
    this.position += bytes.byteLength;
  }

  /**
   * After a chunk ending at `end`: the piece to send now, if any, and the
   * judgement of a hopeless match once enough was seen.
   */
  described(end: number): Uint8Array | null {
    let piece: Uint8Array | null = null;
    if (this.out.full || end - this.#flushedAt >= FLUSH_EVERY) {
      // Also after a stretch of copies: the receiver rebuilds while this
      // side reads on, and progress moves.
      this.flushRun();
      piece = this.out.take();
      this.#flushedAt = end;
    }
    if (this.#judging && end - this.#from >= GIVE_UP_AFTER) {
      this.#judging = false;
      this.hopeless = this.stats.reused * HOPELESS < end - this.#from;
    }
    return piece;
  }

  /** Writes the run of copies gathered so far. */
  flushRun(): void {
    if (this.#runCount === 0) return;
    this.stats.overhead += this.out.copy(this.#runStart, this.#runCount);
    this.#runCount = 0;
  }
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
  yield* rawRest(
    source,
    stats,
    reader.position + ahead.byteLength,
    skip,
    (bytes) => options.onBytes?.(bytes),
    options.buffers,
  );
}

/**
 * The rest of `source` from its position `at` as RAW pieces, read straight
 * into each piece after room for its header (one frame, no copy), leaving
 * out the first `skip` bytes (the part of a resumed transfer the receiver
 * holds). `seen` gets the bytes sent and where they start in the source.
 */
async function* rawRest(
  source: ChunkSource,
  stats: DeltaStats,
  at: number,
  skip: number,
  seen: (bytes: Uint8Array, at: number) => void,
  buffers?: PieceBuffers,
): AsyncGenerator<Uint8Array> {
  const read = async (): Promise<{ piece: Uint8Array; filled: number }> => {
    const piece = buffers?.take() ?? new Uint8Array(PIECE);
    return { piece, filled: await readFull(source, piece.subarray(RAW_HEAD)) };
  };
  let next: Promise<{ piece: Uint8Array; filled: number }> | null = read();
  while (next) {
    const { piece, filled }: { piece: Uint8Array; filled: number } = await next;
    // The next piece is read while this one is sent.
    next = filled < PIECE - RAW_HEAD ? null : read();
    next?.catch(() => {}); // Thrown when awaited; unheard if abandoned.
    const skipped = Math.min(skip, filled);
    skip -= skipped;
    if (skipped < filled) {
      const start = RAW_HEAD + skipped;
      seen(piece.subarray(start, RAW_HEAD + filled), at + skipped);
      yield rawInPlace(piece, start, RAW_HEAD + filled, stats);
    }
    at += filled;
  }
}

/** Room for a RAW instruction's header before bytes read in place. */
const RAW_HEAD = 1 + MAX_VARINT_BYTES;

/**
 * The RAW instruction of `piece[start, end)`, its header written just
 * before `start` (which leaves room for it).
 */
function rawInPlace(
  piece: Uint8Array,
  start: number,
  end: number,
  stats: DeltaStats,
): Uint8Array {
  const header = new Uint8Array(RAW_HEAD);
  header[0] = RAW;
  const size = writeVarint(header, 1, end - start);
  piece.set(header.subarray(0, size), start - size);
  stats.overhead += size;
  stats.literal += end - start;
  return piece.subarray(start - size, end);
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
