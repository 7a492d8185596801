/**
 * A pool of payload buffers, so a long transfer reuses a handful of buffers
 * instead of leaving a garbage buffer per chunk for the collector (which
 * lets resident memory climb by tens of megabytes).
 *
 * @module
 */

import { allocatePayload } from "./frame_encoder.ts";
import { DATA_CHUNK_SIZE, FRAME_HEADER_SIZE } from "./frame.ts";

/**
 * Lends out buffers of one size and takes back exactly the views it lent, so
 * a view sliced from a lent buffer can never return it to the pool early.
 *
 * @example
 * ```ts
 * const pool = new BufferPool();
 * const chunk = pool.lend(pool.take().subarray(0, n)); // fill, then lend
 * await file.write(chunk);
 * pool.give(chunk); // reused by the next take()
 * ```
 */
export class BufferPool {
  /** Payload size of every buffer. */
  readonly size: number;
  #free: ArrayBuffer[] = [];
  #lent = new WeakSet<Uint8Array>();
  #max: number;

  /** Keeps at most `max` idle buffers of `size` bytes. */
  constructor(size = DATA_CHUNK_SIZE, max = 8) {
    this.size = size;
    this.#max = max;
  }

  /**
   * Returns a payload buffer of `size` bytes with room for a frame header in
   * front of it, reused when one is idle.
   */
  take(): Uint8Array {
    const buffer = this.#free.pop();
    if (buffer) return new Uint8Array(buffer, FRAME_HEADER_SIZE, this.size);
    return allocatePayload(this.size);
  }

  /** Marks `view` (of a taken buffer) as lent; returns it. */
  lend(view: Uint8Array): Uint8Array {
    this.#lent.add(view);
    return view;
  }

  /** Takes back a view from {@linkcode lend}; ignores any other view. */
  give(view: Uint8Array): void {
    const buffer = this.reclaim(view);
    if (buffer) this.recycle(buffer);
  }

  /**
   * Ends the loan of `view` and returns its whole buffer, now the caller's
   * alone (to move it to a worker, say); `null` when `view` was not lent.
   */
  reclaim(view: Uint8Array): ArrayBuffer | null {
    if (!this.#lent.delete(view)) return null;
    const buffer = view.buffer as ArrayBuffer;
    return buffer.detached ? null : buffer;
  }

  /** Keeps `buffer` (from {@linkcode reclaim}) for reuse if it fits. */
  recycle(buffer: ArrayBuffer): void {
    if (
      this.#free.length < this.#max && !buffer.detached &&
      buffer.byteLength === FRAME_HEADER_SIZE + this.size
    ) {
      this.#free.push(buffer);
    }
  }
}
