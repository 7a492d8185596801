/**
 * `get`: fetches one remote file into a local file (or stdout), through a
 * hidden partial file beside the target that survives an interruption and is
 * renamed into place only when complete and verified.
 *
 * @module
 */

import { zstdStreamAvailable } from "../protocol/zstd_stream.ts";
import { basename, dirname, join } from "@std/path";
import { createSha256 } from "../transfer/hash/sha256.ts";
import {
  AlreadyExistsError,
  type Body,
  DiskFullError,
  type Entry,
  IntegrityError,
  IoError,
  ProtocolError,
  WrongTypeError,
} from "../protocol/mod.ts";
import type {
  Checksum,
  DataMessage,
  GetRequest,
  Message,
  Trailer,
} from "../protocol/messages.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../protocol/frame.ts";
import {
  GatheredWrites,
  type GatherTarget,
} from "../transfer/gathered_writes.ts";
import { sendSummary } from "../transfer/delta/summary_exchange.ts";
import { summarize, SummaryBuilder } from "../transfer/delta/summary.ts";
import {
  type LocalVersion,
  type OpenedVersion,
  openLocalVersion,
  receiveDeltaBody,
} from "./delta_receive.ts";
import {
  checksumLabel,
  DEFAULT_CHECKSUM,
  digestIn,
  prefixFields,
  repliedChecksum,
} from "../transfer/hash/checksum.ts";
import { fileSink } from "../transfer/file_chunks.ts";
import { writeAll } from "../transfer/file_body.ts";
import {
  createHasher,
  type Hasher,
  skipHashing,
} from "../transfer/hash/hasher.ts";
import { RateLimitStream } from "../transfer/rate_limit_stream.ts";
import { type Connection, unexpected } from "./connection.ts";
import { formatBytes } from "./format.ts";
import type { ProgressBar } from "./progress.ts";
import type { Reporter } from "./reporter.ts";
import type { TransferOptions, TransferResult } from "./options.ts";
import { localError } from "./local_errors.ts";
import { withWholeFileRetry } from "./delta_retry.ts";
import { osFailure } from "../transfer/os_errors.ts";

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
  const key = createSha256()
    .update(`${remote}\0${entry.size}\0${entry.mtime}`)
    .digest("hex").slice(0, 16);
  const prefix = `${PARTIAL_PREFIX}${key}-`;
  return join(
    dirname(target),
    prefix + fitName(basename(target), NAME_MAX - prefix.length),
  );
}

/** The longest file name (in bytes) common file systems take. */
const NAME_MAX = 255;

/**
 * `name` cut to at most `bytes` UTF-8 bytes on a character boundary, so the
 * partial of a long name still fits (the key keeps it unique).
 */
function fitName(name: string, bytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(name).byteLength <= bytes) return name;
  let cut = "";
  for (const char of name) {
    if (encoder.encode(cut + char).byteLength > bytes) break;
    cut += char;
  }
  return cut;
}

/**
 * The size of the partial file at `path` if it is a regular file, else 0. A
 * symlink (or anything else) planted there is never followed.
 */
async function heldBytes(path: string): Promise<number> {
  const info = await Deno.lstat(path).catch(() => null);
  return info?.isFile ? info.size : 0;
}

/**
 * Opens the partial file for writing from `offset` without following a
 * link: a fresh download replaces whatever is there with a new file made
 * exclusively; a resume reopens the regular file it hashed.
 */
