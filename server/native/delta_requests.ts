/**
 * The server's side of delta transfers (docs/delta.md): the summary of the
 * version it holds for a `put`, the new version rebuilt from it and the
 * client's delta, and a `get` answered with a delta against the client's
 * summary.
 *
 * The old version is read through an open handle whose identity is checked
 * before and after: a file changed by anyone else while a delta runs is
 * refused as changed and nothing is stored.
 *
 * @module
 */

import {
  IoError,
  type SendBodyOptions,
  type Trailer,
} from "../../protocol/mod.ts";
import {
  encodeDelta,
  type EncodeOptions,
} from "../../transfer/delta/delta_encoder.ts";
import {
  HeadStart,
  type SeekableSource,
} from "../../transfer/delta/head_start.ts";
import {
  readSummary,
  sendSummary,
  sendSummaryPiece,
} from "../../transfer/delta/summary_exchange.ts";
import { ChunkReader } from "../../transfer/delta/chunk_reader.ts";
import {
  type Hasher,
  skipHashing,
  startHasher,
} from "../../transfer/hash/hasher.ts";
import type { Checksum, GetRequest, Message } from "../../protocol/mod.ts";
import {
  applyDelta,
  type OldVersion,
} from "../../transfer/delta/delta_apply.ts";
import {
  DELTA_MIN_SIZE,
  type DeltaStats,
  emptyStats,
} from "../../transfer/delta/delta_ops.ts";
import { CHUNKING } from "../../transfer/delta/gear.ts";
import {
  type ChunkIndex,
  chunkOffsets,
  type ChunkSummary,
  DerivedSummary,
  encodeHashes,
  summarize,
  SummaryBuilder,
} from "../../transfer/delta/summary.ts";
import {
  type FileIdentity,
  type FileRecords,
  sameIdentity,
} from "../storage/file_record.ts";
import type { ReadHandle, Store } from "../storage/store.ts";
import type { UploadLifecycle } from "../storage/upload_lifecycle.ts";
import type { RequestIo } from "./request_io.ts";
import { recordedChunks } from "./recorded_digests.ts";

/** A stored file's current version, open for a delta against it. */
export interface OldFile {
  handle: ReadHandle & OldVersion & { identity(): Promise<FileIdentity> };
  identity: FileIdentity;
  summary: ChunkSummary;
}

/**
 * Opens the version of `path` the store holds, with its chunk summary (from
 * its record, or computed and recorded now); null when there is none or
 * the store cannot read out of order (S3: whole files there).
 */
export async function openOldVersion(
  store: Store,
  path: string,
): Promise<OldFile | null> {
  const old = await openOldFile(store, path);
  if (!old) return null;
  try {
    return await summarizeOld(store, old);
  } catch (error) {
    old.handle.close();
    throw error;
  }
}

/**
 * Opens the version of `path` the store holds for a delta, without its
 * summary yet (the reply goes out first, so the client works meanwhile);
 * null when there is none, it is too small, or the store cannot read out
 * of order (S3: whole files there).
 */
