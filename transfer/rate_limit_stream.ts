/**
 * Bandwidth limiting (`--limit-rate`), as a pass-through stream stage.
 *
 * @module
 */

import { Throttle } from "./throttle.ts";

/**
 * Parses a rate such as `500K`, `10M` or `1G` (bytes per second, binary
 * units) or a plain number of bytes per second.
 *
 * @throws {TypeError} when `text` is not a rate.
 */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(text.trim());
  if (!match) throw new TypeError(`"${text}" is not a rate (try 500K, 10M)`);
  const scale = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[
    match[2].toUpperCase() as "" | "K" | "M" | "G"
  ];
  const rate = Math.floor(Number(match[1]) * scale);
  if (rate <= 0) throw new TypeError(`"${text}" is not a positive rate`);
  return rate;
}

/**
 * Passes bytes through at no more than `bytesPerSecond`, in slices of about
 * a tenth of a second, so that a limited transfer still moves smoothly.
 */
export class RateLimitStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor(bytesPerSecond: number) {
    const throttle = new Throttle(bytesPerSecond);
    super({
      async transform(chunk, controller) {
        for (let at = 0; at < chunk.byteLength; at += throttle.slice) {
          const piece = chunk.subarray(at, at + throttle.slice);
          await throttle.consume(piece.byteLength);
          controller.enqueue(piece);
        }
      },
    });
  }
}
