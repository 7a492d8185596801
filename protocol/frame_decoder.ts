/**
 * Turns bytes into frames.
 *
 * @module
 */

import type { BufferPool } from "./buffer_pool.ts";
import { type ByteInput, ExactReader } from "./exact_reader.ts";
import {
  ForeignPeerError,
  PeerSpeaksTlsError,
  ProtocolError,
  TruncatedFrameError,
} from "./errors.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  type Frame,
  FRAME_HEADER_SIZE,
  FrameType,
  isFrameType,
} from "./frame.ts";

/** TLS record types a peer speaking TLS starts with: an alert, a handshake. */
const TLS_ALERT = 0x15;
const TLS_HANDSHAKE = 0x16;

/** A frame's header: its type and its payload's length. */
export interface FrameHeader {
  type: FrameType;
  length: number;
}

/** Options for decoding frames. */
export interface FrameDecoderOptions {
  /** Largest payload accepted; a larger length is a protocol error. */
  maxFrameSize?: number;
  /**
   * Where DATA and compressed payloads that fit are read into; the consumer
   * gives each one back once it is done with it.
   */
  pool?: BufferPool;
}

/**
 * Reads one frame at a time from a byte stream. Each `next()` reads exactly one
 * header and one payload, so nothing is read ahead of what the caller asked
 * for: that is what carries backpressure from the disk to the socket.
 */
export class FrameReader {
  #input: ExactReader;
  #maxFrameSize: number;
  #pool: BufferPool | undefined;
  #first = true;
  /**
   * Every header is read into this one buffer (it is parsed at once): a new
   * one per frame was the decoder's dearest step with many small files.
   */
  #header = new Uint8Array(FRAME_HEADER_SIZE);

  /**
   * Reads from `input`, a byte stream (locked for reading) or a reader such
   * as a `Deno.Conn` (the faster choice: see `exact_reader.ts`).
   */
  constructor(
    input: ByteInput,
    options: FrameDecoderOptions = {},
  ) {
    this.#input = new ExactReader(input);
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#pool = options.pool;
  }

  /** Returns the next frame, or `null` when the stream ends between frames. */
  async next(): Promise<Frame | null> {
    const header = await this.header();
    if (header === null) return null;
    return { type: header.type, payload: await this.payload(header) };
  }

  /**
   * Reads the next frame's header only, or `null` when the stream ends
   * between frames. Its payload must be read next: whole with
   * {@linkcode payload}, or piece by piece with {@linkcode readSome}.
   */
  async header(): Promise<FrameHeader | null> {
    const header = await this.#input.readInto(this.#header);
    if (header === null) return null;
    const type = header[0];
    const first = this.#first;
    this.#first = false;
    if (first && (type === TLS_ALERT || type === TLS_HANDSHAKE)) {
      throw new PeerSpeaksTlsError("the peer speaks TLS");
    }
    if (!isFrameType(type)) {
      const reason = `unknown frame type 0x${
        type.toString(16).padStart(2, "0")
      }`;
      // The first bytes tell which other protocol answered.
      if (first) {
        throw new ForeignPeerError(reason, { greeting: header.slice() });
      }
      throw new ProtocolError(reason);
    }
    const length = new DataView(header.buffer, header.byteOffset).getUint32(1);
    if (length > this.#maxFrameSize) {
      throw new ProtocolError(
        `frame of ${length} bytes exceeds the limit of ${this.#maxFrameSize}`,
      );
    }
    return { type, length };
  }

  /**
   * Reads the whole payload of the frame whose `header` was just read: into
   * a buffer of the pool (lent) for DATA and compressed frames that fit,
   * else into a new one.
   */
  async payload({ type, length }: FrameHeader): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const pooled = (type === FrameType.Data || type === FrameType.Compressed ||
      type === FrameType.CompressedStream) &&
      this.#pool && length <= this.#pool.size;
    const payload = pooled
      ? await this.#input.readInto(this.#pool!.take().subarray(0, length))
      : await this.#input.read(length);
    if (payload === null) {
      throw new ProtocolError("connection ended after a frame header");
    }
    return pooled ? this.#pool!.lend(payload) : payload;
  }

  /**
   * Reads some of the current payload into `target` (at most its length,
   * which must not reach past the payload's end); see
   * {@linkcode ExactReader.readSome}. Throws when the stream ends.
   */
  async readSome(target: Uint8Array): Promise<number> {
    const n = await this.#input.readSome(target);
    if (n === null) {
      throw new TruncatedFrameError("connection ended inside a frame");
    }
    return n;
  }

  /** Cancels the underlying stream. */
  cancel(reason?: unknown): Promise<void> {
    return this.#input.cancel(reason);
  }
}

/**
 * A decoder stage: bytes in, {@linkcode Frame}s out.
 *
 * @example
 * ```ts
 * const frames = socket.readable.pipeThrough(new FrameDecoderStream());
 * for await (const frame of frames) console.log(frame.type, frame.payload.length);
 * ```
 */
export class FrameDecoderStream implements TransformStream<Uint8Array, Frame> {
  readonly readable: ReadableStream<Frame>;
  readonly writable: WritableStream<Uint8Array>;

  constructor(options: FrameDecoderOptions = {}) {
    const { readable, writable } = new TransformStream<
      Uint8Array,
      Uint8Array
    >();
    this.writable = writable;
    const reader = new FrameReader(readable, options);
    this.readable = ReadableStream.from(
      (async function* () {
        for (let frame; (frame = await reader.next()) !== null;) yield frame;
      })(),
    );
  }
}
