/**
 * `get`: fetches one remote file into a local file (or stdout), through a
 * hidden partial file beside the target that survives an interruption and is
 * renamed into place only when complete and verified.
 *
 * @module
 */

import { basename, dirname, join } from "@std/path";
import { createHash } from "node:crypto";
import {
  AlreadyExistsError,
  type Entry,
  IntegrityError,
  WrongTypeError,
} from "../protocol/mod.ts";
import { fileSink, hashPrefix } from "../transfer/file_chunks.ts";
import { RateLimitStream } from "../transfer/rate_limit_stream.ts";
import {
  createSha256,
  peekDigest,
  type Sha256,
  Sha256Stream,
} from "../transfer/sha256_stream.ts";
import { type Connection, unexpected } from "./connection.ts";
import { formatBytes } from "./format.ts";
import { ProgressStream } from "./progress.ts";
import type { Reporter } from "./reporter.ts";
import {
  localError,
  type TransferOptions,
  type TransferResult,
} from "./upload.ts";

/** Prefix of the hidden partial files a download leaves beside its target. */
export const PARTIAL_PREFIX = ".fts-partial-";

/**
 * The hidden partial file for downloading `entry` from `remote` into
 * `target`. Its name carries the source's size and mtime, so a changed source
 * never resumes into it.
 */
export function partialPath(
  target: string,
  remote: string,
  entry: Entry,
): string {
  const key = createHash("sha256")
    .update(`${remote}\0${entry.size}\0${entry.mtime}`)
    .digest("hex").slice(0, 16);
  return join(dirname(target), `${PARTIAL_PREFIX}${key}-${basename(target)}`);
}

/**
 * Downloads `remote` to `local` (a path, or `-` for stdout).
 *
 * @throws {IntegrityError} when the received bytes do not match the server's
 * checksum; the target is left as it was.
 */
export async function download(
  connection: Connection,
  remote: string,
  local: string,
  options: TransferOptions,
  reporter: Reporter,
): Promise<TransferResult> {
  const action = `get "${remote}"`;
  const entry = await connection.stat(remote, false, action);
  if (entry.type !== "file") {
    throw new WrongTypeError(`cannot ${action}: it is a folder (use get -r)`);
  }
  if (local === "-") return await toStdout(connection, remote, options, action);

  if (options.noClobber && await exists(local)) {
    throw new AlreadyExistsError(`cannot ${action}: "${local}" already exists`);
  }
  const partial = partialPath(local, remote, entry);
  let held = 0;
  let prefix: Sha256 = createSha256();
  if (options.resume && options.verify) {
    held = await Deno.stat(partial).then((info) => info.size, () => 0);
    if (held > entry.size) held = 0;
    if (held > 0) prefix = await hashPrefix(partial, held);
  }
  const header = await connection.request({
    op: "get",
    path: remote,
    offset: held,
    prefixSha256: held > 0 ? peekDigest(prefix) : undefined,
    expect: { size: entry.size, mtime: entry.mtime },
    verify: options.verify,
  }, action);
  if (header.op !== "data") throw unexpected(header, action);
  const body = connection.reader.body();
  const offset = header.offset;
  if (offset > 0) {
    reporter.info(
      `resuming "${remote}" at ${formatBytes(offset)} of ${
        formatBytes(header.size ?? 0)
      }`,
    );
  } else if (header.restarted) {
    reporter.info(
      `the partial download of "${remote}" is stale; starting over`,
    );
  }

  let file: Deno.FsFile;
  try {
    file = await Deno.open(partial, { write: true, create: true });
  } catch (error) {
    await body.stream.cancel();
    throw localError(error, action);
  }
  const hashing = new Sha256Stream(offset > 0 ? prefix : createSha256());
  const bar = reporter.progress(remote, header.size, offset);
  let received = 0;
  try {
    await file.truncate(offset);
    await file.seek(offset, Deno.SeekMode.Start);
    let stream = body.stream;
    if (options.limitRate) {
      stream = stream.pipeThrough(new RateLimitStream(options.limitRate));
    }
    if (options.verify) stream = stream.pipeThrough(hashing);
    await stream
      .pipeThrough(
        new ProgressStream((n) => {
          received += n;
          bar?.advance(n);
        }),
      )
      .pipeTo(fileSink(file, (chunk) => connection.pool.give(chunk)));
    const trailer = await body.trailer;
    if (header.size !== null && offset + received !== header.size) {
      throw new IntegrityError(
        `cannot ${action}: received ${
          offset + received
        } of ${header.size} bytes`,
      );
    }
    if (options.verify && trailer.sha256 !== hashing.hex()) {
      await Deno.remove(partial).catch(() => {});
      throw new IntegrityError(
        `cannot ${action}: the data was damaged in transit (SHA-256 mismatch); "${local}" was not changed`,
      );
    }
    await file.syncData();
  } catch (error) {
    bar?.clear();
    file.close();
    throw connection.wrap(error, action);
  }
  file.close();
  bar?.finish();
  if (header.mode != null) await Deno.chmod(partial, header.mode & 0o777);
  if (header.mtime !== undefined) {
    await Deno.utime(partial, new Date(), new Date(header.mtime));
  }
  if (options.noClobber && await exists(local)) {
    throw new AlreadyExistsError(`cannot ${action}: "${local}" already exists`);
  }
  await Deno.rename(partial, local);
  return {
    bytes: received,
    resumedAt: offset,
    sha256: options.verify ? hashing.hex() : undefined,
  };
}

async function toStdout(
  connection: Connection,
  remote: string,
  options: TransferOptions,
  action: string,
): Promise<TransferResult> {
  const header = await connection.request({
    op: "get",
    path: remote,
    offset: 0,
    verify: options.verify,
  }, action);
  if (header.op !== "data") throw unexpected(header, action);
  const body = connection.reader.body();
  const hashing = new Sha256Stream();
  let received = 0;
  try {
    await body.stream.pipeThrough(hashing).pipeTo(
      fileSink(Deno.stdout, (chunk) => {
        received += chunk.byteLength;
        connection.pool.give(chunk);
      }),
    );
    const trailer = await body.trailer;
    if (options.verify && trailer.sha256 !== hashing.hex()) {
      throw new IntegrityError(
        `cannot ${action}: the data was damaged in transit (SHA-256 mismatch)`,
      );
    }
  } catch (error) {
    throw connection.wrap(error, action);
  }
  return { bytes: received, resumedAt: 0, sha256: hashing.hex() };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}
