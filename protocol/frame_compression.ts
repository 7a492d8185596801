/**
 * zstd for body pieces: each DATA payload is compressed on its own (level 1,
 * one zstd frame per piece) so the receiver can decompress it alone, and a
 * piece that does not shrink is sent as it is. node:zlib's native zstd runs
 * at about 500 MB/s on text and passes random data at about 2.6 GB/s here,
 * where CompressionStream has no zstd and gzip enlarges random data (see
 * docs/performance.md).
 *
 * @module
 */

import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { ProtocolError } from "./errors.ts";

const LEVEL_1 = { params: { [constants.ZSTD_c_compressionLevel]: 1 } };

/**
 * Returns `payload` compressed, or `null` when that saves less than 1/32 of
 * it (then the raw piece is cheaper to send and to take in).
 */
export function compressPayload(payload: Uint8Array): Uint8Array | null {
  const packed: Uint8Array = zstdCompressSync(payload, LEVEL_1);
  return packed.byteLength < payload.byteLength - (payload.byteLength >> 5)
    ? packed
    : null;
}

/**
 * Returns the piece `payload` stands for.
 *
 * @throws {ProtocolError} when it is not zstd, or holds more than `limit`
 * bytes (no peer may make a receiver allocate more than a frame's worth).
 */
export function decompressPayload(
  payload: Uint8Array,
  limit: number,
): Uint8Array {
  try {
    return zstdDecompressSync(payload, { maxOutputLength: limit });
  } catch (error) {
    throw new ProtocolError(
      error instanceof RangeError
        ? `a compressed frame holds more than ${limit} bytes`
        : "a compressed frame is not valid zstd",
      { cause: error },
    );
  }
}
