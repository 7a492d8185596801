/**
 * Reads exact byte counts from a byte stream.
 *
 * On a byte stream (a socket's `readable`) it uses a BYOB reader so that each
 * read lands straight in the caller's buffer and one read can return megabytes;
 * on any other stream it gathers the chunks it is given.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** Reads exact byte counts from a `ReadableStream<Uint8Array>`. */
export class ExactReader {
  #byob: ReadableStreamBYOBReader | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #pending: Uint8Array | undefined;

  /** Locks `readable` for reading. */
  constructor(readable: ReadableStream<Uint8Array>) {
    try {
      this.#byob = readable.getReader({ mode: "byob" });
    } catch {
      this.#reader = readable.getReader();
    }
  }

  /**
   * Reads exactly `size` bytes into a new buffer.
   *
   * Returns `null` when the stream ends before the first byte; throws a
   * {@linkcode ProtocolError} when it ends part-way.
   */
  async read(size: number): Promise<Uint8Array | null> {
    let buffer = new Uint8Array(size);
    let filled = 0;
    if (this.#pending) {
      const take = Math.min(size, this.#pending.byteLength);
      buffer.set(this.#pending.subarray(0, take));
      this.#pending = take < this.#pending.byteLength
        ? this.#pending.subarray(take)
        : undefined;
      filled = take;
    }
    while (filled < size) {
      if (this.#byob) {
        const { value, done } = await this.#byob.read(
          new Uint8Array(buffer.buffer, filled, size - filled),
        );
        if (done || !value) return this.#ended(filled, size);
        buffer = new Uint8Array(value.buffer, 0, size);
        filled += value.byteLength;
      } else {
        const { value, done } = await this.#reader!.read();
        if (done) return this.#ended(filled, size);
        const take = Math.min(size - filled, value.byteLength);
        buffer.set(value.subarray(0, take), filled);
        if (take < value.byteLength) this.#pending = value.subarray(take);
        filled += take;
      }
    }
    return buffer;
  }

  #ended(filled: number, size: number): null {
    if (filled === 0) return null;
    throw new ProtocolError(
      `connection ended inside a frame (${filled} of ${size} bytes)`,
    );
  }

  /** Cancels the underlying stream. */
  async cancel(reason?: unknown): Promise<void> {
    await (this.#byob ?? this.#reader)!.cancel(reason).catch(() => {});
  }
}
