/**
 * One file of a tree as a body, both ways. Sending: pooled chunks, optionally
 * paced and hashed, with the hasher's digest in the END trailer. Receiving: chunks
 * hashed and either gathered (small files, written later in a batch) or
 * written as they arrive. Either way a failure of the file itself is told
 * apart from a failure of the connection, because only the latter ends the
 * whole transfer. Also the small write helpers both receivers use.
 *
 * @module
 */

import type { BufferPool } from "../protocol/buffer_pool.ts";
import type { WireError } from "../protocol/errors.ts";
import type { Checksum } from "../protocol/messages.ts";
import type { Body } from "../protocol/message_reader.ts";
import type {
  MessageWriter,
  SendBodyOptions,
} from "../protocol/message_writer.ts";
import { digestIn, digestOf } from "./hash/checksum.ts";
import { readFull } from "./file_chunks.ts";
import { type Hasher, skipHashing, startHasher } from "./hash/hasher.ts";
import type { Throttle } from "./throttle.ts";

/** Options for {@linkcode sendFileBody}. */
export interface FileBodyOptions {
  /** Hashes the bytes; its digest goes into the trailer. */
  hasher?: Hasher | null;
  /** Paces the bytes. */
  throttle?: Throttle | null;
  /** Called with each chunk's size as it is handed to the writer. */
  onBytes?: (bytes: number) => void;
  /**
   * Compresses pieces (`compression(mode)` from compression.ts), once the
   * peer agreed to compressed frames.
   */
  compression?: SendBodyOptions;
}

/** What {@linkcode sendFileBody} did. */
export interface FileBodyResult {
  /** Bytes sent. */
  bytes: number;
  /**
   * Set when reading the file failed part-way; the peer was told in the
   * trailer and the connection is still in step.
   */
  readError?: unknown;
}

/**
 * Sends `file` from its current position to its end as a body.
 *
 * @throws when writing to the connection fails (the connection is lost).
 */
export async function sendFileBody(
  writer: MessageWriter,
  file: { read(buffer: Uint8Array): Promise<number | null> },
  pool: BufferPool,
  options: FileBodyOptions = {},
): Promise<FileBodyResult> {
  const { hasher, throttle, onBytes, compression } = options;
  let readError: unknown;
  let bytes = 0;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    while (true) {
      const buffer = pool.take();
      let filled: number;
      try {
        filled = await readFull(file, buffer);
      } catch (error) {
        readError = error;
        throw error;
      }
      if (filled > 0) {
        const chunk = buffer.subarray(0, filled);
        if (throttle) {
          // Pieces share one buffer, so none goes back to the pool.
          for (let at = 0; at < filled; at += throttle.slice) {
            const piece = chunk.subarray(at, at + throttle.slice);
            await throttle.consume(piece.byteLength);
            bytes += piece.byteLength;
            onBytes?.(piece.byteLength);
            yield piece;
          }
        } else {
          bytes += filled;
          onBytes?.(filled);
          yield pool.lend(chunk);
        }
      }
      if (filled < buffer.byteLength) return;
    }
  }
  try {
    await writer.sendBody(
      chunks(),
      () => hasher ? hasher.digests() : {},
      (chunk) => hasher ? hasher.update(chunk) : pool.give(chunk),
      compression,
    );
  } catch (error) {
    if (readError === undefined) throw error;
    return { bytes, readError };
  }
  return { bytes };
}

/** How {@linkcode receiveFileBody} stores what arrives. */
export interface ReceiveOptions {
  /**
   * Writes each chunk here as it arrives; without it (and without
   * {@linkcode ReceiveOptions.write}) chunks are gathered.
   */
  file?: Deno.FsFile | null;
  /** Hands each chunk to this as it arrives (a store's upload), instead of a file. */
  write?: (chunk: Uint8Array) => Promise<void>;
  /** Gather at most this many bytes (more means a size mismatch anyway). */
  gatherLimit: number;
  /** Hash the bytes and compare with the sender's trailer. */
  verify: boolean;
  /** The checksum agreed for the transfer; `sha256` when absent. */
  checksum?: Checksum;
  /** Called with each chunk's size before it is stored (pacing, progress). */
  onChunk?: (bytes: number) => void | Promise<void>;
}

/** What {@linkcode receiveFileBody} received. */
export interface ReceivedBody {
  bytes: number;
  /** The gathered bytes (copied out of the pool's buffers), without `file` or `write`. */
  parts: Uint8Array[];
  /** Writing to `file` failed; the rest of the body was still read. */
  writeError?: unknown;
  /** The sender gave up part-way; the connection is still in step. */
  senderError?: WireError;
  /** The sender's digest matches what arrived (always true unverified). */
  intact: boolean;
  /** The digest of what arrived, in the agreed checksum, when verified intact. */
  digest?: string;
}

/**
 * Reads one file's body to its end, giving each chunk back to `pool`.
 *
 * @throws when the connection fails (the whole transfer is over then).
 */
export async function receiveFileBody(
  body: Body,
  pool: BufferPool,
  options: ReceiveOptions,
): Promise<ReceivedBody> {
  const checksum = options.checksum ?? "sha256";
  const received: ReceivedBody = { bytes: 0, parts: [], intact: true };
  const file = options.file;
  const write = file
    ? (chunk: Uint8Array) => writeAll(file, chunk)
    : options.write;
  // Gathered bytes are hashed whole at the end (cheaper per small file
  // than a running hash); written ones as they pass.
  const hasher = options.verify && write
    ? startHasher(pool, checksum)
    : skipHashing(pool);
  const chunks = body.stream.getReader();
  while (true) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await chunks.read();
    } catch (error) {
      const trailer = await body.trailer.catch(() => undefined);
      if (!trailer?.error) throw error;
      received.senderError = trailer.error;
      return received;
    }
    if (next.done) break;
    const chunk = next.value;
    received.bytes += chunk.byteLength;
    await options.onChunk?.(chunk.byteLength);
    if (!write) {
      if (received.bytes <= options.gatherLimit) {
        received.parts.push(chunk.slice());
      }
    } else if (received.writeError === undefined) {
      try {
        await write(chunk);
      } catch (error) {
        received.writeError = error;
      }
    }
    hasher.update(chunk);
  }
  const trailer = await body.trailer;
  if (options.verify) {
    const digest = write
      ? hasher.hex()
      : received.bytes <= options.gatherLimit
      ? digestOf(checksum, received.parts)
      : undefined;
    received.intact = digest !== undefined &&
      digestIn(trailer, checksum) === digest;
    if (received.intact) received.digest = digest;
  }
  return received;
}

/** Writes all of `bytes` to `file` (anything with `Deno.FsFile`'s `write`). */
export async function writeAll(
  file: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    written += await file.write(bytes.subarray(written));
  }
}
