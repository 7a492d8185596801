/**
 * Test helper: the lines a long-running subprocess prints, gathered as they
 * come, and a wait for the line a test expects (with a deadline, never a
 * fixed sleep).
 *
 * @module
 */

/** The lines read so far from one stream, and a way to wait for one. */
export class LineStream {
  /** Every line read so far. */
  readonly lines: string[] = [];
  #waiters = new Set<() => void>();
  #ended = false;
  /** Resolves when the stream has ended. */
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let rest = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of stream) {
          const parts = (rest + decoder.decode(chunk, { stream: true }))
            .split("\n");
          rest = parts.pop()!;
          this.lines.push(...parts);
          for (const wake of this.#waiters) wake();
        }
      } catch {
        // The process was killed.
      }
      if (rest !== "") this.lines.push(rest);
      this.#ended = true;
      for (const wake of this.#waiters) wake();
    })();
  }

  /**
   * Resolves with the first line from index `from` on that passes `match`;
   * rejects after `timeoutMs` or when the stream ends without one.
   */
  async waitFor(
    match: (line: string) => boolean,
    timeoutMs = 20_000,
    from = 0,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.lines.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.#ended || Date.now() > deadline) {
        throw new Error(
          `no such line within ${timeoutMs} ms; got:\n${this.lines.join("\n")}`,
        );
      }
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#waiters.add(resolve);
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      await promise;
      clearTimeout(timer);
      this.#waiters.delete(resolve);
    }
  }
}
