/**
 * Reads files in large chunks, ready to be framed without a copy.
 *
 * Deno's `FsFile.readable` hands out small chunks; the hot path needs
 * megabyte chunks (see docs/performance.md), so files are read here with
 * plain `read` calls into buffers from `allocatePayload`.
 *
 * @module
 */

import { BufferPool } from "../protocol/buffer_pool.ts";
import { DATA_CHUNK_SIZE } from "../protocol/frame.ts";
import type { Checksum } from "../protocol/messages.ts";
import { type RunningHash, startHash } from "./hash/checksum.ts";

/**
 * Returns a stream of `file`'s bytes from its current position to its end in
 * chunks of the pool's size (the last may be shorter), in buffers lent by
 * `pool`. The stream reads only when its consumer asks, so a slow socket
 * slows the disk. It does not close the file.
 */
export function fileChunks(
  file: ByteSource,
  pool: BufferPool = new BufferPool(DATA_CHUNK_SIZE, 0),
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = pool.take();
      const filled = await readFull(file, buffer);
      if (filled > 0) controller.enqueue(pool.lend(buffer.subarray(0, filled)));
      if (filled < buffer.byteLength) controller.close();
    },
  }, { highWaterMark: 1 });
}

/** Reads until `buffer` is full or the file ends; returns the bytes read. */
export async function readFull(
  file: ByteSource,
  buffer: Uint8Array,
): Promise<number> {
  let filled = 0;
  while (filled < buffer.byteLength) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/** Something to read bytes from, like the read side of `Deno.FsFile`. */
export interface ByteSource {
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * Hashes the first `length` bytes of `source` (a local path, or an open
 * file read from its current position) with `checksum` and returns the
 * running hash, so a resumed transfer can continue it.
 */
export async function hashPrefix(
  source: string | ByteSource,
  length: number,
  checksum: Checksum = "sha256",
): Promise<RunningHash> {
  const hash = startHash(checksum);
  if (length === 0) return hash;
  if (typeof source === "string") {
    using file = await Deno.open(source);
    return await hashInto(hash, file, length);
  }
  return await hashInto(hash, source, length);
}

async function hashInto(
  hash: RunningHash,
  file: ByteSource,
  length: number,
): Promise<RunningHash> {
  const buffer = new Uint8Array(Math.min(DATA_CHUNK_SIZE, length));
  let left = length;
  while (left > 0) {
    const n = await readFull(
      file,
      buffer.subarray(0, Math.min(left, buffer.byteLength)),
    );
    if (n === 0) break;
    hash.update(buffer.subarray(0, n));
    left -= n;
  }
  return hash;
}

/**
 * Writes every chunk wholly to `file` (which stays open; stdout works too),
 * calling `onWrite` with each chunk once it is written (to count it, or to
 * give its buffer back to a pool).
 */
export function fileSink(
  file: { write(bytes: Uint8Array): Promise<number> },
  onWrite?: (chunk: Uint8Array) => void,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      let written = 0;
      while (written < chunk.byteLength) {
        written += await file.write(chunk.subarray(written));
      }
      onWrite?.(chunk);
    },
  });
}
