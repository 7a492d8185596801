/**
 * The receiving side of a delta: reads the instructions as they arrive and
 * rebuilds the new version in order, from the old version's chunks and the
 * new bytes, handing every byte to a sink (the staged file and the
 * whole-file checksum). The old version is only read, never changed.
 *
 * @module
 */

import { IoError, ProtocolError } from "../../protocol/errors.ts";
import { COPY, type DeltaStats, LITERAL, RAW } from "./delta_ops.ts";

/** The old version, read at the offsets of its chunks. */
export interface OldVersion {
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * Where the rebuilt bytes go, in order. The bytes are valid only until the
 * returned promise settles (copied bytes share one buffer), so a sink that
 * keeps them copies them.
 */
export type DeltaSink = (bytes: Uint8Array) => Promise<void>;

/** Sees the instructions as they are applied (to derive a new summary). */
export interface DeltaWatcher {
  /** Old chunks `index` to `index + count - 1` were copied. */
  copied(index: number, count: number): void;
  /** Bytes of a LITERAL (`chunk`) or a RAW arrived; `end` on its last piece. */
  literal(bytes: Uint8Array, end: boolean, chunk: boolean): void;
}

const COPY_PIECE = 1024 * 1024;

/**
 * Applies the delta in `body` (chunks as they arrive) to `old`, whose
 * chunks start at `offsets` (with the old file's length last), writing the
 * result to `sink`. `release` gets each body chunk back once it is used.
 *
 * @throws {ProtocolError} when the instructions are malformed or name
 * chunks the summary did not have.
 * @throws {IoError} when the old version turned out shorter than its
 * summary (it changed meanwhile).
 */
export async function applyDelta(
  body: AsyncIterable<Uint8Array>,
  old: OldVersion,
  offsets: Float64Array,
  sink: DeltaSink,
  stats: DeltaStats,
  release: (chunk: Uint8Array) => void = () => {},
  watcher?: DeltaWatcher,
): Promise<void> {
  // New bytes are written while the next body chunk is read and parsed:
  // `writing` settles when every write queued so far is done, `previous`
  // when the chunk before this one is written and released.
  let writing: Promise<void> = Promise.resolve();
  let previous: Promise<void> = Promise.resolve();
  const queue = (bytes: Uint8Array) =>
    writing = heard(writing.then(() => sink(bytes)));
  const copier = new OldCopier(old, offsets, queue);
  const copy = async (index: number, count: number) => {
    await copier.copy(index, count);
    stats.reused += offsets[index + count] - offsets[index];
    watcher?.copied(index, count);
  };
  let literalLeft = 0;
  let literalTag = 0;
  let tag = 0;
  const fields: number[] = [];
  let value = 0;
  let scale = 1;
  try {
    for await (const chunk of body) {
      let at = 0;
      while (at < chunk.byteLength) {
        if (literalLeft > 0) {
          const n = Math.min(literalLeft, chunk.byteLength - at);
          const piece = chunk.subarray(at, at + n);
          watcher?.literal(piece, n === literalLeft, literalTag === LITERAL);
          copier.flush();
          queue(piece);
          literalLeft -= n;
          stats.literal += n;
          at += n;
          continue;
        }
        const byte = chunk[at++];
        stats.overhead++;
        if (tag === 0) {
          if (byte !== COPY && byte !== LITERAL && byte !== RAW) {
            throw new ProtocolError(
              `the delta has an unknown instruction ${byte}`,
            );
          }
          tag = byte;
          fields.length = 0;
          continue;
        }
        value += (byte & 0x7f) * scale;
        scale *= 0x80;
        if (byte & 0x80) {
          if (scale > 2 ** 56) {
            throw new ProtocolError("the delta has a bad number");
          }
          continue;
        }
        fields.push(value);
        value = 0;
        scale = 1;
        if (tag === LITERAL || tag === RAW) {
          literalLeft = fields[0];
          literalTag = tag;
          tag = 0;
        } else if (fields.length === 2) {
          await copy(fields[0], fields[1]);
          tag = 0;
        }
      }
      await previous;
      previous = heard(writing.then(() => release(chunk)));
    }
    copier.flush();
    await previous;
    await writing;
  } finally {
    // No write may still use a body chunk once this returns.
    await writing.catch(() => {});
  }
  if (tag !== 0 || literalLeft > 0) {
    throw new ProtocolError("the delta ended in the middle of an instruction");
  }
}

/**
 * Copies runs of the old version's chunks into the sink, gathered into
 * pieces of {@linkcode COPY_PIECE} bytes (a file of one repeated block is
 * thousands of short runs; each its own write cost 2-3x a plain copy),
 * through two buffers kept for every copy: one fills while the other is
 * written (a whole file passing through fresh buffers left hundreds of
 * megabytes to the garbage collector).
 */
class OldCopier {
  #old: OldVersion;
  #offsets: Float64Array;
  #queue: (bytes: Uint8Array) => Promise<void>;
  #position = -1;
  #buffers: Uint8Array[] = [];
  /** Settles when each buffer's last write is done. */
  #written: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  #turn = 0;
  #filled = 0;

  constructor(
    old: OldVersion,
    offsets: Float64Array,
    queue: (bytes: Uint8Array) => Promise<void>,
  ) {
    this.#old = old;
    this.#offsets = offsets;
    this.#queue = queue;
  }

  /** Gathers chunks `index` to `index + count - 1`, queueing full pieces. */
  async copy(index: number, count: number): Promise<void> {
    const offsets = this.#offsets;
    if (count === 0 || index + count >= offsets.length) {
      throw new ProtocolError(
        "the delta names chunks the summary did not have",
      );
    }
    let at = offsets[index];
    const end = offsets[index + count];
    if (at !== this.#position) await this.#old.seek(at, Deno.SeekMode.Start);
    if (this.#buffers.length === 0) {
      this.#buffers = [new Uint8Array(COPY_PIECE), new Uint8Array(COPY_PIECE)];
    }
    while (at < end) {
      // The buffer is free once its last write is done.
      if (this.#filled === 0) await this.#written[this.#turn];
      const n = Math.min(end - at, COPY_PIECE - this.#filled);
      const start = this.#filled;
      await this.#fill(this.#buffers[this.#turn].subarray(start, start + n));
      this.#filled += n;
      at += n;
      if (this.#filled === COPY_PIECE) this.flush();
    }
    this.#position = end;
  }

  /** Queues the bytes gathered so far (before new bytes are queued). */
  flush(): void {
    if (this.#filled === 0) return;
    const bytes = this.#buffers[this.#turn].subarray(0, this.#filled);
    this.#written[this.#turn] = this.#queue(bytes);
    this.#turn ^= 1;
    this.#filled = 0;
  }

  async #fill(piece: Uint8Array): Promise<void> {
    let filled = 0;
    while (filled < piece.byteLength) {
      const n = await this.#old.read(piece.subarray(filled));
      if (n === null) {
        throw new IoError(
          "the old version changed while the delta was applied",
        );
      }
      filled += n;
    }
  }
}

/**
 * `promise`, marked as handled: its failure is thrown where it is awaited
 * later, not reported as unhandled before then.
 */
function heard(promise: Promise<void>): Promise<void> {
  promise.catch(() => {});
  return promise;
}
