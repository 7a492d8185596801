/**
 * One large file of a tree as a body: sent in pooled chunks, optionally
 * paced and hashed, with the SHA-256 in the END trailer. A failure to read
 * the file is told apart from a failure to send, because only the latter
 * ends the whole transfer. Also the small write helpers both receivers use.
 *
 * @module
 */

import type { BufferPool } from "../protocol/buffer_pool.ts";
import type { MessageWriter } from "../protocol/message_writer.ts";
import { readFull } from "./file_chunks.ts";
import type { Hasher } from "./hasher.ts";
import type { Throttle } from "./throttle.ts";

/** Options for {@linkcode sendFileBody}. */
export interface FileBodyOptions {
  /** Hashes the bytes; its digest goes into the trailer. */
  hasher?: Hasher | null;
  /** Paces the bytes. */
  throttle?: Throttle | null;
  /** Called with each chunk's size as it is handed to the writer. */
  onBytes?: (bytes: number) => void;
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
  file: Deno.FsFile,
  pool: BufferPool,
  options: FileBodyOptions = {},
): Promise<FileBodyResult> {
  const { hasher, throttle, onBytes } = options;
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
      () => hasher ? { sha256: hasher.hex() } : {},
      (chunk) => hasher ? hasher.update(chunk) : pool.give(chunk),
    );
  } catch (error) {
    if (readError === undefined) throw error;
    return { bytes, readError };
  }
  return { bytes };
}

/** Writes all of `bytes` to `file` with sync calls (for small chunks). */
export function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.byteLength) {
    written += file.writeSync(bytes.subarray(written));
  }
}

/** Writes all of `bytes` to `file`. */
export async function writeAll(
  file: Deno.FsFile,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    written += await file.write(bytes.subarray(written));
  }
}
