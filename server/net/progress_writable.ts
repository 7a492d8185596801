/**
 * A pass-through byte stream that reports each write the stream under it has
 * taken. The session uses it to tell a download that is moving from one whose
 * client stopped reading (see the stall timeout in `session.ts`): a write
 * completes only once the kernel has room for it.
 *
 * @module
 */

/**
 * Returns a stream that writes every chunk to `inner` and calls `onProgress`
 * after `inner` has taken it. Closing or aborting it closes or aborts `inner`.
 */
export function progressWritable(
  inner: WritableStream<Uint8Array>,
  onProgress: () => void,
): WritableStream<Uint8Array> {
  const writer = inner.getWriter();
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      await writer.write(chunk);
      onProgress();
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason),
  });
}
