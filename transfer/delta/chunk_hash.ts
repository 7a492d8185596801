/**
 * The short hash naming one chunk: the low 48 bits of its XXH64, held in a
 * JavaScript number (exact up to 2^53). Short, because the list of them
 * crosses the network; safe, because a transfer built from chunks is always
 * checked with the full checksum of the whole file, and a false match (odds
 * about 2^-20 for two 256 MiB versions) only costs a retry as a whole file.
 * The chunker (gear_wasm.ts) computes it as it cuts; this is for a chunk
 * that arrives whole (a LITERAL).
 *
 * @module
 */

import { GearWindow } from "./gear_wasm.ts";
import { MAX_CHUNK } from "./gear.ts";

/** Bytes of a chunk hash on the wire. */
export const CHUNK_HASH_BYTES = 6;

// An instance of its own: a chunk is copied into its window and hashed there.
let window: GearWindow | null = null;

/** The 48-bit hash of `chunk` (at most {@linkcode MAX_CHUNK} bytes). */
export function chunkHash(chunk: Uint8Array): number {
  if (chunk.byteLength > MAX_CHUNK) {
    throw new RangeError("a chunk is at most 64 KiB");
  }
  window ??= new GearWindow();
  window.bytes.set(chunk);
  return window.hash(0, chunk.byteLength);
}

/** Reads a 48-bit hash stored little-endian at `at`. */
export function readHash(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) +
    (bytes[at + 3] | (bytes[at + 4] << 8) | (bytes[at + 5] << 16)) * 0x1000000;
}

/** Writes a 48-bit hash little-endian at `at`. */
export function writeHash(bytes: Uint8Array, at: number, hash: number): void {
  const low = hash % 0x1000000;
  const high = Math.floor(hash / 0x1000000);
  bytes[at] = low & 0xff;
  bytes[at + 1] = (low >>> 8) & 0xff;
  bytes[at + 2] = low >>> 16;
  bytes[at + 3] = high & 0xff;
  bytes[at + 4] = (high >>> 8) & 0xff;
  bytes[at + 5] = high >>> 16;
}
