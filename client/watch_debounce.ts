/**
 * Gathers changed paths into batches for a live mirror: a batch is ready
 * once no change has come for {@linkcode DebounceOptions.settleMs} (a file
 * still being written keeps pushing it back, so it goes once it settled;
 * a burst of saves is one batch), or at the latest
 * {@linkcode DebounceOptions.maxWaitMs} after its first change (a file
 * written without pause still goes).
 *
 * @module
 */

/** When a batch is ready. */
export interface DebounceOptions {
  /** Quiet time after the last change. */
  settleMs: number;
  /** Longest wait after the first change of a batch. */
  maxWaitMs: number;
}

/** A set of changed paths that is handed out in settled batches. */
export class Debouncer {
  #options: DebounceOptions;
  #dirty = new Set<string>();
  #first = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ready = false;
  #wake: (() => void) | null = null;

  constructor(options: DebounceOptions) {
    this.#options = options;
  }

  /** How many paths wait. */
  get size(): number {
    return this.#dirty.size;
  }

  /** Notes a changed path (relative to the mirrored folder). */
  add(path: string): void {
    this.#dirty.add(path);
    const now = Date.now();
    if (this.#first === 0) this.#first = now;
    clearTimeout(this.#timer);
    const wait = Math.min(
      this.#options.settleMs,
      Math.max(0, this.#first + this.#options.maxWaitMs - now),
    );
    this.#timer = setTimeout(() => {
      this.#ready = true;
      this.#wake?.();
    }, wait);
  }

  /** Puts back a batch that could not be applied; it is ready at once. */
  putBack(paths: Iterable<string>): void {
    for (const path of paths) this.#dirty.add(path);
    if (this.#dirty.size > 0) {
      this.#ready = true;
      this.#first ||= Date.now();
    }
  }

  /** Wakes a waiting {@linkcode next} (to stop, or to reconnect). */
  interrupt(): void {
    this.#wake?.();
  }

  /**
   * Waits for a settled batch and takes it; resolves with an empty set when
   * interrupted first, or after `timeoutMs` without one.
   */
  async next(timeoutMs = Infinity): Promise<Set<string>> {
    if (!this.#ready) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(resolve, timeoutMs)
        : undefined;
      await promise;
      clearTimeout(timer);
      this.#wake = null;
    }
    if (!this.#ready) return new Set();
    const batch = this.#dirty;
    this.#dirty = new Set();
    this.#ready = false;
    this.#first = 0;
    clearTimeout(this.#timer);
    return batch;
  }

  /** Stops the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#wake?.();
  }
}