export async function openOldFile(
  store: Store,
  path: string,
): Promise<Omit<OldFile, "summary"> | null> {
  if (!store.records) return null;
  const handle = await store.open(path).catch(() => null);
  if (!handle) return null;
  if (!handle.seek || !handle.identity || handle.entry.size < DELTA_MIN_SIZE) {
    handle.close();
    return null;
  }
  try {
    const identity = await handle.identity();
    return { handle: handle as OldFile["handle"], identity };
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** Adds the chunk summary to an old version {@linkcode openOldFile} opened. */
export async function summarizeOld(
  store: Store,
  old: Omit<OldFile, "summary">,
): Promise<OldFile> {
  const summary = await summaryOf(store.records!, old.handle, old.identity);
  return { ...old, summary };
}

/**
 * The summary of the open file, from its record when it matches; otherwise
 * computed and recorded, unless the file changed while it was read. No
 * whole-file digest is taken on the way: this version is about to be
 * replaced, and the hash would lengthen the wait before the client's delta.
 */
async function summaryOf(
  records: FileRecords,
  handle: ReadHandle,
  identity: FileIdentity,
): Promise<ChunkSummary> {
  const record = await records.load(identity);
  if (record?.summary?.chunking === CHUNKING) return record.summary.chunks;
  const chunks = await summarize(handle);
  if (sameIdentity(identity, await handle.identity!())) {
    await records.save({
      identity,
      digests: {},
      summary: { chunking: CHUNKING, chunks },
    }).catch(() => {});
  }
  return chunks;
}

/** Old-version bytes summarised between two summary pieces. */
const SUMMARY_PIECE_BYTES = 16 * 1024 * 1024;

/**
 * For a client that reads the summary in pieces: sends the old version's
 * summary a piece at a time as it is computed, while the client's `data`
 * is read. A client that gave up on a hopeless match sends `data` early;
 * then the summary stops there (its last piece empty) and only the chunks
 * summarised so far exist for the delta. Returns the old version with
 * that summary, and the client's message.
 */
export async function summaryInPieces(
  io: RequestIo,
  opened: Omit<OldFile, "summary">,
): Promise<{ old: OldFile; data: Message | null }> {
  const reading = io.reader.read();
  let arrived = false;
  reading.then(() => arrived = true, () => arrived = true);
  const summary = await sendPieces(io, opened, () => arrived);
  return { old: { ...opened, summary }, data: await reading };
}

async function sendPieces(
  io: RequestIo,
  old: Omit<OldFile, "summary">,
  stopped: () => boolean,
): Promise<ChunkSummary> {
  const records = io.ctx.store.records!;
  const record = await records.load(old.identity);
  if (record?.summary?.chunking === CHUNKING) {
    await sendSummary(io.writer, record.summary.chunks);
    return record.summary.chunks;
  }
  const builder = new SummaryBuilder();
  const reader = new ChunkReader(old.handle);
  let sent = 0;
  let since = 0;
  let complete = false;
  while (!stopped()) {
    const chunk = await reader.next();
    if (chunk === null) {
      complete = true;
      break;
    }
    builder.addKnown(chunk.hash, chunk.bytes.byteLength);
    since += chunk.bytes.byteLength;
    if (since < SUMMARY_PIECE_BYTES) continue;
    const piece = builder.encodeFrom(sent);
    await sendSummaryPiece(io.writer, piece, { more: true });
    sent = builder.count;
    since = 0;
  }
  const summary = builder.finish();
  await sendSummaryPiece(io.writer, encodeHashes(summary, sent), {});
  if (complete && sameIdentity(old.identity, await old.handle.identity())) {
    await records.save({
      identity: old.identity,
      digests: {},
      summary: { chunking: CHUNKING, chunks: summary },
    }).catch(() => {});
  }
  return summary;
}

/** The error for an old version that changed while the delta ran. */
export function changedError(path: string): IoError {
  return new IoError(
    `"${path}" changed on the server while the delta ran; nothing was stored (run the command again)`,
  );
}

/**
 * Receives a delta body and writes the new version it describes to
 * `upload` (after the bytes already staged), hashing it with `hasher`.
 * When the whole new version passes through (no staged prefix), its chunk
 * summary is told from the instructions on the way, for the record: the
 * next delta against it then reads nothing before it starts.
 *
 * @throws {IoError} when the old version changed meanwhile; the body is
 * still read to its end, so the session stays in step.
 */
export async function receiveDelta(
  io: RequestIo,
  path: string,
  upload: UploadLifecycle,
  old: OldFile,
  hasher: Hasher,
  whole: boolean,
): Promise<{ stats: DeltaStats; trailer: Trailer; summary?: ChunkSummary }> {
  const { pool } = io.ctx;
  const body = io.reader.body();
  const stats = emptyStats();
  const derived = whole ? new DerivedSummary(old.summary) : undefined;
  try {
    await applyDelta(
      body.stream.values({ preventCancel: true }),
      old.handle,
      chunkOffsets(old.summary),
      (bytes) => upload.write(bytes, hasher),
      stats,
      (chunk) => pool.give(chunk),
      derived,
    );
  } catch (error) {
    if (!(error instanceof IoError)) throw error;
    for await (const chunk of body.stream) pool.give(chunk);
    await body.trailer.catch(() => {});
    throw changedError(path);
  }
  const trailer = await body.trailer;
  if (!sameIdentity(await old.handle.identity(), old.identity)) {
    throw changedError(path);
  }
  return { stats, trailer, summary: derived?.finish() };
}

/**
 * Sends `handle`'s file as a delta body against the client's `index`, from
 * `offset` on (the client holds the bytes before it), hashing every byte
 * from there with `hasher` for the trailer; with `head`, from where the
 * head start {@linkcode deltaGetStart} began got to.
 */
export async function sendDeltaBody(
  io: RequestIo,
  handle: ReadHandle & {
    seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  },
  index: ChunkIndex,
  offset: number,
  hasher: Hasher,
  compression?: SendBodyOptions,
  head?: EncodeOptions["head"],
): Promise<DeltaStats> {
  const stats = emptyStats();
  // A recorded summary spares finding and hashing the chunks again.
  const cut = head ? undefined : await recordedChunks(io.ctx.store, handle);
  if (!head) await handle.seek(0, Deno.SeekMode.Start);
  await io.writer.sendBody(
    encodeDelta(handle, index, {
      from: offset,
      cut,
      head,
      stats,
      onBytes: (bytes) => hasher.update(bytes),
    }),
    () => hasher.digests(),
    undefined,
    compression,
  );
  return stats;
}

/** The file a `get` sends, with what its delta (if any) starts from. */
export interface GetStart {
  handle: ReadHandle;
  /** The client's chunks, when it sent a summary this build can use. */
  index: ChunkIndex | null;
  /** The whole-file hash (fed by the head start, if any). */
  hasher: Hasher;
  head?: EncodeOptions["head"];
}

/**
 * Opens the file a `get` asks for and, for a delta, reads the client's
 * summary (always: the session stays in step even when the file cannot be
 * sent), cutting and hashing the file meanwhile when it has no recorded
 * chunks: both ends chunk at once.
 */
export async function deltaGetStart(
  io: RequestIo,
  request: GetRequest,
  checksum: Checksum,
): Promise<GetStart> {
  const { pool, store } = io.ctx;
  const fresh = () =>
    request.verify ? startHasher(pool, checksum) : skipHashing(pool);
  const summary = async () =>
    await readSummary(await io.reader.read(), () => io.reader.body());
  if (!request.delta) {
    return {
      handle: await store.open(request.path),
      index: null,
      hasher: fresh(),
    };
  }
  const handle = await store.open(request.path).catch(async (error) => {
    await summary();
    throw error;
  });
  let hasher = fresh();
  let start: HeadStart | null = null;
  let chunks: ChunkSummary | null = null;
  try {
    if (
      request.verify && request.offset === 0 && handle.seek &&
      !await recordedChunks(store, handle)
    ) {
      start = new HeadStart(
        handle as ReadHandle & SeekableSource,
        (bytes) => hasher.update(bytes),
      );
    }
    let index: ChunkIndex | null;
    try {
      index = await summary();
    } finally {
      chunks = await start?.stop().catch(() => null) ?? null;
    }
    if (start && index && chunks) {
      return { handle, index, hasher, head: { start, chunks } };
    }
    if (start) {
      // No delta after all: the file and its hash start afresh.
      await handle.seek!(0, Deno.SeekMode.Start);
      hasher = fresh();
    }
    return { handle, index, hasher };
  } catch (error) {
    handle.close();
    throw error;
  }
}

/**
 * Sends one file of a tree download as a delta body against the client's
 * `index`. A failure to read the file goes to the client in the trailer
 * (that file fails alone) and is returned; only a failure of the
 * connection is thrown.
 */
export async function sendTreeFileDelta(
  io: RequestIo,
  handle: ReadHandle,
  index: ChunkIndex,
  hasher: Hasher | null,
  compression?: SendBodyOptions,
): Promise<{ bytes: number; readError?: unknown }> {
  const stats = emptyStats();
  const cut = await recordedChunks(io.ctx.store, handle);
  let readError: unknown;
  async function* pieces(): AsyncGenerator<Uint8Array> {
    try {
      yield* encodeDelta(handle, index, {
        cut,
        stats,
        onBytes: (bytes) => hasher?.update(bytes),
      });
    } catch (error) {
      readError = error;
      throw error;
    }
  }
  try {
    await io.writer.sendBody(
      pieces(),
      () => hasher ? hasher.digests() : {},
      undefined,
      compression,
    );
  } catch (error) {
    if (readError === undefined) throw error;
  }
  return { bytes: stats.literal + stats.overhead, readError };
}
