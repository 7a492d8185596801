/**
 * Unsigned LEB128 integers (up to 2^53), the compact numbers of the delta
 * encoding and of chunk summaries.
 *
 * @module
 */

/** Most bytes one varint takes. */
export const MAX_VARINT_BYTES = 8;

/** Writes `value` at `at` in `bytes`; returns the position after it. */
export function writeVarint(
  bytes: Uint8Array,
  at: number,
  value: number,
): number {
  while (value >= 0x80) {
    bytes[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  bytes[at++] = value;
  return at;
}