async function openPartial(path: string, offset: number): Promise<Deno.FsFile> {
  if (offset === 0) {
    await Deno.remove(path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    return await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  }
  const before = await Deno.lstat(path);
  const file = await Deno.open(path, { write: true });
  const after = await file.stat();
  if (!before.isFile || before.ino !== after.ino || before.dev !== after.dev) {
    file.close();
    throw new IoError(`the partial file was replaced while resuming`);
  }
  await file.truncate(offset);
  await file.seek(offset, Deno.SeekMode.Start);
  return file;
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
  return await withWholeFileRetry(
    (options, attempt) =>
      downloadOnce(connection, remote, local, options, reporter, attempt),
    options,
    { wholeFile: true, resume: false },
    // A false chunk match (or a local file changed under its summary):
    // the whole file sets it right.
    () =>
      reporter.info(
        `the delta of "${remote}" did not verify; fetching the whole file`,
      ),
  );
}

async function downloadOnce(
  connection: Connection,
  remote: string,
  local: string,
  options: TransferOptions,
  reporter: Reporter,
  attempt: { delta: boolean },
): Promise<TransferResult> {
  const action = `get "${remote}"`;
  const entry = await connection.stat(remote, false, action);
  if (entry.type !== "file") {
    throw new WrongTypeError(
      entry.type === "dir"
        ? "it is a folder (use get -r)"
        : "it is not a regular file",
      { action },
    );
  }
  if (local === "-") {
    return await toStdout(connection, remote, options, reporter, action);
  }

  if (options.noClobber && await exists(local)) {
    throw new AlreadyExistsError(`"${local}" already exists`, {
      action: action,
    });
  }
  if ((await Deno.lstat(local).catch(() => null))?.isDirectory) {
    throw new WrongTypeError(`"${local}" is a local folder`, { action });
  }
  const { pool } = connection;
  const partial = partialPath(local, remote, entry);
  const held = options.resume && options.verify ? await heldBytes(partial) : 0;
  const offer = held <= entry.size ? held : 0;
  const wanted = options.checksum ?? DEFAULT_CHECKSUM;
  const hasher = !options.verify
    ? skipHashing(pool)
    : await createHasher(pool, wanted, partial, offer);
  const old = !options.wholeFile && options.verify &&
      connection.welcome.features.includes("delta")
    ? await openLocalVersion(local)
    : null;
  try {
    return await fetchInto(connection, remote, local, entry, {
      partial,
      offer,
      hasher,
      old,
      options,
      reporter,
      attempt,
    });
  } finally {
    old?.file.close();
  }
}

/** Where a download stands before it asks for the file. */
interface FetchPlan {
  partial: string;
  /** Bytes of the partial offered for a resume. */
  offer: number;
  /** The whole-file hash, holding the offered bytes. */
  hasher: Hasher;
  /** The local version to send a summary of, for a delta. */
  old: OpenedVersion | null;
  options: TransferOptions;
  reporter: Reporter;
  attempt: { delta: boolean };
}

/** Asks for the file, receives it into the partial and renames it into place. */
async function fetchInto(
  connection: Connection,
  remote: string,
  local: string,
  entry: Entry,
  plan: FetchPlan,
): Promise<TransferResult> {
  const action = `get "${remote}"`;
  const { partial, offer, options, reporter } = plan;
  let hasher = plan.hasher;
  const { pool } = connection;
  const wanted = options.checksum ?? DEFAULT_CHECKSUM;
  const request = getRequest(remote, entry, plan);
  const asked = await sendGet(connection, request, plan.old, action);
  const { header, old } = asked;
  if (header.op !== "data") throw unexpected(header, action);
  const packedBefore = connection.packed;
  const delta = header.delta === true && old !== null;
  // A delta is read as frames; anything else straight into large buffers.
  const body = delta ? connection.body() : null;
  const skip = () => (body ?? connection.body()).stream.cancel();
  const offset = header.offset;
  await checkOffset(connection, skip, offset, offer, action);
  const checksum = repliedChecksum(header);
  reportResume(reporter, remote, offer, header);
  if (options.verify && (offset !== offer || checksum !== wanted)) {
    // Starting over, or an older server that hashes with SHA-256 only.
    hasher = await createHasher(pool, checksum, partial, offset);
  }

  let file: Deno.FsFile;
  try {
    file = await openPartial(partial, offset);
  } catch (error) {
    await skip();
    throw localError(error, action);
  }
  const bar = reporter.progress(remote, header.size, offset);
  let received: number;
  let reused: number | undefined;
  try {
    const writes = localWrites(file, action, options.resume);
    let rebuilt: number;
    if (body && old) {
      plan.attempt.delta = true;
      ({ received, rebuilt, reused } = await receiveDeltaInto(
        body,
        old,
        writes,
        { hasher, bar, action },
      ));
    } else {
      received = await receive(connection, writes, {
        hasher,
        options,
        bar,
        action,
      });
      rebuilt = received;
    }
    if (header.size !== null && offset + rebuilt !== header.size) {
      throw new IntegrityError(
        `received ${offset + rebuilt} of ${header.size} bytes`,
        { action: action },
      );
    }
    await file.syncData();
  } catch (error) {
    if (error instanceof IntegrityError || !options.resume) {
      await Deno.remove(partial).catch(() => {});
    }
    bar?.clear();
    throw connection.wrap(error, action, options.resume);
  } finally {
    file.close();
  }
  bar?.finish();
  await placeDownload(partial, local, header, options, action);
  const packed = connection.packed;
  const raw = packed.raw - packedBefore.raw;
  return {
    bytes: received,
    wire: raw > 0
      ? received - raw + packed.wire - packedBefore.wire
      : undefined,
    resumedAt: offset,
    digest: options.verify ? hasher.hex() : undefined,
    checksum,
    reused,
    size: header.size ?? undefined,
  };
}

/** The `get` asking for `remote` as `plan` says (a resume, a delta). */
function getRequest(
  remote: string,
  entry: Entry,
  { offer, old, options, hasher }: FetchPlan,
): GetRequest {
  const wanted = options.checksum ?? DEFAULT_CHECKSUM;
  return {
    op: "get",
    path: remote,
    offset: offer,
    ...(offer > 0 ? prefixFields(wanted, hasher.hex()) : {}),
    expect: { size: entry.size, mtime: entry.mtime },
    verify: options.verify,
    checksum: wanted,
    compress: options.compress,
    // Only where this runtime can stream zstd (node:zlib's handle reachable).
    compressStream: (options.compress !== undefined && zstdStreamAvailable()) ||
      undefined,
    delta: old ? true : undefined,
    maxData: gathers(options) && !old ? DEFAULT_MAX_FRAME_SIZE : undefined,
  };
}

/**
 * Receives a delta against the local version `old` into `writes` and checks
 * the sender's trailer: the bytes that came, those of the rebuilt file, and
 * those reused from `old`.
 */
async function receiveDeltaInto(
  body: Body,
  old: LocalVersion,
  writes: { write(bytes: Uint8Array): Promise<number> },
  { hasher, bar, action }: {
    hasher: Hasher;
    bar: ProgressBar | null;
    action: string;
  },
): Promise<{ received: number; rebuilt: number; reused: number }> {
  const stats = await receiveDeltaBody(
    body,
    old,
    (bytes) => writeAll(writes, bytes),
    hasher,
    bar,
  );
  await checkTrailer(body, hasher, action);
  return {
    received: stats.literal + stats.overhead,
    rebuilt: stats.literal + stats.reused,
    reused: stats.reused,
  };
}

/**
 * Refuses a server's offset other than 0 or the one offered: accepting it
 * would leave a hole of zeros, or bytes never checked.
 */
async function checkOffset(
  connection: Connection,
  skip: () => Promise<void>,
  offset: number,
  offer: number,
  action: string,
): Promise<void> {
  if (offset === 0 || offset === offer) return;
  await skip();
  connection.abort();
  throw new ProtocolError(
    `the server answered with offset ${offset}, not the ${offer} offered`,
    { action },
  );
}

/**
 * Sends a `get` (with the local version's summary after it, for a delta:
 * summarised once the request is on its way, so the server cuts its file
 * meanwhile) and reads the server's answer.
 */
async function sendGet(
  connection: Connection,
  request: GetRequest,
  opened: OpenedVersion | null,
  action: string,
): Promise<{ header: Message; old: LocalVersion | null }> {
  if (!opened) {
    return { header: await connection.request(request, action), old: null };
  }
  await connection.send(request).catch((error) => {
    throw connection.wrap(error, action);
  });
  // Unreadable after all: an empty summary keeps the session in step (the
  // whole file then comes as new bytes).
  const summary = await summarize(opened.file).catch(() =>
    new SummaryBuilder().finish()
  );
  const old = { ...opened, summary };
  await sendSummary(connection, old.summary).catch((error) => {
    throw connection.wrap(error, action);
  });
  return { header: await connection.reply(action), old };
}

/** Says whether the download resumes, or starts over from a stale partial. */
function reportResume(
  reporter: Reporter,
  remote: string,
  offer: number,
  header: DataMessage,
): void {
  if (header.offset > 0) {
    reporter.info(
      `resuming "${remote}" at ${formatBytes(header.offset)} of ${
        formatBytes(header.size ?? 0)
      }`,
    );
  } else if (offer > 0) {
    reporter.info(
      `the partial download of "${remote}" is stale; starting over`,
    );
  }
}

/**
 * Gives the finished partial file the source's mode and time and renames it
 * over the target (checked again with `noClobber`).
 */
async function placeDownload(
  partial: string,
  local: string,
  header: DataMessage,
  options: TransferOptions,
  action: string,
): Promise<void> {
  if (header.mode != null) await Deno.chmod(partial, header.mode & 0o777);
  if (header.mtime !== undefined) {
    await Deno.utime(partial, new Date(), new Date(header.mtime));
  }
  if (options.noClobber && await exists(local)) {
    throw new AlreadyExistsError(`"${local}" already exists`, {
      action: action,
    });
  }
  try {
    await Deno.rename(partial, local);
  } catch (error) {
    // A folder appeared at the target meanwhile: keep the partial, say so.
    throw localError(error, action);
  }
}

/**
 * Whether the body is read straight into large buffers
 * ({@linkcode GatheredWrites}); a paced get reads it as frames.
 */
function gathers(options: TransferOptions): boolean {
  return !options.limitRate;
}

/** What a download's body is hashed, paced and reported with. */
interface Receiving {
  hasher: Hasher;
  options: TransferOptions;
  bar: ProgressBar | null;
  action: string;
}

/**
 * Writes the body that follows the reply just read to `target`, hashing it,
 * and checks the sender's checksum; returns the bytes received.
 */
async function receive(
  connection: Connection,
  target: GatherTarget,
  how: Receiving,
): Promise<number> {
  const { hasher, options, bar, action } = how;
  if (!gathers(options)) {
    return await receiveFrames(connection.body(), target, how);
  }
  const sink = new GatheredWrites(target, {
    hasher,
    onBytes: bar ? (bytes) => bar.advance(bytes) : undefined,
  });
  let trailer: Trailer;
  try {
    trailer = await connection.bodyInto(sink);
    await sink.finish();
  } catch (error) {
    // What arrived stays in the partial for a resume, and no write is
    // left running on the file about to be closed.
    await sink.salvage();
    throw error;
  }
  checkDigest(trailer, hasher, action);
  return sink.bytes;
}

/** {@linkcode receive} frame by frame, paced (`--limit-rate`). */
async function receiveFrames(
  body: Body,
  target: GatherTarget,
  { hasher, options, bar, action }: Receiving,
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
  await checkTrailer(body, hasher, action);
  return received;
}

/** Compares the body's trailer with what `hasher` computed. */
async function checkTrailer(
  body: Body,
  hasher: Hasher,
  action: string,
): Promise<void> {
  checkDigest(await body.trailer, hasher, action);
}

/** Compares the sender's digest in `trailer` with what `hasher` computed. */
function checkDigest(trailer: Trailer, hasher: Hasher, action: string): void {
  const checksum: Checksum | null = hasher.checksum;
  if (checksum && digestIn(trailer, checksum) !== hasher.hex()) {
    throw new IntegrityError(
      `the data was damaged in transit (${checksumLabel(checksum)} mismatch)`,
      { action: action },
    );
  }
}

async function toStdout(
  connection: Connection,
  remote: string,
  options: TransferOptions,
  reporter: Reporter,
  action: string,
): Promise<TransferResult> {
  const header = await connection.request({
    op: "get",
    path: remote,
    offset: 0,
    verify: options.verify,
    checksum: options.checksum ?? DEFAULT_CHECKSUM,
    compress: options.compress,
    maxData: gathers(options) ? DEFAULT_MAX_FRAME_SIZE : undefined,
  }, action);
  if (header.op !== "data") throw unexpected(header, action);
  const checksum = repliedChecksum(header);
  const hasher = options.verify
    ? await createHasher(connection.pool, checksum)
    : skipHashing(connection.pool);
  // The bar goes to stderr, and only when that is a terminal.
  const bar = reporter.progress(remote, header.size, 0);
  const received = await receive(connection, Deno.stdout, {
    hasher,
    options,
    bar,
    action,
  }).catch((error) => {
    bar?.clear();
    throw connection.wrap(error, action);
  });
  bar?.finish();
  return {
    bytes: received,
    resumedAt: 0,
    digest: options.verify ? hasher.hex() : undefined,
    checksum,
  };
}

/**
 * `file`'s writes, with a local failure (a full disk) turned into an error
 * that blames the disk rather than the connection.
 */
function localWrites(
  file: Deno.FsFile,
  action: string,
  resume: boolean,
): { write(bytes: Uint8Array): Promise<number> } {
  return {
    write: (bytes) =>
      file.write(bytes).catch((error) => {
        if (osFailure(error) === "disk_full") {
          throw new DiskFullError(
            resume
              ? "the local disk is full; the partial download is kept, so the same command resumes once there is room (--no-resume starts over)"
              : "the local disk is full; the partial download was removed",
            { action, cause: error },
          );
        }
        throw localError(error, action);
      }),
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}
