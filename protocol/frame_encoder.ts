/**
 * Turns frames into bytes.
 *
 * @module
 */

import { type Frame, FRAME_HEADER_SIZE, writeFrameHeader } from "./frame.ts";

const roomy = new WeakSet<ArrayBufferLike>();

/**
 * Allocates a payload buffer of `size` bytes with room for a frame header in
 * front of it, so that {@linkcode encodeFrame} can frame it, or any prefix of
 * it, without a copy. File readers fill these with file data.
 */
export function allocatePayload(size: number): Uint8Array {
  const payload = new Uint8Array(FRAME_HEADER_SIZE + size).subarray(
    FRAME_HEADER_SIZE,
  );
  roomy.add(payload.buffer);
  return payload;
}

/**
 * Returns the bytes of `frame` as one or two chunks. A payload from
 * {@linkcode allocatePayload} gets its header written in front of it and is
 * not copied; a small payload is copied behind its header so that it leaves
 * as one write.
 */
export function encodeFrame(frame: Frame): Uint8Array[] {
  const { type, payload } = frame;
  if (payload.byteOffset === FRAME_HEADER_SIZE && roomy.has(payload.buffer)) {
    const whole = new Uint8Array(
      payload.buffer,
      payload.byteOffset - FRAME_HEADER_SIZE,
      payload.byteLength + FRAME_HEADER_SIZE,
    );
    writeFrameHeader(whole, 0, type, payload.byteLength);
    return [whole];
  }
  if (payload.byteLength <= 64 * 1024) {
    const whole = new Uint8Array(FRAME_HEADER_SIZE + payload.byteLength);
    writeFrameHeader(whole, 0, type, payload.byteLength);
    whole.set(payload, FRAME_HEADER_SIZE);
    return [whole];
  }
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  writeFrameHeader(header, 0, type, payload.byteLength);
  return [header, payload];
}

/**
 * An encoder stage: {@linkcode Frame}s in, bytes out.
 *
 * @example
 * ```ts
 * await ReadableStream.from(frames).pipeThrough(new FrameEncoderStream()).pipeTo(socket.writable);
 * ```
 */
export class FrameEncoderStream extends TransformStream<Frame, Uint8Array> {
  constructor() {
    super({
      transform(frame, controller) {
        for (const chunk of encodeFrame(frame)) controller.enqueue(chunk);
      },
    });
  }
}
