/**
 * Reads exact byte counts from a byte stream or from a reader.
 *
 * From a reader (a socket's own `read`, as `Deno.Conn` has) each large read
 * lands straight in the caller's buffer, and a frame is gathered from as many
 * reads as it takes: a plain socket returns megabytes per read, a TLS
 * connection one 16 KiB record per read, and calling `read` directly rather
 * than through `conn.readable` saves the stream machinery on each of them
 * (65,536 reads per GiB over TLS; see docs/performance.md). On a byte stream
 * it uses a BYOB reader to the same end. Either way small reads (frame
 * headers, messages, small files) are served from one read-ahead of up to
 * {@linkcode READ_AHEAD} bytes, so a run of small frames costs one system
 * call rather than two per frame. On any other stream it gathers the chunks
 * it is given.
 *
 * @module
 */

import { TruncatedFrameError } from "./errors.ts";

/** Reads smaller than this are served from a read-ahead of this size. */
export const READ_AHEAD = 64 * 1024;

/**
 * Something that fills part of a buffer per call, like `Deno.Conn`: `read`
 * resolves to the number of bytes it put at the start of `buffer`, or `null`
 * at the end of the input.
 */
export interface ByteReader {
  read(buffer: Uint8Array): Promise<number | null>;
}

/** What an {@linkcode ExactReader} reads from. */
export type ByteInput = ReadableStream<Uint8Array> | ByteReader;

/** Reads exact byte counts from a `ReadableStream<Uint8Array>` or a reader. */
export class ExactReader {
  #direct: ByteReader | undefined;
  #byob: ReadableStreamBYOBReader | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #pending: Uint8Array | undefined;
  /** The read-ahead buffer, when no pending bytes still live in it. */
  #spare: ArrayBuffer | undefined;

  /** Locks `input` for reading when it is a stream. */
  constructor(input: ByteInput) {
    if (!(input instanceof ReadableStream)) {
      this.#direct = input;
      return;
    }
    try {
      this.#byob = input.getReader({ mode: "byob" });
    } catch {
      this.#reader = input.getReader();
    }
  }

  /**
   * Reads exactly `size` bytes into a new buffer.
   *
   * Returns `null` when the stream ends before the first byte; throws a
   * {@linkcode TruncatedFrameError} when it ends part-way.
   */
  read(size: number): Promise<Uint8Array | null> {
    return this.readInto(new Uint8Array(size));
  }

  /**
   * Fills `target` exactly and returns a view of the same memory (a BYOB read
   * transfers the buffer, so use the returned view, not `target`).
   *
   * Returns `null` when the stream ends before the first byte; throws a
   * {@linkcode TruncatedFrameError} when it ends part-way.
   */
  async readInto(target: Uint8Array): Promise<Uint8Array | null> {
    const size = target.byteLength;
    const start = target.byteOffset;
    let buffer = target.buffer as ArrayBuffer;
    let filled = 0;
    if (this.#pending) {
      const take = Math.min(size, this.#pending.byteLength);
      target.set(this.#pending.subarray(0, take));
      if (take < this.#pending.byteLength) {
        this.#pending = this.#pending.subarray(take);
      } else {
        if (!this.#reader) this.#spare = this.#pending.buffer as ArrayBuffer;
        this.#pending = undefined;
      }
      filled = take;
    }
    if (this.#direct) {
      return filled < size ? this.#readDirect(target, filled) : target;
    }
    while (filled < size) {
      if (this.#byob && size - filled < READ_AHEAD) {
        // Read ahead into the spare buffer and copy out what was asked for.
        const spare = this.#spare ?? new ArrayBuffer(READ_AHEAD);
        this.#spare = undefined;
        const { value, done } = await this.#byob.read(new Uint8Array(spare));
        if (done || !value) return this.#ended(filled, size);
        const take = Math.min(size - filled, value.byteLength);
        new Uint8Array(buffer, start + filled, take).set(
          value.subarray(0, take),
        );
        filled += take;
        if (take < value.byteLength) this.#pending = value.subarray(take);
        else this.#spare = value.buffer as ArrayBuffer;
      } else if (this.#byob) {
        const { value, done } = await this.#byob.read(
          new Uint8Array(buffer, start + filled, size - filled),
        );
        if (done || !value) return this.#ended(filled, size);
        buffer = value.buffer as ArrayBuffer;
        filled += value.byteLength;
      } else {
        const { value, done } = await this.#reader!.read();
        if (done) return this.#ended(filled, size);
        const take = Math.min(size - filled, value.byteLength);
        new Uint8Array(buffer, start + filled, take).set(
          value.subarray(0, take),
        );
        if (take < value.byteLength) this.#pending = value.subarray(take);
        filled += take;
      }
    }
    return new Uint8Array(buffer, start, size);
  }

  /**
   * Puts at least one and at most `target.byteLength` bytes into `target`
   * (which stays the caller's: nothing is transferred) and returns how many,
   * or `null` at the end of the input. From a reader this is one read
   * straight into `target` (or bytes left over from a read-ahead), so a
   * caller streaming a large payload into its own buffers pays no copy.
   */
  async readSome(target: Uint8Array): Promise<number | null> {
    if (target.byteLength === 0) return 0;
    if (this.#pending) {
      const take = Math.min(target.byteLength, this.#pending.byteLength);
      const got = await this.readInto(target.subarray(0, take));
      return got && take;
    }
    if (this.#direct) return await this.#direct.read(target);
    // A stream: gather a piece no larger than asked, then copy it over.
    const piece = Math.min(target.byteLength, READ_AHEAD);
    const got = await this.readInto(new Uint8Array(piece));
    if (got === null) return null;
    target.set(got);
    return got.byteLength;
  }

  // Nothing is pending here (what was is already in `target`), so the
  // read-ahead buffer is free, and no read transfers a buffer.
  async #readDirect(
    target: Uint8Array,
    filled: number,
  ): Promise<Uint8Array | null> {
    const size = target.byteLength;
    const input = this.#direct!;
    while (filled < size) {
      if (size - filled < READ_AHEAD) {
        const spare = new Uint8Array(
          this.#spare ??= new ArrayBuffer(READ_AHEAD),
        );
        const n = await input.read(spare);
        if (n === null) return this.#ended(filled, size);
        const take = Math.min(size - filled, n);
        target.set(spare.subarray(0, take), filled);
        filled += take;
        if (take < n) {
          this.#pending = spare.subarray(take, n);
          this.#spare = undefined;
        }
      } else {
        const n = await input.read(target.subarray(filled));
        if (n === null) return this.#ended(filled, size);
        filled += n;
      }
    }
    return target;
  }

  #ended(filled: number, size: number): null {
    if (filled === 0) return null;
    throw new TruncatedFrameError(
      `connection ended inside a frame (${filled} of ${size} bytes)`,
    );
  }

  /** Cancels the underlying stream (a reader's owner closes it instead). */
  async cancel(reason?: unknown): Promise<void> {
    await (this.#byob ?? this.#reader)?.cancel(reason).catch(() => {});
  }
}
