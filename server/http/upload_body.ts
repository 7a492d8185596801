/**
 * Copies a request body into a staged upload (`UploadLifecycle`): socket reads are
 * gathered into 1 MiB writes (small writes are what makes Deno slow), each
 * write awaited before the next read (a slow disk slows the upload), and the
 * byte count checked against `Content-Length`. The caller commits or aborts.
 *
 * @module
 */

import { createHash } from "node:crypto";
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
  const hasher = hash ? createHash("sha256") : null;
  // One buffer, reused: a store is done with a chunk once write resolves,
  // and a fresh 1 MiB per chunk made uploads 3-6x slower (GC of buffers).
  const buffer = new Uint8Array(BODY_CHUNK);
  let filled = 0;
  let bytes = 0;
  const flush = async () => {
    if (filled === 0) return;
    const chunk = buffer.subarray(0, filled);
    hasher?.update(chunk);
    await upload.write(chunk);
    filled = 0;
  };
  if (body) {
    const reader = body.getReader();
    // A client that stops sending (slowloris) is cut off; the cancelled
    // stream then ends, so the flag tells a stall from a finished body.
    let stalled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (true) {
        timer = setTimeout(() => {
          stalled = true;
          reader.cancel().catch(() => {});
        }, idleMs);
        const { done, value } = await reader.read();
        clearTimeout(timer);
        if (stalled) {
          throw new HttpError(408, "the client stopped sending the body");
        }
        if (done) break;
        bytes += value.byteLength;
        if (expected !== null && bytes > expected) {
          throw new HttpError(400, "the body is longer than Content-Length");
        }
        if (bytes > max) {
          throw new HttpError(400, "the body goes past the upload's length");
        }
        let at = 0;
        while (at < value.byteLength) {
          const n = Math.min(value.byteLength - at, BODY_CHUNK - filled);
          buffer.set(value.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === BODY_CHUNK) await flush();
        }
      }
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
  }
  await flush();
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
