/**
 * Reads messages, and the bodies that follow some of them, from a byte stream.
 *
 * @module
 */

import { ConnectionError, errorFromWire, ProtocolError } from "./errors.ts";
import type { ByteInput } from "./exact_reader.ts";
import {
  type FrameDecoderOptions,
  type FrameHeader,
  FrameReader,
} from "./frame_decoder.ts";
import { decompressPayload } from "./frame_compression.ts";
import { StreamUnpacker } from "./zstd_stream.ts";
import { DEFAULT_MAX_FRAME_SIZE, type Frame, FrameType } from "./frame.ts";
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
 * Where {@linkcode MessageReader.bodyInto} puts a body's bytes: the sink
 * owns the buffers (large ones, so reads are large and writes few).
 */
export interface BodySink {
  /** Free room for the next body bytes: never empty. */
  room(): Uint8Array;
  /**
   * The first `n` bytes of the room last offered now hold body bytes. May
   * wait (for a full buffer to be written) before more room is asked for.
   */
  filled(n: number): void | Promise<void>;
  /**
   * A DATA frame ended: the sender may pause here, so a sink that holds
   * bytes back may want to pass them on (a partial file then keeps them).
   */
  frameEnd?(): void | Promise<void>;
}

/** A body's decoding state across its frames. */
interface BodyState {
  /** The body's zstd stream, from its first CompressedStream frame on. */
  unpacker?: StreamUnpacker;
}

/** What one non-DATA frame of a body brought (null: nothing to pass on). */
type BodyStep = { piece: Uint8Array } | { trailer: Trailer } | null;

/**
 * A {@linkcode BodySink} that stops being fed after it fails: the rest of
 * the body goes into a scratch buffer, and the failure is thrown once the
 * body has ended.
 */
class SinkGuard {
  #sink: BodySink;
  #failed = false;
  #failure: unknown;
  #scratch: Uint8Array | undefined;

  constructor(sink: BodySink) {
    this.#sink = sink;
  }

  room(): Uint8Array {
    if (!this.#failed) return this.#sink.room();
    return this.#scratch ??= new Uint8Array(SCRATCH_SIZE);
  }

  async filled(n: number): Promise<void> {
    if (!this.#failed) await this.#guarded(() => this.#sink.filled(n));
  }

  async frameEnd(): Promise<void> {
    if (!this.#failed) await this.#guarded(() => this.#sink.frameEnd?.());
  }

  async #guarded(step: () => void | Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.#failed = true;
      this.#failure = error;
    }
  }

  /** Copies `bytes` in (a decompressed piece). */
  async copy(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.byteLength;) {
      const room = this.room();
      const n = Math.min(room.byteLength, bytes.byteLength - at);
      room.set(bytes.subarray(at, at + n));
      at += n;
      await this.filled(n);
    }
  }

  throwIfFailed(): void {
    if (this.#failed) throw this.#failure;
  }
}

/** Where a failed sink's share of a body is read to be dropped. */
const SCRATCH_SIZE = 64 * 1024;

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
    this.#openBody();
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
    const state: BodyState = {};
    const readFrame = async (): Promise<Uint8Array | null> => {
      while (!ended) {
        let step: BodyStep;
        try {
          const frame = await this.#frameInBody();
          if (frame.type === FrameType.Data) return frame.payload;
          step = this.#bodyStep(frame, state);
        } catch (error) {
          ended = true;
          throw error;
        }
        if (step === null) continue;
        if ("piece" in step) return step.piece;
        ended = true;
        this.#bodyOpen = false;
        settle(step.trailer);
        if (step.trailer.error) {
          throw errorFromWire(step.trailer.error, "finish transfer");
        }
        return null;
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

  /**
   * Reads the body that follows the message just read straight into
   * `sink`'s buffers and returns its trailer: DATA payloads of any size up
   * to the frame limit are read piece by piece into the room the sink
   * offers, so no frame needs a buffer of its own and big frames cost few
   * reads. Compressed pieces are copied in once decompressed. Call it
   * instead of {@linkcode body}.
   *
   * When the sink fails, the rest of the body is still read (and dropped),
   * so the connection stays in step; then the sink's error is thrown.
   *
   * @throws the sender's error from an error trailer, or a connection error.
   */
  async bodyInto(sink: BodySink): Promise<Trailer> {
    this.#openBody();
    const state: BodyState = {};
    const target = new SinkGuard(sink);
    try {
      while (true) {
        const { type, length } = await this.#headerInBody();
        if (type === FrameType.Data) {
          await this.#payloadInto(length, target);
          continue;
        }
        const frame = {
          type,
          payload: await this.#frames.payload({ type, length }),
        };
        const step = this.#bodyStep(frame, state);
        if (step === null) continue;
        if ("piece" in step) {
          await target.copy(step.piece);
          this.#options.pool?.give(step.piece);
          continue;
        }
        target.throwIfFailed();
        if (step.trailer.error) {
          throw errorFromWire(step.trailer.error, "finish transfer");
        }
        return step.trailer;
      }
    } finally {
      this.#bodyOpen = false;
    }
  }

  /** Streams `length` bytes of DATA payload into `target`. */
  async #payloadInto(length: number, target: SinkGuard): Promise<void> {
    for (let left = length; left > 0;) {
      const room = target.room();
      this.#options.beforeRead?.();
      const n = await this.#frames.readSome(
        room.byteLength > left ? room.subarray(0, left) : room,
      );
      this.#options.onActivity?.();
      left -= n;
      await target.filled(n);
    }
    await target.frameEnd();
  }

  #openBody(): void {
    if (!this.#bodyPending) throw new ProtocolError("no body follows");
    this.#bodyPending = false;
    this.#bodyOpen = true;
  }

  /** The next frame of a body: the connection may not end before its END. */
  async #headerInBody(): Promise<FrameHeader> {
    this.#options.beforeRead?.();
    const header = await this.#frames.header();
    if (header === null) {
      throw new ConnectionError(
        "the connection was closed",
        { action: "finish transfer" },
      );
    }
    this.#options.onActivity?.();
    return header;
  }

  async #frameInBody(): Promise<Frame> {
    const header = await this.#headerInBody();
    return { type: header.type, payload: await this.#frames.payload(header) };
  }

  /**
   * What a frame of a body other than DATA brings: a decompressed piece, the
   * trailer (END), or nothing (a ping or notice, a zstd level change).
   */
  #bodyStep(frame: Frame, state: BodyState): BodyStep {
    if (frame.type === FrameType.Compressed) {
      return { piece: this.#unpackPiece(frame.payload) };
    }
    if (frame.type === FrameType.CompressedStream) {
      state.unpacker ??= new StreamUnpacker();
      const piece = this.#unpackStreamed(state.unpacker, frame.payload);
      return piece ? { piece } : null;
    }
    if (frame.type === FrameType.End) {
      state.unpacker?.close();
      return { trailer: decodeTrailer(frame.payload) };
    }
    const message = decodeMessage(frame.payload);
    if (!this.#handledInline(message)) {
      throw new ProtocolError(`message "${message.op}" inside a body`);
    }
    return null;
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
