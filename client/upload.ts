/**
 * `put`: sends one local file (or stdin) to the server, resuming an earlier
 * partial upload of the same source when the server still has one.
 *
 * @module
 */

import {
  IntegrityError,
  IoError,
  NotFoundError,
  WrongTypeError,
} from "../protocol/mod.ts";
import type { Checksum } from "../protocol/messages.ts";
import {
  checksumLabel,
  DEFAULT_CHECKSUM,
  digestIn,
  prefixIn,
  repliedChecksum,
} from "../transfer/checksum.ts";
import { compression, type CompressMode } from "../transfer/compression.ts";
import { fileChunks } from "../transfer/file_chunks.ts";
import { createHasher, skipHashing } from "../transfer/hasher.ts";
import { RateLimitStream } from "../transfer/rate_limit_stream.ts";
import { type Connection, unexpected } from "./connection.ts";
import { formatBytes } from "./format.ts";
import type { Reporter } from "./reporter.ts";

/** How to upload. */
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
}

/** What a finished transfer did. */
export interface TransferResult {
  /** Bytes moved over the network in this run. */
  bytes: number;
  /** Where a resume started, 0 when the transfer started fresh. */
  resumedAt: number;
  /** The whole file's digest, when verified. */
  digest?: string;
  /** The checksum of `digest`. */
  checksum?: Checksum;
}

/**
 * Uploads `local` (a path, or `-` for stdin) to `remote`.
 *
 * @throws {NotFoundError} when the local file does not exist.
 * @throws {IntegrityError} when the server's checksum differs.
 */
export async function upload(
  connection: Connection,
  local: string,
  remote: string,
  options: TransferOptions,
  reporter: Reporter,
): Promise<TransferResult> {
  const action = `put "${local === "-" ? "stdin" : local}"`;
  const fromStdin = local === "-";
  let file: Deno.FsFile;
  try {
    file = fromStdin
      ? Deno.stdin as unknown as Deno.FsFile
      : await Deno.open(local);
  } catch (error) {
    throw localError(error, action);
  }
  try {
    const info = fromStdin ? null : await file.stat();
    if (info && !info.isFile) {
      throw new WrongTypeError(`it is a folder (use put -r)`, {
        action: action,
      });
    }
    const size = info ? info.size : null;
    const ready = await connection.request({
      op: "put",
      path: remote,
      size,
      mtime: Math.max(0, Math.round(info?.mtime?.getTime() ?? Date.now())),
      mode: info?.mode == null ? null : info.mode & 0o7777,
      resume: options.resume,
      noClobber: options.noClobber,
      verify: options.verify,
      checksum: options.checksum ?? DEFAULT_CHECKSUM,
      compress: options.compress !== undefined || undefined,
    }, action);
    if (ready.op !== "ready") throw unexpected(ready, action);

    const { pool } = connection;
    const checksum = repliedChecksum(ready);
    let offset = 0;
    let hasher = options.verify
      ? await createHasher(pool, checksum)
      : skipHashing(pool);
    if (ready.offset > 0 && size !== null) {
      const prefix = await createHasher(pool, checksum, local, ready.offset);
      if (prefix.hex() === prefixIn(ready, checksum)) {
        hasher = prefix;
        offset = ready.offset;
        reporter.info(
          `resuming "${remote}" at ${formatBytes(offset)} of ${
            formatBytes(size)
          }`,
        );
      } else {
        reporter.info(
          `the partial upload of "${remote}" does not match "${local}"; starting over`,
        );
      }
    }
    await connection.writer.send({ op: "data", offset, size });
    if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);

    let chunks = fileChunks(file, pool);
    if (options.limitRate) {
      chunks = chunks.pipeThrough(new RateLimitStream(options.limitRate));
    }
    const bar = reporter.progress(remote, size, offset);
    let sent = 0;
    try {
      await connection.writer.sendBody(
        chunks,
        () => hasher.digests(),
        (chunk) => {
          sent += chunk.byteLength;
          bar?.advance(chunk.byteLength);
          hasher.update(chunk);
        },
        compression(ready.compress ? options.compress : undefined),
      );
    } catch (error) {
      bar?.clear();
      throw connection.wrap(error, action);
    }
    let done;
    try {
      done = await connection.reply(action);
    } finally {
      bar?.finish();
    }
    if (done.op !== "done") throw unexpected(done, action);
    const digest = options.verify ? digestIn(done, checksum) : undefined;
    if (options.verify && digest !== hasher.hex()) {
      throw new IntegrityError(
        `the server's ${checksumLabel(checksum)} differs from the local one`,
        { action: action },
      );
    }
    return { bytes: sent, resumedAt: offset, digest, checksum };
  } finally {
    if (!fromStdin) file.close();
  }
}

/** Maps a local file-system error to a one-line typed error. */
export function localError(error: unknown, action: string): Error {
  if (error instanceof Deno.errors.NotFound) {
    return new NotFoundError(`no such local file`, { action: action });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new IoError(`permission denied`, { action: action });
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new WrongTypeError(`it is a folder`, { action: action });
  }
  return error instanceof Error ? error : new Error(String(error));
}
