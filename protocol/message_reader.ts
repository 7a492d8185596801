/**
 * Reads messages, and the bodies that follow some of them, from a byte stream.
 *
 * @module
 */

import { ConnectionError, errorFromWire, ProtocolError } from "./errors.ts";
import type { ByteInput } from "./exact_reader.ts";
import { type FrameDecoderOptions, FrameReader } from "./frame_decoder.ts";
import { decompressPayload } from "./frame_compression.ts";
import { StreamUnpacker } from "./zstd_stream.ts";
import { DEFAULT_MAX_FRAME_SIZE, FrameType } from "./frame.ts";
import {
  BODY_OPS,
  decodeMessage,
  decodeTrailer,
  type Message,
  type Notice,
  type Trailer,
} from "./messages.ts";

/** Options for {@linkcode MessageReader}. */
export interface MessageReaderOptions extends FrameDecoderOptions {
  /** Called for each `notice` the peer sends, wherever it arrives. */
  onNotice?: (notice: Notice) => void;
  /** Called whenever any frame arrives (used for idle timeouts). */
  onActivity?: () => void;
  /**
   * Called before each frame is read, that is before waiting on the peer
   * (used to push out replies gathered for a TLS connection).
   */
  beforeRead?: () => void;
}

/**
 * A body: the file bytes (or listing) that follow a message, as a byte stream
 * whose chunks are whole DATA frame payloads (compressed frames arrive
 * decompressed). It must be read to its end or
 * cancelled before the next message can be read; `trailer` resolves when its
 * END frame has arrived.
 */
export interface Body {
  readonly stream: ReadableStream<Uint8Array>;
  readonly trailer: Promise<Trailer>;
}

/**
 * Reads {@linkcode Message}s from a byte stream. Notices and pings are handled
 * as they come, also in the middle of a body, and never returned.
 *
 * @example
 * ```ts
 * const reader = new MessageReader(conn);
 * const message = await reader.read();
 * if (message?.op === "data") {
 *   const body = reader.body();
 *   await body.stream.pipeTo(file.writable);
 *   const { sha256 } = await body.trailer;
 * }
 * ```
 */
export class MessageReader {
  #frames: FrameReader;
  #options: MessageReaderOptions;
  #bodyPending = false;
  #bodyOpen = false;
  #packed = { raw: 0, wire: 0 };

  /**
   * Reads from `input`: a byte stream (locked for reading), or a reader
   * such as a `Deno.Conn`, read with its own `read` (fewer promises per
   * read, which matters for TLS's 16 KiB reads).
   */
  constructor(
    input: ByteInput,
    options: MessageReaderOptions = {},
  ) {
    this.#frames = new FrameReader(input, options);
    this.#options = options;
  }

