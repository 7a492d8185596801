/**
 * Copies a request body into a staged upload (`UploadLifecycle`): socket reads are
 * gathered into 1 MiB writes (small writes are what makes Deno slow), each
 * write awaited before the next read (a slow disk slows the upload), and the
 * byte count checked against `Content-Length`. The caller commits or aborts.
 *
 * @module
 */

import { createSha256 } from "../../transfer/hash/sha256.ts";
import { IntegrityError } from "../../protocol/errors.ts";
import { BODY_CHUNK } from "./read_stream.ts";
import { HttpError } from "./http_errors.ts";

/** What came in. */
export interface BodyResult {
  bytes: number;
  /** The SHA-256 of the bytes, when asked for. */
  sha256?: Uint8Array;
}

/**
 * Writes all of `body` to `upload`.
 *
 * @throws {HttpError} 400 when the body is shorter or longer than `expected`,
 * or goes past `max` bytes (nothing past `max` is written).
 */
export async function copyBody(
  body: ReadableStream<Uint8Array> | null,
  upload: { write(chunk: Uint8Array): Promise<void> },
  expected: number | null,
  hash: boolean,
  idleMs: number,
  max = Infinity,
): Promise<BodyResult> {
  const hasher = hash ? createSha256() : null;
  let bytes = 0;
  if (body) {
    const reader = new BodyReader(body);
    // A client that stops sending (slowloris) is cut off; the cancelled
    // stream then ends, so the flag tells a stall from a finished body.
    let stalled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (true) {
        timer = setTimeout(() => {
          stalled = true;
          reader.cancel();
        }, idleMs);
        const chunk = await reader.fill();
        clearTimeout(timer);
        if (stalled) {
          throw new HttpError(408, "the client stopped sending the body");
        }
        if (chunk === null) break;
        bytes += chunk.byteLength - reader.counted;
        reader.counted = chunk.byteLength;
        if (expected !== null && bytes > expected) {
          throw new HttpError(400, "the body is longer than Content-Length");
        }
        if (bytes > max) {
          throw new HttpError(400, "the body goes past the upload's length");
        }
        if (reader.full || reader.ended) {
          hasher?.update(chunk);
          await upload.write(chunk);
          reader.emptied();
        }
      }
    } finally {
      clearTimeout(timer);
      reader.release();
    }
  }
  if (expected !== null && bytes !== expected) {
    throw new IntegrityError(
      `the body ended after ${bytes} of ${expected} bytes`,
    );
  }
  return {
    bytes,
    sha256: hasher ? new Uint8Array(hasher.digest()) : undefined,
  };
}

/**
 * Gathers a body into one reused buffer of {@linkcode BODY_CHUNK} bytes.
 * A byte stream (what `Deno.serve` gives) is read with a BYOB reader
 * straight into the buffer's free end: each read takes whatever the socket
 * holds, up to the whole buffer, where the default reader hands over 64
 * KiB chunks to be copied (a 1 GiB PUT: about 500 reads instead of 16,000,
 * one copy fewer). Other streams are copied in.
 */
class BodyReader {
  /** Bytes of the current buffer already counted by the caller. */
  counted = 0;
  /** The stream has ended (the buffer holds its last bytes). */
  ended = false;
  // One buffer, reused: a store is done with a chunk once write resolves,
  // and a fresh 1 MiB per chunk made uploads 3-6x slower (GC of buffers).
  #buffer = new Uint8Array(BODY_CHUNK);
  #filled = 0;
  #byob: ReadableStreamBYOBReader | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  /** The rest of a default reader's chunk that did not fit. */
  #rest: Uint8Array | null = null;

  constructor(body: ReadableStream<Uint8Array>) {
    try {
      this.#byob = body.getReader({ mode: "byob" });
    } catch {
      this.#reader = body.getReader();
    }
  }

  /** The buffer is full: write it, then call {@linkcode emptied}. */
  get full(): boolean {
    return this.#filled === this.#buffer.byteLength;
  }

  /**
   * Reads once more into the buffer; answers the bytes gathered so far, or
   * null when the stream has ended with nothing left in the buffer.
   */
  async fill(): Promise<Uint8Array | null> {
    if (this.ended && this.#filled === 0) return null;
    if (this.#byob) {
      const free = new Uint8Array(
        this.#buffer.buffer,
        this.#filled,
        this.#buffer.byteLength - this.#filled,
      );
      const { done, value } = await this.#byob.read(free);
      // Cancelled (a stall): the buffer went with the read.
      if (value === undefined) {
        this.ended = true;
        return null;
      }
      // The read moved the buffer's memory into `value`: take it back.
      this.#buffer = new Uint8Array(value.buffer);
      if (done) this.ended = true;
      else this.#filled += value.byteLength;
    } else {
      let chunk = this.#rest;
      this.#rest = null;
      if (chunk === null) {
        const next = await this.#reader!.read();
        if (next.done) this.ended = true;
        chunk = next.value ?? null;
      }
      if (chunk !== null) {
        const n = Math.min(
          chunk.byteLength,
          this.#buffer.byteLength - this.#filled,
        );
        this.#buffer.set(chunk.subarray(0, n), this.#filled);
        this.#filled += n;
        if (n < chunk.byteLength) this.#rest = chunk.subarray(n);
      }
    }
    if (this.ended && this.#filled === 0) return null;
    return this.#buffer.subarray(0, this.#filled);
  }

  /** The buffer was written: start it afresh. */
  emptied(): void {
    this.#filled = 0;
    this.counted = 0;
  }

  /** Stops the stream (a stalled client). */
  cancel(): void {
    (this.#byob ?? this.#reader)!.cancel().catch(() => {});
  }

  /** Lets go of the stream. */
  release(): void {
    (this.#byob ?? this.#reader)!.releaseLock();
  }
}
