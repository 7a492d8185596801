/**
 * The frame layout of the fts wire format.
 *
 * Every byte on an fts connection belongs to a frame:
 *
 * ```text
 * +--------+----------------------+------------------+
 * | type   | payload length       | payload          |
 * | 1 byte | 4 bytes, big endian  | length bytes     |
 * +--------+----------------------+------------------+
 * ```
 *
 * Message boundaries therefore never depend on how TCP splits or merges bytes.
 * File sizes and offsets travel inside message payloads as JSON numbers, which
 * are exact up to 2^53 bytes (8 PiB).
 *
 * @module
 */

/** Size of the fixed frame header in bytes. */
export const FRAME_HEADER_SIZE = 5;

/** Largest payload a decoder accepts unless told otherwise (16 MiB). */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

/** Payload size senders use for file data: large chunks keep the hot path fast. */
export const DATA_CHUNK_SIZE = 1024 * 1024;

/** The kinds of frame. */
export const FrameType = {
  /** A control message: UTF-8 JSON, see `messages.ts`. */
  Message: 1,
  /** A piece of a body (file bytes, a listing). */
  Data: 2,
  /** The end of a body: UTF-8 JSON trailer (`{ sha256? }` or `{ error }`). */
  End: 3,
  /**
   * A piece of a body compressed as one zstd frame; it stands for the DATA
   * payload it decompresses to. Sent only to a peer that agreed to it (see
   * `compress` in `put`/`ready` and `get`), and only where it shrinks the
   * piece: every other piece of the same body stays a plain DATA frame.
   */
  Compressed: 4,
  /**
   * A piece of a body compressed as part of one zstd stream per body (see
   * `zstd_stream.ts`): it decompresses only after the body's earlier
   * ones. Sent only to a peer that agreed to it (`compressStream`).
   */
  CompressedStream: 5,
} as const;

/** One of the {@linkcode FrameType} values. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** A decoded frame. */
export interface Frame {
  type: FrameType;
  payload: Uint8Array;
}

/** Returns whether `type` is a known frame type. */
export function isFrameType(type: number): type is FrameType {
  return type === FrameType.Message || type === FrameType.Data ||
    type === FrameType.End || type === FrameType.Compressed ||
    type === FrameType.CompressedStream;
}

/**
 * Writes a frame header for a payload of `length` bytes into `target` at
 * `offset`. Senders that leave {@linkcode FRAME_HEADER_SIZE} spare bytes in
 * front of a chunk can frame it without copying it.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  type: FrameType,
  length: number,
): void {
  const view = new DataView(
    target.buffer,
    target.byteOffset + offset,
    FRAME_HEADER_SIZE,
  );
  view.setUint8(0, type);
  view.setUint32(1, length);
}

/** Returns a standalone frame header. */
export function frameHeader(type: FrameType, length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  writeFrameHeader(header, 0, type, length);
  return header;
}
