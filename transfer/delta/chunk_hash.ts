/**
 * The short hash naming one chunk: the first 48 bits of its XXH3-128, held
 * in a JavaScript number (exact up to 2^53). Short, because the list of them
 * crosses the network; safe, because a transfer built from chunks is always
 * checked with the full checksum of the whole file, and a false match (odds
 * about 2^-20 for two 256 MiB versions) only costs a retry as a whole file.
 *
 * @module
 */

import xxhash128 from "hash-wasm/xxhash128";

interface WasmHasher {
  init(): WasmHasher;
  update(data: Uint8Array): WasmHasher;
  digest(format: "binary"): Uint8Array;
}

/** Bytes of a chunk hash on the wire. */
export const CHUNK_HASH_BYTES = 6;

// An instance of its own, so chunk hashes never swap out a transfer's
// running whole-file hash (see hash/xxh128.ts).
const wasm: WasmHasher = await (xxhash128 as {
  createXXHash128(): Promise<WasmHasher>;
}).createXXHash128();

/** The 48-bit hash of `chunk`. */
export function chunkHash(chunk: Uint8Array): number {
  const digest = wasm.init().update(chunk).digest("binary");
  return readHash(digest, 0);
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
