/**
 * Encodes many small frames into one buffer, so that a stream of small files
 * (a message, a DATA frame and an END frame each) leaves in a few large
 * writes instead of three small writes per file.
 *
 * @module
 */

import {
  FRAME_HEADER_SIZE,
  type FrameType,
  FrameType as Type,
} from "./frame.ts";
import {
  encodeMessage,
  encodeTrailer,
  type Message,
  type Trailer,
} from "./messages.ts";

/**
 * A growing buffer of encoded frames. Append frames, then {@linkcode take}
 * the bytes and hand them to `MessageWriter.sendEncoded`.
 *
 * @example
 * ```ts
 * const batch = new FrameBatch();
 * batch.message({ op: "file", path: "a.txt", size: 3, mtime: 0, mode: 0o644 });
 * batch.data(new TextEncoder().encode("abc"));
 * batch.end({});
 * await writer.sendEncoded(batch.take());
 * ```
 */
export class FrameBatch {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;
  #capacity: number;

  /** Starts with room for `capacity` bytes; grows as needed. */
  constructor(capacity = 1024 * 1024) {
    this.#capacity = capacity;
    this.#buffer = new Uint8Array(capacity);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Bytes encoded so far. */
  get size(): number {
    return this.#length;
  }

  /** Appends a MESSAGE frame. */
  message(message: Message): void {
    this.#frame(Type.Message, encodeMessage(message));
  }

  /** Appends `bytes` as one DATA frame; an empty payload adds nothing. */
  data(bytes: Uint8Array): void {
    if (bytes.byteLength > 0) this.#frame(Type.Data, bytes);
  }

  /**
   * Appends `packed` (from `compressPayload`) as one compressed frame, for a
   * peer that agreed to them.
   */
  compressed(packed: Uint8Array): void {
    this.#frame(Type.Compressed, packed);
  }

  /** Appends an END frame with `trailer`. */
  end(trailer: Trailer): void {
    this.#frame(Type.End, encodeTrailer(trailer));
  }

  /** Returns the bytes encoded so far and starts a new, empty buffer. */
  take(): Uint8Array {
    const bytes = this.#buffer.subarray(0, this.#length);
    this.#buffer = new Uint8Array(this.#capacity);
    this.#view = new DataView(this.#buffer.buffer);
    this.#length = 0;
    return bytes;
  }

  #frame(type: FrameType, payload: Uint8Array): void {
    const needed = this.#length + FRAME_HEADER_SIZE + payload.byteLength;
    if (needed > this.#buffer.byteLength) {
      const grown = new Uint8Array(
        Math.max(needed, this.#buffer.byteLength * 2),
      );
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#view.setUint8(this.#length, type);
    this.#view.setUint32(this.#length + 1, payload.byteLength);
    this.#buffer.set(payload, this.#length + FRAME_HEADER_SIZE);
    this.#length = needed;
  }
}
