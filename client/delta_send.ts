/**
 * The client's side of a delta upload: the body that describes the local
 * file against the server's chunk summary (docs/delta.md), with the
 * whole-file checksum in its trailer as for a plain upload.
 *
 * @module
 */

import { IntegrityError, IoError } from "../protocol/errors.ts";
import type { Ready } from "../protocol/messages.ts";
import { compression } from "../transfer/compression.ts";
import { checksumLabel, digestIn } from "../transfer/hash/checksum.ts";
import type { SendBodyOptions } from "../protocol/message_writer.ts";
import {
  encodeDelta,
  type EncodeOptions,
  PieceBuffers,
} from "../transfer/delta/delta_encoder.ts";
import { type DeltaStats, emptyStats } from "../transfer/delta/delta_ops.ts";
import type { ChunkIndex } from "../transfer/delta/summary.ts";
import type { Hasher } from "../transfer/hash/hasher.ts";
import { RateLimitStream } from "../transfer/rate_limit_stream.ts";
import type { Throttle } from "../transfer/throttle.ts";
import type { Connection } from "./connection.ts";
import type { ProgressBar } from "./progress.ts";
import type { Reporter } from "./reporter.ts";
import type { TransferOptions, TransferResult } from "./options.ts";
import { sendConfirmed } from "./confirmed_send.ts";

/** What a delta body cost. */
export interface DeltaSent {
  /** Bytes of the body (instructions and new bytes). */
  bytes: number;
  stats: DeltaStats;
}

/**
 * Sends `file` (at position 0, `size` bytes) as a delta against `index`,
 * from `offset` on (the server holds the bytes before it). The progress bar
 * counts the bytes of the new version as they are described.
 *
 * @throws {IoError} when the file changed while it was read (its size or
 * its modification time); the trailer tells the server, which keeps nothing.
 */
export async function sendDelta(
  connection: Connection,
  file: Deno.FsFile,
  index: ChunkIndex,
  at: { offset: number; size: number; head?: EncodeOptions["head"] },
  hasher: Hasher,
  bar: ProgressBar | null,
  compression?: SendBodyOptions,
  limitRate?: number,
): Promise<DeltaSent> {
  const before = await file.stat();
  const stats = emptyStats();
  let bytes = 0;
  let shown = 0;
  // Not when paced: the pacer may cut a piece, and give it back in parts.
  const buffers = limitRate ? undefined : new PieceBuffers();
  async function* body(): AsyncGenerator<Uint8Array> {
    const pieces = encodeDelta(file, index, {
      from: at.offset,
      head: at.head,
      stats,
      onBytes: (bytes) => hasher.update(bytes),
      buffers,
    });
    for await (const piece of pieces) {
      const described = stats.literal + stats.reused;
      bar?.advance(described - shown);
      shown = described;
      yield piece;
    }
    const after = await file.stat();
    if (
      at.offset + stats.literal + stats.reused !== at.size ||
      after.size !== at.size ||
      after.mtime?.getTime() !== before.mtime?.getTime()
    ) {
      throw new IoError(
        "the file changed while it was being sent; run the command again once it is complete",
      );
    }
  }
  const pieces = limitRate
    ? ReadableStream.from(body()).pipeThrough(new RateLimitStream(limitRate))
    : body();
  await connection.sendBody(
    pieces,
    () => hasher.digests(),
    (chunk) => {
      bytes += chunk.byteLength;
      buffers?.give(chunk);
    },
    compression,
  );
  return { bytes, stats };
}

/** Where a delta upload stands once the server agreed to one. */
export interface DeltaUpload {
  /** Bytes the server holds already (a resume). */
  offset: number;
  size: number;
  /** The whole-file hash, holding the first `offset` bytes. */
  hasher: Hasher;
  remote: string;
  options: TransferOptions;
  reporter: Reporter;
  ready: Ready;
  /** The local file's chunks, found while the summary was on its way. */
  head?: EncodeOptions["head"];
  /** Settles once the summary pieces after a give-up were read. */
  drained?: Promise<void>;
}

/**
 * Sends the delta body and reads the server's `done`, as a plain upload
 * does: the server's checksum of the rebuilt file must equal the local one.
 */
export async function deltaUpload(
  connection: Connection,
  file: Deno.FsFile,
  index: ChunkIndex,
  upload: DeltaUpload,
): Promise<TransferResult> {
  const { options, remote, hasher, offset, size } = upload;
  const action = `put "${remote}"`;
  const bar = upload.reporter.progress(remote, size, offset);
  const { sent, done } = await sendConfirmed(
    connection,
    () =>
      alongside(
        sendDelta(
          connection,
          file,
          index,
          { offset, size, head: upload.head },
          hasher,
          bar,
          compression(upload.ready.compress ? options.compress : undefined),
          options.limitRate,
        ),
        upload.drained,
      ),
    { bar, resume: options.resume, action },
  );
  const checksum = hasher.checksum!;
  const digest = digestIn(done, checksum);
  if (digest !== hasher.hex()) {
    throw new IntegrityError(
      `the server's ${checksumLabel(checksum)} differs from the local one`,
      { action },
    );
  }
  return {
    bytes: sent.bytes,
    resumedAt: offset,
    digest,
    checksum,
    reused: sent.stats.reused,
    size,
  };
}

/** How {@linkcode sendTreeDelta} paces and reports. */
export interface TreeDeltaOptions {
  throttle: Throttle | null;
  /** Called with the bytes of each piece sent. */
  onBytes: (bytes: number) => void;
  /** Called with the bytes each piece took from the old version. */
  onReused: (bytes: number) => void;
  compression?: SendBodyOptions;
}

/**
 * Sends one file of a tree as a delta body against `index`. A local
 * failure (the file changed or could not be read) goes to the server in
 * the trailer, which fails that file alone; only a failure of the
 * connection is thrown.
 */
export async function sendTreeDelta(
  connection: Connection,
  file: Deno.FsFile,
  index: ChunkIndex,
  size: number,
  hasher: Hasher,
  options: TreeDeltaOptions,
): Promise<void> {
  const before = await file.stat();
  const stats = emptyStats();
  let local: unknown;
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      const pieces = encodeDelta(file, index, {
        stats,
        onBytes: (bytes) => hasher.update(bytes),
      });
      let reused = 0;
      for await (const piece of pieces) {
        await options.throttle?.consume(piece.byteLength);
        options.onBytes(piece.byteLength);
        options.onReused(stats.reused - reused);
        reused = stats.reused;
        yield piece;
      }
      const after = await file.stat();
      if (
        stats.literal + stats.reused !== size ||
        after.mtime?.getTime() !== before.mtime?.getTime()
      ) {
        throw new IoError("the file changed while it was being sent");
      }
    } catch (error) {
      local = error;
      throw error;
    }
  }
  try {
    await connection.sendBody(
      body(),
      () => hasher.digests(),
      undefined,
      options.compression,
    );
  } catch (error) {
    if (local === undefined) throw error;
  }
}

/**
 * The outcome of `work` once `other` settled too (the reply is read only
 * after both).
 */
async function alongside<T>(
  work: Promise<T>,
  other?: Promise<void>,
): Promise<T> {
  if (!other) return await work;
  const [result, drained] = await Promise.allSettled([work, other]);
  if (result.status === "rejected") throw result.reason;
  if (drained.status === "rejected") throw drained.reason;
  return result.value;
}
