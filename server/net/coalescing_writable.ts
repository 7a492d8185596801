/**
 * Gathers small writes into one, for the server's TLS connections.
 *
 * A TLS connection from `Deno.listenTls` cannot turn off Nagle's algorithm
 * (`Deno.TlsConn` has no `setNoDelay`). A reply written as several small
 * writes (a `data` message, a short DATA frame and an END frame, say) then
 * waits for the client's delayed ACK after the first one: about 40 ms per
 * reply instead of well under one. Gathering the small writes of a reply
 * into one write avoids that: the session pushes them out when it next
 * waits for the client (`flush`), and a timer does when it does not. Large
 * writes (file data) pass straight through, after whatever was gathered
 * before them.
 *
 * @module
 */

/** Options for {@linkcode coalescingWritable}. */
export interface CoalescingOptions {
  /** Writes up to this size are gathered. Default 64 KiB. */
  limit?: number;
  /** How long gathered bytes may wait for more, in milliseconds. Default 5. */
  delayMs?: number;
}

/** A gathering stream and a way to push out what it holds. */
export interface Coalescing {
  /** Write here. */
  writable: WritableStream<Uint8Array>;
  /**
   * Writes what has been gathered now; resolves once `inner` has taken it
   * (call before closing the connection under it).
   */
  flush(): Promise<void>;
}

/**
 * Returns a stream that writes to `inner`, gathering small chunks into one
 * write. A gathered chunk counts as written once it is copied, so its
 * buffer may be reused at once; the copy is written within `delayMs`, when
 * the gathered bytes reach `limit`, before a large chunk, on `flush` or on
 * close.
 */
export function coalescingWritable(
  inner: WritableStream<Uint8Array>,
  options: CoalescingOptions = {},
): Coalescing {
  const limit = options.limit ?? 64 * 1024;
  const delayMs = options.delayMs ?? 5;
  const writer = inner.getWriter();
  let buffer = new Uint8Array(limit);
  let used = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failure: { error: unknown } | undefined;
  let last: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (used > 0) {
      const bytes = buffer.subarray(0, used);
      buffer = new Uint8Array(limit);
      used = 0;
      last = writer.write(bytes).catch((error) => {
        failure ??= { error };
      });
    }
    return last;
  };
  // A failed gathered write fails the next write.
  const rethrow = () => {
    if (failure) throw failure.error;
  };
  const gather = (chunk: Uint8Array) => {
    buffer.set(chunk, used);
    used += chunk.byteLength;
    timer ??= setTimeout(flush, delayMs);
  };

  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      rethrow();
      if (chunk.byteLength <= limit - used) return gather(chunk);
      await flush();
      rethrow();
      if (chunk.byteLength <= limit) return gather(chunk);
      await writer.write(chunk);
    },
    async close() {
      await flush();
      await writer.close();
    },
    async abort(reason) {
      clearTimeout(timer);
      await writer.abort(reason);
    },
  });
  return { writable, flush };
}
