/**
 * `put`: sends one local file (or stdin) to the server, resuming an earlier
 * partial upload of the same source when the server still has one.
 *
 * @module
 */

import { zstdStreamAvailable } from "../protocol/zstd_stream.ts";
import {
  type BufferPool,
  IntegrityError,
  type Ready,
  WrongTypeError,
} from "../protocol/mod.ts";
import {
  checksumLabel,
  DEFAULT_CHECKSUM,
  digestIn,
  prefixIn,
  repliedChecksum,
} from "../transfer/hash/checksum.ts";
import {
  compression,
  type CompressMode,
  countingCompression,
} from "../transfer/compression.ts";
import { fileChunks } from "../transfer/file_chunks.ts";
import {
  createHasher,
  type Hasher,
  skipHashing,
} from "../transfer/hash/hasher.ts";
import { RateLimitStream } from "../transfer/rate_limit_stream.ts";
import { type Connection, unexpected } from "./connection.ts";
import { formatBytes } from "./format.ts";
import type { Reporter } from "./reporter.ts";
import { deltaUpload } from "./delta_send.ts";
import { readServerSummary, type ServerSummary } from "./summary_pieces.ts";
import type { ChunkIndex, ChunkSummary } from "../transfer/delta/summary.ts";
import { HeadStart } from "../transfer/delta/head_start.ts";
import { localError } from "./local_errors.ts";
import { sendConfirmed } from "./confirmed_send.ts";
import { withWholeFileRetry } from "./delta_retry.ts";
import type { TransferOptions, TransferResult } from "./options.ts";

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
  return await withWholeFileRetry(
    (options, attempt) =>
      uploadOnce(connection, local, remote, options, reporter, attempt),
    options,
    { wholeFile: true },
    // The version the server holds was not what its summary said (damaged
    // at rest, or a false chunk match): the server forgot the summary, and
    // the whole file heals it.
    () =>
      reporter.info(
        `the delta of "${remote}" did not verify on the server; sending the whole file`,
      ),
  );
}

async function uploadOnce(
  connection: Connection,
  local: string,
  remote: string,
  options: TransferOptions,
  reporter: Reporter,
  attempt: { delta: boolean },
): Promise<TransferResult> {
  // Named for the remote target, as scp and sftp do: that is what changes.
  const action = `put "${remote}"`;
  const fromStdin = local === "-";
  const { file, info } = await openSource(local, action);
  try {
    const size = info ? info.size : null;
    const ready = await askToPut(connection, remote, info, options, action);
    const { pool } = connection;
    const checksum = repliedChecksum(ready);
    const source = { local, remote, size, verify: options.verify };
    const resumed = await resumePoint(pool, ready, source, reporter);
    const { offset } = resumed;
    const { index, head, hasher, drained } = await deltaStart(
      connection,
      file,
      ready,
      resumed,
      action,
    );
    if (index && size !== null) {
      attempt.delta = true;
      await connection.send({ op: "data", offset, size, delta: true });
      return await deltaUpload(connection, file, index, {
        offset,
        size,
        hasher,
        remote,
        options,
        reporter,
        ready,
        head,
        drained,
      });
    }
    await connection.send({ op: "data", offset, size });
    if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);

    const chunks = sourceChunks(file, pool, local, info, {
      offset,
      action,
      limitRate: options.limitRate,
    });
    const bar = reporter.progress(remote, size, offset);
    let sent = 0;
    const packed = { raw: 0, wire: 0 };
    const { done } = await sendConfirmed(
      connection,
      () =>
        connection.sendBody(
          chunks,
          () => hasher.digests(),
          (chunk) => {
            sent += chunk.byteLength;
            bar?.advance(chunk.byteLength);
            hasher.update(chunk);
          },
          countedCompression(
            ready.compress ? options.compress : undefined,
            ready.compressStream === true,
            packed,
          ),
        ),
      { bar, resume: options.resume, action },
    );
    const digest = options.verify ? digestIn(done, checksum) : undefined;
    if (options.verify && digest !== hasher.hex()) {
      throw new IntegrityError(
        `the server's ${checksumLabel(checksum)} differs from the local one`,
        { action: action },
      );
    }
    return {
      bytes: sent,
      wire: packed.raw > 0 ? sent - packed.raw + packed.wire : undefined,
      resumedAt: offset,
      digest,
      checksum,
      size: size ?? undefined,
    };
  } finally {
    if (!fromStdin) file.close();
  }
}

/**
 * Passes the file's chunks on, failing when the file turns out longer or
 * shorter than the `bytes` announced (when known), and turning a failed read
 * into an error that blames the local file rather than the connection.
 */
function checkedReads(
  chunks: ReadableStream<Uint8Array>,
  bytes: number | null,
  action: string,
  stillSame?: () => Promise<boolean>,
): ReadableStream<Uint8Array> {
  const reader = chunks.getReader();
  let seen = 0;
  // An integrity error: the server then drops the staged bytes, which are
  // keyed by the old size and time and so could never be resumed.
  const changed = () =>
    new IntegrityError(
      "the file changed while it was being sent; run the command again once it is complete",
    );
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        throw localError(error, action);
      }
      if (next.done) {
        if (bytes !== null && seen !== bytes) throw changed();
        // Rewritten in place at the same size while it was read: what was
        // sent may mix old and new bytes, and both ends hashed the mix.
        if (stillSame && !(await stillSame())) throw changed();
        controller.close();
        return;
      }
      seen += next.value.byteLength;
      if (bytes !== null && seen > bytes) throw changed();
      controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** Opens the source of a put (stdin for `-`) and describes it. */
