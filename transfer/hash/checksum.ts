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
} from "../../protocol/messages.ts";
import { createSha256, peekDigest } from "./sha256.ts";
import { Xxh128, xxh128Of } from "./xxh128.ts";

/** The checksum transfers use unless told otherwise. */
export const DEFAULT_CHECKSUM: Checksum = "xxh128";

/** A running hash of either checksum. */
export interface RunningHash {
  update(bytes: Uint8Array): void;
  /** The hex digest so far; the hash stays usable. */
  hex(): string;
  /**
   * The state so far, for {@linkcode resumeHash} (an S3 upload resumed by
   * another server); null when this checksum's state cannot be saved
   * (node:crypto's SHA-256 cannot).
   */
  save(): Uint8Array | null;
}

/** First byte of a saved XXH3-128 state, so no other state is mistaken for one. */
const XXH128_STATE = 0x78;

/**
 * The hex digest of `checksum` over `parts` one after the other, for bytes
 * that are all at hand (a small file): cheaper than a running hash.
 */
export function digestOf(
  checksum: Checksum,
  parts: readonly Uint8Array[],
): string {
  if (checksum === "xxh128") return xxh128Of(parts);
  const hash = createSha256();
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

/** Starts a running hash of `checksum`. */
export function startHash(checksum: Checksum): RunningHash {
  return checksum === "xxh128" ? xxh128Hash(new Xxh128()) : sha256Hash();
}

/**
 * Continues a hash from what its {@linkcode RunningHash.save} gave; null
 * when `state` is not a saved state of `checksum`.
 */
export function resumeHash(
  checksum: Checksum,
  state: Uint8Array,
): RunningHash | null {
  if (checksum !== "xxh128" || state[0] !== XXH128_STATE) return null;
  try {
    return xxh128Hash(Xxh128.load(state.subarray(1)));
  } catch {
    return null;
  }
}

function xxh128Hash(hash: Xxh128): RunningHash {
  return {
    update: (bytes) => void hash.update(bytes),
    hex: () => hash.hex(),
    save: () => {
      const state = hash.save();
      const saved = new Uint8Array(state.byteLength + 1);
      saved[0] = XXH128_STATE;
      saved.set(state, 1);
      return saved;
    },
  };
}

function sha256Hash(): RunningHash {
  const hash = createSha256();
  return {
    update: (bytes) => void hash.update(bytes),
    hex: () => peekDigest(hash),
    save: () => null,
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
