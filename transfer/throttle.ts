/**
 * A byte budget per second shared by everything one transfer sends or
 * receives (`--limit-rate` for trees, where many small files go out in
 * batches rather than through one stream).
 *
 * @module
 */

/**
 * Paces a transfer to `bytesPerSecond`: each {@linkcode consume} waits until
 * the bytes counted so far are due.
 *
 * @example
 * ```ts
 * const throttle = new Throttle(1024 * 1024);
 * for (const chunk of chunks) {
 *   await throttle.consume(chunk.byteLength);
 *   await send(chunk);
 * }
 * ```
 */
export class Throttle {
  /** The rate, in bytes per second. */
  readonly bytesPerSecond: number;
  #started = -1;
  #passed = 0;

  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** A good size for one paced piece: about a tenth of a second's worth. */
  get slice(): number {
    return Math.max(16 * 1024, Math.floor(this.bytesPerSecond / 10));
  }

  /** Counts `bytes` and waits until they are due. */
  async consume(bytes: number): Promise<void> {
    const now = performance.now();
    if (this.#started < 0) this.#started = now;
    this.#passed += bytes;
    const due = this.#started + (this.#passed / this.bytesPerSecond) * 1000;
    if (due > now) {
      await new Promise((resolve) => setTimeout(resolve, due - now));
    }
  }
}
