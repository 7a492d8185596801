/**
 * Starts the right watch for a folder of the store: inotify on the local
 * disk (every writer seen), the periodic scan where inotify is missing, its
 * watches ran out or the server was told to scan (`--watch-poll`), and on
 * other stores (S3) the changes made through this server.
 *
 * @module
 */

import type { Store } from "../store.ts";
import { type Change, type ChangeFeed, underBase } from "./change.ts";
import { DEFAULT_POLL_MS, PollWatch } from "./poll_watch.ts";

/** How a watch sees changes; see {@linkcode startTreeWatch}. */
export interface TreeWatch {
  /** `inotify`, `poll` or `fts`. */
  readonly how: string;
  /** What the watch cannot see, or why it scans. */
  readonly note?: string;
  /** Stops the watch. */
  close(): void;
}

/** How watches are made on this server. */
export interface WatchSettings {
  /** Scan every this many ms instead of inotify (`--watch-poll`). */
  pollMs?: number;
  /** Changes made through this server, for stores that cannot be watched. */
  feed?: ChangeFeed;
}

/**
 * Watches folder `base` (a normalised remote path) of `store`, calling
 * `emit` with each change, paths relative to `base`. `onNote` is told once
 * when a running inotify watch breaks and the scan takes over.
 */
export async function startTreeWatch(
  store: Store,
  base: string,
  settings: WatchSettings,
  emit: (change: Change) => void,
  onNote: (note: string) => void,
): Promise<TreeWatch> {
  const watching = store.changeWatching;
  const feed = settings.feed;
  if (!watching && feed) {
    const unsubscribe = feed.subscribe((change) => {
      const path = underBase(change.path, base);
      const to = change.to === undefined ? null : underBase(change.to, base);
      if (path === null || path === "") {
        if (to !== null && to !== "") {
          emit({ ...change, event: "modified", path: to, to: undefined });
        }
        return;
      }
      if (change.event === "moved" && to === null) {
        emit({ event: "deleted", path });
      } else emit({ ...change, path, to: to ?? undefined });
    });
    return {
      how: "fts",
      note:
        "this store is an object store: only changes made through this fts server are reported, not objects written by other tools",
      close: () => unsubscribe(),
    };
  }
  const pollMs = settings.pollMs ?? DEFAULT_POLL_MS;
  const poll = async (note: string): Promise<TreeWatch> => {
    const watch = await PollWatch.start(store, base, pollMs, emit);
    return { how: "poll", note, close: () => watch.close() };
  };
  if (settings.pollMs !== undefined) {
    return await poll(`scanning every ${seconds(pollMs)} s (--watch-poll)`);
  }
  if (!watching) {
    return await poll(
      `this store cannot be watched; scanning every ${seconds(pollMs)} s`,
    );
  }
  let current: { close(): void } | null = null;
  let closed = false;
  try {
    current = watching.watchChanges(base, emit, async (error) => {
      if (closed) return;
      current?.close();
      const note = `${why(error)}; scanning every ${seconds(pollMs)} s instead`;
      onNote(note);
      current = await PollWatch.start(store, base, pollMs, emit).catch(() =>
        null
      );
      if (closed) current?.close();
    });
  } catch (error) {
    return await poll(
      `${why(error)}; scanning every ${seconds(pollMs)} s instead`,
    );
  }
  return {
    how: "inotify",
    close: () => {
      closed = true;
      current?.close();
    },
  };
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/**
 * Why inotify cannot watch, for the client: never the error's own text,
 * which names host paths.
 */
function why(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return /limit|space|ENOSPC|os error 28/i.test(text)
    ? "inotify ran out of watches (raise fs.inotify.max_user_watches)"
    : "inotify cannot watch this folder";
}