async function openSource(
  local: string,
  action: string,
): Promise<{ file: Deno.FsFile; info: Deno.FileInfo | null }> {
  if (local === "-") {
    return { file: Deno.stdin as unknown as Deno.FsFile, info: null };
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(local);
  } catch (error) {
    throw localError(error, action);
  }
  try {
    const info = await file.stat();
    if (!info.isFile) {
      throw new WrongTypeError(`it is a folder (use put -r)`, {
        action: action,
      });
    }
    return { file, info };
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Whether the open `file` (at `path`) is still the file described by
 * `before`: same device and inode, size, modification and change times.
 */
async function unchanged(
  file: Deno.FsFile,
  path: string,
  before: Deno.FileInfo,
): Promise<boolean> {
  const same = (after: Deno.FileInfo) =>
    after.dev === before.dev && after.ino === before.ino &&
    after.size === before.size &&
    after.mtime?.getTime() === before.mtime?.getTime() &&
    after.ctime?.getTime() === before.ctime?.getTime();
  try {
    return same(await file.stat()) && same(await Deno.stat(path));
  } catch {
    return false; // Removed or replaced meanwhile.
  }
}

/**
 * Reads the server's summary after a `ready` with `delta` while a head
 * start chunks the local file (feeding `resumed.hasher`): both ends chunk
 * at once, and the delta goes on from where the head start got to. Without
 * a delta after all, the file and the hasher start afresh.
 */
async function deltaStart(
  connection: Connection,
  file: Deno.FsFile,
  ready: Ready,
  resumed: { hasher: Hasher; offset: number },
  action: string,
): Promise<{
  index: ChunkIndex | null;
  head?: { start: HeadStart; chunks: ChunkSummary };
  hasher: Hasher;
  drained?: Promise<void>;
}> {
  const { hasher } = resumed;
  if (!ready.delta) return { index: null, hasher };
  const start = resumed.offset === 0
    ? new HeadStart(file, (bytes) => hasher.update(bytes))
    : null;
  let summary: ServerSummary = { index: null };
  let chunks: ChunkSummary | null = null;
  try {
    summary = await readServerSummary(connection, action, start);
  } finally {
    // A local read error shows again, as the file's own, when it is sent.
    chunks = await start?.stop().catch(() => null) ?? null;
  }
  const { index, drained } = summary;
  if (start && index && chunks) {
    return { index, head: { start, chunks }, hasher, drained };
  }
  if (!start) return { index, hasher, drained };
  await file.seek(0, Deno.SeekMode.Start);
  const checksum = repliedChecksum(ready);
  const { pool } = connection;
  return {
    index,
    hasher: hasher.checksum
      ? await createHasher(pool, checksum)
      : skipHashing(pool),
    drained,
  };
}

/** Sends the `put` request for `remote` and reads the server's `ready`. */
async function askToPut(
  connection: Connection,
  remote: string,
  info: Deno.FileInfo | null,
  options: TransferOptions,
  action: string,
): Promise<Ready> {
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
    // Only where this runtime can stream zstd (node:zlib's handle reachable).
    compressStream: (options.compress !== undefined && zstdStreamAvailable()) ||
      undefined,
    delta: (!options.wholeFile && options.verify && size !== null) ||
      undefined,
    summaryPieces: (!options.wholeFile && options.verify && size !== null) ||
      undefined,
  }, action);
  if (ready.op !== "ready") throw unexpected(ready, action);
  return ready;
}

/**
 * The chunks of an upload's source from `offset`, checked against the size
 * announced (and, for a file, its identity at the end) and paced by
 * `--limit-rate`.
 */
function sourceChunks(
  file: Deno.FsFile,
  pool: BufferPool,
  local: string,
  info: Deno.FileInfo | null,
  how: { offset: number; action: string; limitRate?: number },
): ReadableStream<Uint8Array> {
  const chunks = checkedReads(
    fileChunks(file, pool),
    info === null ? null : info.size - how.offset,
    how.action,
    info === null ? undefined : () => unchanged(file, local, info),
  );
  return how.limitRate
    ? chunks.pipeThrough(new RateLimitStream(how.limitRate))
    : chunks;
}

/** Compression for `mode` that adds what zstd did to `packed`. */
function countedCompression(
  mode: CompressMode | undefined,
  stream: boolean,
  packed: { raw: number; wire: number },
) {
  return countingCompression(compression(mode, stream), {
    compressed: (raw, wire) => {
      packed.raw += raw;
      packed.wire += wire;
    },
  });
}

/**
 * Where the upload starts: at the server's offer when the prefix it holds
 * hashes as the local file's does (the hasher then holds that prefix), else
 * at 0.
 */
async function resumePoint(
  pool: BufferPool,
  ready: Ready,
  source: {
    local: string;
    remote: string;
    size: number | null;
    verify: boolean;
  },
  reporter: Reporter,
): Promise<{ hasher: Hasher; offset: number }> {
  const { local, remote, size } = source;
  const checksum = repliedChecksum(ready);
  const hasher = source.verify
    ? await createHasher(pool, checksum)
    : skipHashing(pool);
  if (ready.offset > 0 && size !== null) {
    const prefix = await createHasher(pool, checksum, local, ready.offset);
    const matches = prefix.hex() === prefixIn(ready, checksum);
    reporter.info(
      matches
        ? `resuming "${remote}" at ${formatBytes(ready.offset)} of ${
          formatBytes(size)
        }`
        : `the partial upload of "${remote}" does not match "${local}"; starting over`,
    );
    if (matches) return { hasher: prefix, offset: ready.offset };
  }
  return { hasher, offset: 0 };
}
