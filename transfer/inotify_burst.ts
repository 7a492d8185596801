/**
 * When inotify may have dropped events. The kernel queues at most
 * `fs.inotify.max_queued_events` (16,384 by default) events per watcher and
 * drops the rest while its reader is slow (a burst, a loaded machine);
 * Deno's watcher is meant to say so with a `rescan` flag, but does not
 * always. So a watcher counts what it gets: a burst of half the queue
 * between two looks is taken as one that may have overflowed, and what
 * the watch covers is looked at whole (both the live mirror and the
 * server's watch do).
 *
 * @module
 */

/** The kernel's inotify queue length (16,384 where it cannot be read). */
export function inotifyQueueLimit(): number {
  try {
    const text = Deno.readTextFileSync(
      "/proc/sys/fs/inotify/max_queued_events",
    );
    const limit = Number(text.trim());
    return Number.isSafeInteger(limit) && limit > 0 ? limit : 16_384;
  } catch {
    return 16_384;
  }
}

/** Counts a watcher's events between two looks. */
export class BurstCounter {
  /** Events between two looks from which some may have been dropped. */
  readonly limit: number;
  #count = 0;

  /** `limit` defaults to half the kernel's queue. */
  constructor(limit: number = Math.floor(inotifyQueueLimit() / 2)) {
    this.limit = limit;
  }

  /** Counts one event. */
  add(): void {
    this.#count++;
  }

  /** Whether the events since the last look may have overflowed; starts over. */
  take(): boolean {
    const heavy = this.#count >= this.limit;
    this.#count = 0;
    return heavy;
  }
}
