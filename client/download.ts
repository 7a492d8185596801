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
  type Body,
  type Entry,
  IntegrityError,
  WrongTypeError,
} from "../protocol/mod.ts";
import type { Checksum } from "../protocol/messages.ts";
import {
  checksumLabel,
  DEFAULT_CHECKSUM,
  digestIn,
  prefixFields,
  repliedChecksum,
} from "../transfer/checksum.ts";
import { fileSink } from "../transfer/file_chunks.ts";
import { createHasher, type Hasher, skipHashing } from "../transfer/hasher.ts";
import { RateLimitStream } from "../transfer/rate_limit_stream.ts";
import { type Connection, unexpected } from "./connection.ts";
import { formatBytes } from "./format.ts";
import type { ProgressBar } from "./progress.ts";
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
    throw new WrongTypeError(`it is a folder (use get -r)`, { action: action });
  }
  if (local === "-") return await toStdout(connection, remote, options, action);

  if (options.noClobber && await exists(local)) {
    throw new AlreadyExistsError(`"${local}" already exists`, {
      action: action,
    });
  }
  const { pool } = connection;
  const partial = partialPath(local, remote, entry);
  const held = options.resume && options.verify
    ? await Deno.stat(partial).then((info) => info.size, () => 0)
    : 0;
  const offer = held <= entry.size ? held : 0;
  const wanted = options.checksum ?? DEFAULT_CHECKSUM;
  let hasher = !options.verify
    ? skipHashing(pool)
    : await createHasher(pool, wanted, partial, offer);
  const header = await connection.request({
    op: "get",
    path: remote,
    offset: offer,
    ...(offer > 0 ? prefixFields(wanted, hasher.hex()) : {}),
    expect: { size: entry.size, mtime: entry.mtime },
    verify: options.verify,
    checksum: wanted,
    compress: options.compress,
  }, action);
  if (header.op !== "data") throw unexpected(header, action);
  const body = connection.reader.body();
  const offset = header.offset;
  const checksum = repliedChecksum(header);
  if (offset > 0) {
    reporter.info(
      `resuming "${remote}" at ${formatBytes(offset)} of ${
        formatBytes(header.size ?? 0)
      }`,
    );
  } else if (offer > 0) {
    reporter.info(
      `the partial download of "${remote}" is stale; starting over`,
    );
  }
  if (options.verify && (offset !== offer || checksum !== wanted)) {
    // Starting over, or an older server that hashes with SHA-256 only.
    hasher = await createHasher(pool, checksum, partial, offset);
  }

  let file: Deno.FsFile;
  try {
    file = await Deno.open(partial, { write: true, create: true });
    await file.truncate(offset);
    await file.seek(offset, Deno.SeekMode.Start);
  } catch (error) {
    await body.stream.cancel();
    throw localError(error, action);
  }
  const bar = reporter.progress(remote, header.size, offset);
  let received: number;
  try {
    received = await receive(
      body,
      file,
      hasher,
      options,
      bar,
      action,
    );
    if (header.size !== null && offset + received !== header.size) {
      throw new IntegrityError(
        `received ${offset + received} of ${header.size} bytes`,
        { action: action },
      );
    }
    await file.syncData();
  } catch (error) {
    if (error instanceof IntegrityError) {
      await Deno.remove(partial).catch(() => {});
    }
    bar?.clear();
    throw connection.wrap(error, action);
  } finally {
    file.close();
  }
  bar?.finish();
  if (header.mode != null) await Deno.chmod(partial, header.mode & 0o777);
  if (header.mtime !== undefined) {
    await Deno.utime(partial, new Date(), new Date(header.mtime));
  }
  if (options.noClobber && await exists(local)) {
    throw new AlreadyExistsError(`"${local}" already exists`, {
      action: action,
    });
  }
  await Deno.rename(partial, local);
  return {
    bytes: received,
    resumedAt: offset,
    digest: options.verify ? hasher.hex() : undefined,
    checksum,
  };
}

/**
 * Writes a body to `target`, hashing each chunk once written, and checks the
 * sender's checksum; returns the bytes received.
 */
async function receive(
  body: Body,
  target: { write(bytes: Uint8Array): Promise<number> },
  hasher: Hasher,
  options: TransferOptions,
  bar: ProgressBar | null,
  action: string,
): Promise<number> {
  let stream = body.stream;
  if (options.limitRate) {
    stream = stream.pipeThrough(new RateLimitStream(options.limitRate));
  }
  let received = 0;
  await stream.pipeTo(fileSink(target, (chunk) => {
    received += chunk.byteLength;
    bar?.advance(chunk.byteLength);
    hasher.update(chunk);
  }));
  const trailer = await body.trailer;
  const checksum: Checksum | null = hasher.checksum;
  if (checksum && digestIn(trailer, checksum) !== hasher.hex()) {
    throw new IntegrityError(
      `the data was damaged in transit (${checksumLabel(checksum)} mismatch)`,
      { action: action },
    );
  }
  return received;
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
    checksum: options.checksum ?? DEFAULT_CHECKSUM,
    compress: options.compress,
  }, action);
  if (header.op !== "data") throw unexpected(header, action);
  const checksum = repliedChecksum(header);
  const hasher = options.verify
    ? await createHasher(connection.pool, checksum)
    : skipHashing(connection.pool);
  const received = await receive(
    connection.reader.body(),
    Deno.stdout,
    hasher,
    options,
    null,
    action,
  ).catch((error) => {
    throw connection.wrap(error, action);
  });
  return {
    bytes: received,
    resumedAt: 0,
    digest: options.verify ? hasher.hex() : undefined,
    checksum,
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}
