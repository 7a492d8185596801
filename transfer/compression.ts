/**
 * When a body's pieces are worth compressing (`-z`, `--compress=auto`).
 *
 * `on` tries zstd on every piece; a piece that does not shrink still goes
 * out raw (see protocol/frame_compression.ts), so incompressible data costs
 * only the attempt. `auto` goes beyond rsync's and scp's fixed choice: it
 * sends raw and measures the rate the connection takes the bytes at, and
 * turns compression on when that rate is below what compression itself
 * sustains on this machine (measured as it goes; 300 MB/s until then).
 * While compressing it watches two things: a window that barely shrank turns
 * compression off for a while (incompressible data), and a pipeline that
 * runs as fast as the compressor means the compressor is now the bound, so
 * it measures the link raw again.
 *
 * @module
 */

import type { SendBodyOptions } from "../protocol/message_writer.ts";

/** How a transfer compresses: always, by measurement, or (absent) never. */
export type CompressMode = "on" | "auto";

/** Bytes per decision window of `auto`. */
const WINDOW = 8 * 1024 * 1024;
/** Compression speed assumed before any is measured, bytes per ms. */
const ASSUMED_SPEED = 300_000;
/** Windows to stay raw after one that did not shrink by 1/16. */
const BACKOFF = 4;

/**
 * Decides per piece whether to compress, as `sendBody` options. Without a
 * mode it never compresses.
 *
 * @example
 * ```ts
 * await writer.sendBody(chunks, trailer, onWritten, compression("auto"));
 * ```
 */
export function compression(mode: CompressMode | undefined): SendBodyOptions {
  if (mode === undefined) return {};
  if (mode === "on") return { compress: () => true };
  const auto = new AutoCompression();
  return {
    compress: (chunk) => auto.next(chunk.byteLength, performance.now()),
    onCompressed: (raw, sent, ms) => auto.measured(raw, sent, ms),
  };
}

/** The state of `--compress=auto`; `now` is passed in so tests can drive it. */
export class AutoCompression {
  #packing = false;
  #rawWindowsLeft = 0;
  #windowStart = -1;
  #windowBytes = 0;
  #windowRaw = 0;
  #windowSent = 0;
  #compressMs = 0;
  #compressBytes = 0;

  /** Whether the next piece, of `bytes`, should be compressed. */
  next(bytes: number, now: number): boolean {
    if (this.#windowStart < 0) this.#windowStart = now;
    else if (this.#windowBytes >= WINDOW) {
      this.#decide(this.#windowBytes / Math.max(now - this.#windowStart, 1e-3));
      this.#windowStart = now;
      this.#windowBytes = this.#windowRaw = this.#windowSent = 0;
    }
    this.#windowBytes += bytes;
    return this.#packing;
  }

  /** Records one compression: `raw` bytes became `sent` in `ms`. */
  measured(raw: number, sent: number, ms: number): void {
    this.#windowRaw += raw;
    this.#windowSent += sent;
    this.#compressBytes += raw;
    this.#compressMs += ms;
  }

  /** Compression speed measured so far, bytes per millisecond. */
  get speed(): number {
    return this.#compressMs > 0
      ? this.#compressBytes / this.#compressMs
      : ASSUMED_SPEED;
  }

  #decide(rate: number): void {
    if (this.#packing) {
      const shrank = this.#windowSent < this.#windowRaw * (15 / 16);
      if (!shrank) this.#rawWindowsLeft = BACKOFF;
      // Going as fast as the compressor: the link may be faster; measure it.
      this.#packing = shrank && rate < this.speed * 0.8;
    } else if (this.#rawWindowsLeft > 0) {
      this.#rawWindowsLeft--;
    } else {
      this.#packing = rate < this.speed;
    }
  }
}
