/**
 * A store file as a response body: pulled 1 MiB at a time, so a slow client
 * slows the disk reads (backpressure) and memory stays at a chunk or two.
 *
 * @module
 */

import type { ReadHandle } from "../store.ts";

/** Chunk size of body reads; large reads are what makes Deno fast. */
export const BODY_CHUNK = 1024 * 1024;

/**
 * Streams `length` bytes of `handle` from its current position, closing the
 * handle at the end or when the client goes away.
 */
export function readStream(
  handle: ReadHandle,
  length: number,
): ReadableStream<Uint8Array> {
  let left = length;
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      handle.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
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
  }, { highWaterMark: 1 });
}
