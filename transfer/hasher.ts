/**
 * SHA-256 of a transfer, fed with each chunk once the socket or the disk is
 * done with it, after which the chunk's buffer goes back to its pool.
 *
 * Hashing in a worker thread was tried and measured: on two cores shared by
 * both ends it was no faster than hashing inline and cost 25 MB more, so
 * hashing stays inline (see docs/performance.md).
 *
 * @module
 */

import type { BufferPool } from "../protocol/buffer_pool.ts";
import { hashPrefix } from "./file_chunks.ts";
import { createSha256, peekDigest, type Sha256 } from "./sha256.ts";

/** Consumes a transfer's chunks in order, and gives their buffers back. */
export interface Hasher {
  /**
   * Hashes `chunk` after every chunk before it; its buffer then goes back to
   * the pool, so the caller must not touch `chunk` afterwards.
   */
  update(chunk: Uint8Array): void;
  /** The hex digest of everything so far; the hasher stays usable. */
  hex(): string;
}

/**
 * Returns a hasher that starts empty, or from the first `prefixLength` bytes
 * of the file at `prefixPath` (a resumed transfer's bytes already in place).
 *
 * @example
 * ```ts
 * const hasher = await createHasher(pool);
 * // for each chunk, once written: hasher.update(chunk);
 * const sha256 = hasher.hex();
 * ```
 */
export async function createHasher(
  pool: BufferPool,
  prefixPath?: string,
  prefixLength = 0,
): Promise<Hasher> {
  return prefixPath && prefixLength > 0
    ? hasherFrom(pool, await hashPrefix(prefixPath, prefixLength))
    : startHasher(pool);
}

/** Returns an empty hasher at once (no prefix to read). */
export function startHasher(pool: BufferPool): Hasher {
  return hasherFrom(pool, createSha256());
}

function hasherFrom(pool: BufferPool, hash: Sha256): Hasher {
  return {
    update(chunk) {
      hash.update(chunk);
      pool.give(chunk);
    },
    hex: () => peekDigest(hash),
  };
}

/** A hasher that hashes nothing (`--no-verify`) and only recycles buffers. */
export function skipHashing(pool: BufferPool): Hasher {
  return { update: (chunk) => pool.give(chunk), hex: () => "" };
}
