/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * What the browser gets for `@std/crypto/timing-safe-equal`, which
 * protocol/scram.ts imports: the page loads the same SCRAM code as the
 * server and the command line, but a browser cannot load an npm module, so
 * the server maps that one import here.
 *
 * @module
 */

/** Compares two byte arrays in time that depends on their length only. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let difference = 0;
  for (let i = 0; i < a.byteLength; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
