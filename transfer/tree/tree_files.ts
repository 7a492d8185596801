/**
 * The per-file steps of a tree transfer that both ends take, written once:
 * the quick check (is the receiver's copy up to date?), sending a small file
 * inside a batch of frames, and judging what arrived for one file.
 *
 * @module
 */

import {
  errorFromWire,
  type FtsError,
  IntegrityError,
} from "../../protocol/errors.ts";
import type { FrameBatch } from "../../protocol/frame_batch.ts";
import { compressPayload } from "../../protocol/frame_compression.ts";
import { allocatePayload } from "../../protocol/frame_encoder.ts";
import { DATA_CHUNK_SIZE } from "../../protocol/frame.ts";
import type { SendBodyOptions } from "../../protocol/message_writer.ts";
import type { Checksum, Entry, TreeItem } from "../../protocol/messages.ts";
import { digestFields, digestOf } from "../hash/checksum.ts";
import type { ReceivedBody } from "../file_body.ts";

/**
 * rsync's quick check: the receiver's entry is the sender's file when it is
 * a file of the same size and modification time.
 */
export function isUpToDate(
  have: Pick<Entry, "type" | "size" | "mtime"> | null | undefined,
  item: Pick<TreeItem, "size" | "mtime">,
): boolean {
  return have?.type === "file" && have.size === item.size &&
    have.mtime === item.mtime;
}

/** Where small files are compressed before the batch copies them in. */
let scratch: Uint8Array | undefined;

/**
 * A small file's message, bytes and trailer, added to `batch` in order. The
 * trailer's digest is of `checksum`, which the `file` message then names;
 * without one it is SHA-256 and the message names none (as older peers
 * expect). Pieces go compressed where `compress` (from `compression(mode)`,
 * once the peer agreed) says so and they shrink.
 */
export function batchSmallFile(
  batch: FrameBatch,
  file: { path: string; data: Uint8Array; mtime: number; mode: number | null },
  verify: boolean,
  checksum?: Checksum,
  compress?: SendBodyOptions["compress"],
  /**
   * Told how many bytes each piece given to the compressor took on the
   * wire (`raw` when it did not shrink and went as it was), and how long
   * compressing it took: what `--compress=auto` measures.
   */
  onPacked?: (raw: number, wire: number, ms: number) => void,
): void {
  const { path, data, mtime, mode } = file;
  batch.message({
    op: "file",
    path,
    size: data.byteLength,
    mtime,
    mode,
    checksum,
  });
  for (let at = 0; at < data.byteLength; at += DATA_CHUNK_SIZE) {
    const piece = data.subarray(at, at + DATA_CHUNK_SIZE);
    let packed: Uint8Array | null = null;
    if (compress?.(piece)) {
      const started = performance.now();
      packed = compressPayload(
        piece,
        scratch ??= allocatePayload(DATA_CHUNK_SIZE),
      );
      const wire = packed?.byteLength ?? piece.byteLength;
      onPacked?.(piece.byteLength, wire, performance.now() - started);
    }
    if (packed) batch.compressed(packed);
    else batch.data(piece);
  }
  const agreed = checksum ?? "sha256";
  batch.end(verify ? digestFields(agreed, digestOf(agreed, [data])) : {});
}

/**
 * Why one received file cannot be kept, or undefined when it arrived whole
 * and intact. `writeError` is mapped by the receiver (its own disk).
 */
export function receiveFailure(
  received: ReceivedBody,
  expected: { path: string; size: number },
  mapWriteError: (error: unknown) => FtsError,
  senderAction: string,
): FtsError | undefined {
  if (received.senderError) {
    // The sender could not read the file; the connection is in step.
    return errorFromWire(received.senderError, senderAction);
  }
  if (received.writeError !== undefined) {
    return mapWriteError(received.writeError);
  }
  if (received.bytes !== expected.size) {
    return new IntegrityError(
      `received ${received.bytes} of ${expected.size} bytes of "${expected.path}"`,
    );
  }
  if (!received.intact) {
    return new IntegrityError(
      `"${expected.path}" was damaged in transit (checksum mismatch)`,
    );
  }
  return undefined;
}
