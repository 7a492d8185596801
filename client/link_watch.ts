/**
 * Tells a dead link from a slow server: while the client waits on the
 * server (a read for the next frame, or a write the socket has not taken),
 * a link that moves nothing in either direction for the timeout is declared
 * stalled. Any frame that arrives (also the server's keepalive `ping`s and
 * notices) and any write the socket takes counts as progress, so a slow but
 * living server is never cut off, and an idle shell (nothing awaited) never
 * times out.
 *
 * @module
 */

/** Default seconds without progress before a link is declared stalled. */
export const DEFAULT_TIMEOUT_SECONDS = 30;

/** Watches one connection for a stall; see the module doc. */
export class LinkWatch {
  #timeoutMs: number;
  #onStall: () => void;
  #reading = false;
  #writes = 0;
  #lastProgress = performance.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #stalled = false;

  /** Calls `onStall` once when waiting lasts `timeoutMs` with no progress. */
  constructor(timeoutMs: number, onStall: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onStall = onStall;
  }

  /** Whether the link was declared stalled. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /** The timeout, in seconds, for messages. */
  get seconds(): number {
    return Math.round(this.#timeoutMs / 1000);
  }

  /** The client starts waiting for the next frame. */
  readStart(): void {
    if (!this.#waiting()) this.#lastProgress = performance.now();
    this.#reading = true;
    this.#arm();
  }

  /** A frame arrived. */
  frameArrived(): void {
    this.#reading = false;
    this.#lastProgress = performance.now();
  }

  /**
   * Passes writes through to `writable`, counting each one in flight as
   * waiting and each one taken as progress.
   */
  watchWritable(writable: WritableStream<Uint8Array>): WritableStream<
    Uint8Array
  > {
    const inner = writable.getWriter();
    return new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (!this.#waiting()) this.#lastProgress = performance.now();
        this.#writes++;
        this.#arm();
        try {
          await inner.write(chunk);
        } finally {
          this.#writes--;
          this.#lastProgress = performance.now();
        }
      },
      close: () => inner.close(),
      abort: (reason) => inner.abort(reason),
    });
  }

  /** Stops watching (the connection is closed). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #waiting(): boolean {
    return this.#reading || this.#writes > 0;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#stalled) return;
    const every = Math.max(Math.min(this.#timeoutMs / 4, 1000), 10);
    this.#timer = setInterval(() => {
      if (!this.#waiting()) {
        // Idle: nothing is awaited, so nothing can stall.
        this.stop();
        return;
      }
      if (performance.now() - this.#lastProgress >= this.#timeoutMs) {
        this.#stalled = true;
        this.stop();
        this.#onStall();
      }
    }, every);
  }
}
