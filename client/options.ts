/**
 * What a single-file transfer (`put`, `get`) is asked to do and what it
 * reports; tree transfers extend these.
 *
 * @module
 */

import type { Checksum } from "../protocol/messages.ts";
import type { CompressMode } from "../transfer/compression.ts";

/** How to transfer a file (both directions). */
export interface TransferOptions {
  /** Continue an interrupted transfer instead of starting over. */
  resume: boolean;
  /** Refuse to replace an existing target. */
  noClobber: boolean;
  /** Hash on both ends and compare (on by default; off only for benchmarks). */
  verify: boolean;
  /** Bytes per second at most (`--limit-rate`); unlimited when absent. */
  limitRate?: number;
  /**
   * The checksum to ask for (`--checksum`, XXH3-128 when absent); an older
   * server answers with SHA-256, and that is used then.
   */
  checksum?: Checksum;
  /** Compress the data (`-z`, `--compress=auto`), if the server agrees. */
  compress?: CompressMode;
  /**
   * Send whole files even where the other side holds another version
   * (`--whole-file`); otherwise only what changed goes (docs/delta.md).
   */
  wholeFile?: boolean;
}

/** What a finished transfer did. */
export interface TransferResult {
  /** Bytes moved over the network in this run. */
  bytes: number;
  /** What `bytes` took on the wire, when some went compressed (`-z`). */
  wire?: number;
  /** Where a resume started, 0 when the transfer started fresh. */
  resumedAt: number;
  /** The whole file's digest, when verified. */
  digest?: string;
  /** The checksum of `digest`. */
  checksum?: Checksum;
  /**
   * Set when only the changes were sent: the bytes of the new version
   * taken from the other side's old one (`bytes` is then what was sent).
   */
  reused?: number;
  /** The size of the file transferred, when known. */
  size?: number;
}
