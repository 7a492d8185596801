/**
 * Where the files of a tree upload go, as the receive loop of `tree-put`
 * sees it: one {@linkcode TreeSink} per upload, fed each `file` message and
 * its body in order, reporting what became of each file in the same order.
 *
 * Two sinks exist because two kinds of store do: the local disk stages files
 * in the staging area and makes them durable in batches (one folder sync per
 * batch, `local/tree_staging_sink.ts`); a store without a staging folder of its
 * own (S3) takes each file as a store upload and commits several at once
 * (`tree_upload_sink.ts`).
 *
 * @module
 */

import type {
  Body,
  Checksum,
  FileMessage,
  FtsError,
} from "../../protocol/mod.ts";
import type { ReceivedBody } from "../../transfer/file_body.ts";
import { receiveFailure } from "../../transfer/tree/tree_files.ts";

/** What became of one received file. */
export interface TreeFileOutcome {
  /** The tree-relative path, for the report. */
  name: string;
  bytes: number;
  /** Modification time given to it, ms since the epoch. */
  mtime?: number;
  /** The verified digest of its bytes, in the upload's checksum. */
  digest?: string;
  /** Why the file is not in place; absent on success. */
  error?: FtsError;
}

/** What every sink is given. */
export interface TreeSinkOptions {
  /**
   * Checks a tree-relative path, makes its folder, and returns the file's
   * remote path; throws the reason the file cannot be kept.
   */
  locate(path: string): Promise<string>;
  /**
   * Whether the quick check saw nothing at tree-relative `path` (passed to
   * the store as `UploadOptions.fresh`).
   */
  fresh(path: string): boolean;
  /** Maps an error about tree-relative `path` to a typed one. */
  typed(error: unknown, path: string): FtsError;
  /** Hash the bodies and compare with the sender's trailers. */
  verify: boolean;
  /** The checksum agreed for the upload's trailers (`sha256` when absent). */
  checksum?: Checksum;
  /** Receives outcomes in the order the files came, once each is settled. */
  onSettled(outcomes: TreeFileOutcome[]): Promise<void>;
}

/** The destination of one tree upload's files. */
export interface TreeSink {
  /**
   * Takes one file: reads `body` to its end (the connection stays in step
   * even when the file fails) and settles it, now or later.
   *
   * @throws only when the connection fails.
   */
  receive(message: FileMessage, body: Body): Promise<void>;
  /** Settles every file received so far (whatever arrived whole is kept). */
  finish(): Promise<void>;
  /** Frees what the sink holds; after {@linkcode finish}, or instead of it. */
  close(): Promise<void>;
}

/**
 * Why the file of `message` cannot be kept, or undefined when `received`
 * is whole and intact; errors of the store are typed by `options`.
 */
export function fileFailure(
  options: TreeSinkOptions,
  received: ReceivedBody,
  message: FileMessage,
): FtsError | undefined {
  return receiveFailure(
    received,
    message,
    (error) => options.typed(error, message.path),
    `read "${message.path}"`,
  );
}
