/**
 * Writes messages and bodies to a byte stream.
 *
 * @module
 */

import { BufferPool } from "./buffer_pool.ts";
import { type ErrorCode, FtsError } from "./errors.ts";
import { encodeFrame } from "./frame_encoder.ts";
import { compressPayload } from "./frame_compression.ts";
import { packedBound, StreamPacker } from "./zstd_stream.ts";
import { DATA_CHUNK_SIZE, type FrameType, FrameType as Type } from "./frame.ts";
import {
  encodeMessage,
  encodeTrailer,
  type Message,
  type Trailer,
} from "./messages.ts";

/** Options for {@linkcode MessageWriter.sendBody}. */
export interface SendBodyOptions {
  /**
   * Says for each chunk whether to try zstd on it (the peer must have agreed
   * to compressed frames). A chunk that does not shrink goes out raw anyway.
   */
  compress?: (chunk: Uint8Array) => boolean;
  /**
   * The zstd level for the next compressed piece: the pieces then form one
   * zstd stream per body (`CompressedStream` frames; the peer must have
   * agreed to them), so matches reach across pieces. Without it each piece
   * is compressed alone at level 1. `piece` is the one about to go (the
   * first call may try levels on it).
   */
  streamLevel?: (piece: Uint8Array) => number;
  /** Told how long each compression took and what it gave (for `auto`). */
  onCompressed?: (raw: number, sent: number, milliseconds: number) => void;
  /**
   * Told how long each piece waited for the stream to take more (the
   * peer's or the link's backpressure), in milliseconds.
   */
  onWaited?: (milliseconds: number) => void;
}

/**
 * Writes {@linkcode Message}s and bodies to a byte stream. Frames are written
 * whole, so a `send` (a notice, say) may safely interleave with a body being
 * sent.
 *
 * @example
 * ```ts
 * const writer = new MessageWriter(conn.writable);
 * await writer.send({ op: "data", offset: 0, size: file.size });
 * await writer.sendBody(chunks, () => ({ sha256: hash.digest() }));
 * ```
 */
export class MessageWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lastWrite: Promise<void> = Promise.resolve();
  #pool: BufferPool | undefined;
  #streamPool: BufferPool | undefined;

  /**
   * Locks `writable` for writing. Compressed pieces are written into
   * buffers of `pool` (the connection's), or of a small pool of the
   * writer's own made when the first piece is compressed.
   */
  constructor(
    writable: WritableStream<Uint8Array>,
    options: { pool?: BufferPool } = {},
  ) {
    this.#writer = writable.getWriter();
    this.#pool = options.pool;
  }

  /** Writes one message and waits until the stream has taken it. */
  async send(message: Message): Promise<void> {
    await this.#frame(Type.Message, encodeMessage(message));
    await this.#writer.ready;
  }

  /**
   * Writes `chunks` as DATA frames and an END frame whose trailer `trailer`
   * returns once every chunk has been written. Waits for the stream's
   * readiness between frames, so a slow peer slows the reading of `chunks`
   * (backpressure). `onWritten` receives each chunk once the stream is done
   * with it (to hash it and reuse its buffer); it always gets the original
   * bytes, also of a chunk that left compressed, so checksums cover them.
   *
   * When reading `chunks` fails, the END frame carries the error so the peer
   * stays in step, and the error is rethrown.
   */
  async sendBody(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    trailer: () => Trailer | Promise<Trailer> = () => ({}),
    onWritten?: (chunk: Uint8Array) => void,
    options: SendBodyOptions = {},
  ): Promise<void> {
    const { compress, onCompressed, onWaited, streamLevel } = options;
    const packer = streamLevel ? new StreamPacker() : null;
    try {
      for await (const chunk of chunks) {
        if (chunk.byteLength === 0) continue;
        if (onWaited) {
          const waiting = performance.now();
          await this.#writer.ready;
          onWaited(performance.now() - waiting);
        }
        if (packer && compress?.(chunk)) {
          await this.#streamed(
            packer,
            streamLevel!(chunk),
            chunk,
            options,
            onWritten,
          );
          continue;
        }
        if (compress?.(chunk)) {
          const started = performance.now();
          const pool = this.#pool ??= new BufferPool(undefined, 2);
          const target = pool.lend(pool.take());
          const packed = compressPayload(chunk, target);
          onCompressed?.(
            chunk.byteLength,
            packed?.byteLength ?? chunk.byteLength,
            performance.now() - started,
          );
          // The buffer is reused once the socket has taken the frame.
          if (packed) {
            await this.#frame(
              Type.Compressed,
              packed,
              onWritten,
              chunk,
              () => pool.give(target),
            );
            continue;
          }
          pool.give(target);
        }
        await this.#frame(Type.Data, chunk, onWritten);
      }
      await this.#lastWrite;
    } catch (error) {
      const code: ErrorCode = error instanceof FtsError ? error.code : "io";
      const reason = error instanceof Error ? error.message : String(error);
      await this.#frame(Type.End, encodeTrailer({ error: { code, reason } }))
        .catch(() => {});
      throw error;
    } finally {
      packer?.close();
    }
    await this.#frame(Type.End, encodeTrailer(await trailer()));
    await this.#writer.ready;
  }

  /** Sends `chunk` as the next piece of the body's zstd stream. */
  async #streamed(
    packer: StreamPacker,
    level: number,
    chunk: Uint8Array,
    options: SendBodyOptions,
    onWritten?: (chunk: Uint8Array) => void,
  ): Promise<void> {
    const started = performance.now();
    const pool = this.#streamPool ??= new BufferPool(
      packedBound(DATA_CHUNK_SIZE),
      3,
    );
    const target = pool.lend(pool.take());
    const packed = packer.pack(chunk, level, target);
    options.onCompressed?.(
      chunk.byteLength,
      packed.byteLength,
      performance.now() - started,
    );
    const release = () => pool.give(target);
    await this.#frame(Type.CompressedStream, packed, onWritten, chunk, release);
  }

  /**
   * Writes frames already encoded (by a `FrameBatch`) in one write, so many
   * small messages and bodies cost one system call, and waits until the
   * stream can take more.
   */
  async sendEncoded(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength === 0) return;
    await this.#writer.ready;
    const written = this.#writer.write(bytes);
    written.catch(() => {});
    this.#lastWrite = written;
    await this.#writer.ready;
  }

  async #frame(
    type: FrameType,
    payload: Uint8Array,
    onWritten?: (chunk: Uint8Array) => void,
    original: Uint8Array = payload,
    release?: () => void,
  ): Promise<void> {
    await this.#writer.ready;
    // Written without awaiting in between, so no other frame can interleave.
    let written: Promise<void> = Promise.resolve();
    for (const bytes of encodeFrame({ type, payload })) {
      written = this.#writer.write(bytes);
      written.catch(() => {});
    }
    if (onWritten) written.then(() => onWritten(original), () => {});
    if (release) written.then(release, () => {});
    this.#lastWrite = written;
  }

  /**
   * Waits until everything written so far has been taken by the stream
   * under it (for a socket: by the kernel), so bytes can then go to the
   * same socket by another road without interleaving.
   */
  async drain(): Promise<void> {
    await this.#writer.ready;
    await this.#lastWrite.catch(() => {});
  }

  /** Closes the stream after what was written has been flushed. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** Aborts the stream at once. */
  async abort(reason?: unknown): Promise<void> {
    await this.#writer.abort(reason).catch(() => {});
  }
}
