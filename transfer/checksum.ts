/**
 * The end-to-end checksums both ends compute, and how they are agreed on.
 *
 * A client names the checksum it would like in its request; the server
 * answers with the one it uses (`ready.checksum`, `data.checksum`). A peer
 * that names none is an older one and speaks only SHA-256, so absence means
 * `sha256` both ways and old and new peers keep working together. Each digest
 * travels in a field named after its checksum.
 *
 * @module
 */

import {
  type Checksum,
  type Digests,
  isChecksum,
} from "../protocol/messages.ts";
import { createSha256, peekDigest } from "./sha256.ts";
import { Xxh128 } from "./xxh128.ts";

/** The checksum transfers use unless told otherwise. */
export const DEFAULT_CHECKSUM: Checksum = "xxh128";

/** A running hash of either checksum. */
export interface RunningHash {
  update(bytes: Uint8Array): void;
  /** The hex digest so far; the hash stays usable. */
  hex(): string;
}

/** Starts a running hash of `checksum`. */
export function startHash(checksum: Checksum): RunningHash {
  if (checksum === "xxh128") return new Xxh128();
  const hash = createSha256();
  return {
    update: (bytes) => void hash.update(bytes),
    hex: () => peekDigest(hash),
  };
}

/**
 * The checksum a server uses for a request that asked for `requested`: that
 * one when this build speaks it, otherwise (absent, or unknown to this
 * build) `sha256`, which every peer speaks.
 */
export function agreeChecksum(requested: unknown): Checksum {
  return isChecksum(requested) ? requested : "sha256";
}

/**
 * The checksum a peer's reply says it used: `sha256` when it names none (an
 * older peer).
 */
export function repliedChecksum(reply: { checksum?: Checksum }): Checksum {
  return reply.checksum ?? "sha256";
}

/** `digest` in the field of `checksum`, for a trailer, `done` or an entry. */
export function digestFields(checksum: Checksum, digest: string): Digests {
  return checksum === "xxh128" ? { xxh128: digest } : { sha256: digest };
}

/** The digest of `checksum` in `fields`, if it is there. */
export function digestIn(
  fields: Digests,
  checksum: Checksum,
): string | undefined {
  return fields[checksum];
}

/** The digest fields of a resume offer (`ready`, `get`). */
export interface PrefixDigests {
  prefixSha256?: string;
  prefixXxh128?: string;
}

/** A resume offer's digest of the held prefix, in the field of `checksum`. */
export function prefixFields(
  checksum: Checksum,
  digest: string,
): PrefixDigests {
  return checksum === "xxh128"
    ? { prefixXxh128: digest }
    : { prefixSha256: digest };
}

/** The held prefix's digest of `checksum` in a resume offer. */
export function prefixIn(
  offer: PrefixDigests,
  checksum: Checksum,
): string | undefined {
  return checksum === "xxh128" ? offer.prefixXxh128 : offer.prefixSha256;
}

/** The name users see in messages ("SHA-256", "XXH3-128"). */
export function checksumLabel(checksum: Checksum): string {
  return checksum === "xxh128" ? "XXH3-128" : "SHA-256";
}
