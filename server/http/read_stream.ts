/**
 * A store file as a response body: pulled 1 MiB at a time, so a slow client
 * slows the disk reads (backpressure) and memory stays at a chunk or two.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ReadHandle } from "../storage/store.ts";

/** Chunk size of body reads; large reads are what makes Deno fast. */
export const BODY_CHUNK = 1024 * 1024;

/**
 * Streams `length` bytes of `handle` from its current position, closing the
 * handle at the end, when the client goes away, or when the client has read
 * nothing for `idleMs` (a reader that stalls must not hold a file open).
 */
export function readStream(
  handle: ReadHandle,
  length: number,
  idleMs: number,
): ReadableStream<Uint8Array> {
  let left = length;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const close = () => {
    clearTimeout(timer);
    if (!closed) {
      closed = true;
      handle.close();
    }
  };
  // Two chunks ahead (highWaterMark 2): the next disk read overlaps the send
  // (1 GiB GET went from ~1.25x to ~1.0x nginx), and at most ~3 MiB wait.
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      clearTimeout(timer);
      timer = setTimeout(() => {
        close();
        controller.error(new Error("the client stopped reading"));
      }, idleMs);
      try {
        if (left <= 0) {
          close();
          controller.close();
          return;
        }
        const buffer = new Uint8Array(Math.min(BODY_CHUNK, left));
        const n = await handle.read(buffer);
        if (n === null) {
          close();
          // The file shrank under us: end short rather than pad.
          controller.error(new Error("the file shrank while being sent"));
          return;
        }
        left -= n;
        controller.enqueue(buffer.subarray(0, n));
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    cancel: close,
  }, { highWaterMark: 2 });
}

/** The hex SHA-256 of the rest of `handle`, which is closed afterwards. */
export async function sha256OfHandle(handle: ReadHandle): Promise<string> {
  try {
    const hash = createHash("sha256");
    const buffer = new Uint8Array(BODY_CHUNK);
    while (true) {
      const n = await handle.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
    }
    return hash.digest("hex");
  } finally {
    handle.close();
  }
}

/**
 * Passes `source` on, but gives up (cancelling `source`) when the client
 * has not asked for the next chunk `idleMs` after it got the last one: a
 * generated body (a zip) must not wait forever on a client that stopped
 * reading, holding its store handles.
 */
export function withStallTimer(
  source: ReadableStream<Uint8Array>,
  idleMs: number,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // High-water mark 0: pull runs only when the client wants a chunk, so
  // the time between an enqueue and the next pull is the client's.
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      clearTimeout(timer);
      try {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        timer = setTimeout(() => {
          const error = new Error("the client stopped reading");
          reader.cancel(error).catch(() => {});
          controller.error(error);
        }, idleMs);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel(reason) {
      clearTimeout(timer);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
