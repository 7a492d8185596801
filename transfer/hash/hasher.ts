/**
 * The end-to-end checksum of a transfer, fed with each chunk once the socket
 * or the disk is done with it, after which the chunk's buffer goes back to
 * its pool. The checksum is pluggable (see `checksum.ts`): XXH3-128 by
 * default, SHA-256 for older peers and on request.
 *
 * Hashing in a worker thread was tried and measured: on two cores shared by
 * both ends it was no faster than hashing inline and cost 25 MB more, so
 * hashing stays inline (see docs/performance.md).
 *
 * @module
 */

import type { BufferPool } from "../../protocol/buffer_pool.ts";
import type { Checksum, Digests } from "../../protocol/messages.ts";
import {
  digestFields,
  resumeHash,
  type RunningHash,
  startHash,
} from "./checksum.ts";
import { type ByteSource, hashPrefix } from "../file_chunks.ts";

/** Consumes a transfer's chunks in order, and gives their buffers back. */
export interface Hasher {
  /** The checksum computed, `null` when not hashing (`--no-verify`). */
  readonly checksum: Checksum | null;
  /**
   * Hashes `chunk` after every chunk before it; its buffer then goes back to
   * the pool, so the caller must not touch `chunk` afterwards.
   */
  update(chunk: Uint8Array): void;
  /** The hex digest of everything so far; the hasher stays usable. */
  hex(): string;
  /** The digest so far in its named field (empty when not hashing). */
  digests(): Digests;
  /** The state so far for {@linkcode resumeHasher}, or null when it cannot be saved. */
  save(): Uint8Array | null;
}

/**
 * Returns a hasher of `checksum` that starts empty, or from the first
 * `prefixLength` bytes of `prefix`, a local path or an open file (a resumed
 * transfer's bytes already in place).
 *
 * @example
 * ```ts
 * const hasher = await createHasher(pool, "xxh128");
 * // for each chunk, once written: hasher.update(chunk);
 * const trailer = hasher.digests(); // { xxh128: "…" }
 * ```
 */
export async function createHasher(
  pool: BufferPool,
  checksum: Checksum,
  prefix?: string | ByteSource,
  prefixLength = 0,
): Promise<Hasher> {
  return prefix && prefixLength > 0
    ? hasherFrom(
      pool,
      checksum,
      await hashPrefix(prefix, prefixLength, checksum),
    )
    : startHasher(pool, checksum);
}

/**
 * Returns an empty hasher at once (no prefix to read). Trees pass the
 * checksum agreed for the transfer; SHA-256 when none is given.
 */
export function startHasher(
  pool: BufferPool,
  checksum: Checksum = "sha256",
): Hasher {
  return hasherFrom(pool, checksum, startHash(checksum));
}

/**
 * Continues a hasher from a state its {@linkcode Hasher.save} gave (kept by
 * a store that cannot give the staged bytes back); null when `state` is not
 * one of `checksum`.
 */
export function resumeHasher(
  pool: BufferPool,
  checksum: Checksum,
  state: Uint8Array,
): Hasher | null {
  const hash = resumeHash(checksum, state);
  return hash && hasherFrom(pool, checksum, hash);
}

function hasherFrom(
  pool: BufferPool,
  checksum: Checksum,
  hash: RunningHash,
): Hasher {
  return {
    checksum,
    update(chunk) {
      hash.update(chunk);
      pool.give(chunk);
    },
    hex: () => hash.hex(),
    digests: () => digestFields(checksum, hash.hex()),
    save: () => hash.save(),
  };
}

/** A hasher that hashes nothing (`--no-verify`) and only recycles buffers. */
export function skipHashing(pool: BufferPool): Hasher {
  return {
    checksum: null,
    update: (chunk) => pool.give(chunk),
    hex: () => "",
    digests: () => ({}),
    save: () => null,
  };
}