  /**
   * Body bytes that arrived compressed so far: `raw` after decompression,
   * `wire` as they came (for "received 20 MiB as 5 MiB").
   */
  get packed(): { raw: number; wire: number } {
    return { ...this.#packed };
  }

  /**
   * Returns the next message, or `null` when the peer closed the connection
   * cleanly between messages.
   */
  async read(): Promise<Message | null> {
    if (this.#bodyPending || this.#bodyOpen) {
      throw new ProtocolError("the previous body was not read");
    }
    while (true) {
      this.#options.beforeRead?.();
      const frame = await this.#frames.next();
      if (frame === null) return null;
      this.#options.onActivity?.();
      if (frame.type !== FrameType.Message) {
        throw new ProtocolError("data arrived where a message was expected");
      }
      const message = decodeMessage(frame.payload);
      if (this.#handledInline(message)) continue;
      this.#bodyPending = BODY_OPS.has(message.op);
      return message;
    }
  }

  /**
   * Returns the body that follows the message just read. Call it once after
   * each message whose op is in `BODY_OPS`.
   */
  body(): Body {
    if (!this.#bodyPending) throw new ProtocolError("no body follows");
    this.#bodyPending = false;
    this.#bodyOpen = true;
    let settle!: (trailer: Trailer) => void;
    let fail!: (error: unknown) => void;
    const trailer = new Promise<Trailer>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    trailer.catch(() => {});
    // Set once the END frame (or a failure) has been read: nothing of this
    // body is left on the wire, and the next frame belongs to someone else.
    let ended = false;
    // The body's zstd stream, from its first CompressedStream frame on.
    let unpacker: StreamUnpacker | undefined;
    const readFrame = async (): Promise<Uint8Array | null> => {
      while (!ended) {
        this.#options.beforeRead?.();
        const frame = await this.#frames.next();
        if (frame === null) {
          ended = true;
          throw new ConnectionError(
            "the connection was closed",
            { action: "finish transfer" },
          );
        }
        this.#options.onActivity?.();
        if (frame.type === FrameType.Data) return frame.payload;
        if (frame.type === FrameType.Compressed) {
          return this.#unpackPiece(frame.payload);
        }
        if (frame.type === FrameType.CompressedStream) {
          unpacker ??= new StreamUnpacker();
          const piece = this.#unpackStreamed(unpacker, frame.payload);
          if (piece) return piece;
          continue;
        }
        if (frame.type === FrameType.End) {
          unpacker?.close();
          ended = true;
          this.#bodyOpen = false;
          const value = decodeTrailer(frame.payload);
          settle(value);
          if (value.error) {
            throw errorFromWire(value.error, "finish transfer");
          }
          return null;
        }
        const message = decodeMessage(frame.payload);
        if (!this.#handledInline(message)) {
          ended = true;
          throw new ProtocolError(`message "${message.op}" inside a body`);
        }
      }
      return null;
    };
    // One frame at a time: a cancel may come while a read-ahead still waits.
    let reading: Promise<unknown> = Promise.resolve();
    const next = (): Promise<Uint8Array | null> => {
      const result = reading.then(readFrame);
      reading = result.catch(() => {});
      return result;
    };
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        let chunk: Uint8Array | null;
        try {
          chunk = await next();
        } catch (error) {
          this.#bodyOpen = false;
          fail(error);
          controller.error(error);
          return;
        }
        // A read-ahead that finishes after a cancel has nowhere to go.
        if (cancelled) return;
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      // Skipping the rest keeps the session in step for the next message.
      cancel: async () => {
        cancelled = true;
        try {
          while (await next() !== null);
        } catch (error) {
          this.#bodyOpen = false;
          fail(error);
        }
      },
    }, { highWaterMark: 1 });
    return { stream, trailer };
  }

  /** A piece compressed alone: decompressed and counted; its buffer goes back. */
  #unpackPiece(payload: Uint8Array): Uint8Array {
    return this.#unpackCounted(payload, decompressPayload);
  }

  /**
   * Unpacks `payload` with `unpack`, counts its wire and raw bytes, and gives
   * its buffer back: the one step both kinds of compressed frame share.
   */
  #unpackCounted(
    payload: Uint8Array,
    unpack: typeof decompressPayload,
  ): Uint8Array {
    const { pool, maxFrameSize } = this.#options;
    const piece = unpack(payload, maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, pool);
    this.#packed.wire += payload.byteLength;
    this.#packed.raw += piece.byteLength;
    pool?.give(payload);
    return piece;
  }

  /**
   * The next piece of a body's zstd stream, or null for a frame that only
   * ends a zstd frame (the sender changed its level).
   */
  #unpackStreamed(
    unpacker: StreamUnpacker,
    payload: Uint8Array,
  ): Uint8Array | null {
    const piece = this.#unpackCounted(
      payload,
      (packed, maxSize, pool) => unpacker.unpack(packed, maxSize, pool),
    );
    if (piece.byteLength === 0) {
      this.#options.pool?.give(piece);
      return null;
    }
    return piece;
  }

  #handledInline(message: Message): boolean {
    if (message.op === "ping") return true;
    if (message.op === "notice") {
      this.#options.onNotice?.(message);
      return true;
    }
    return false;
  }

  /** Cancels the underlying stream. */
  cancel(reason?: unknown): Promise<void> {
    return this.#frames.cancel(reason);
  }
}
