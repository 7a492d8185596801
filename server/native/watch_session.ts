/**
 * `watch`: streams the changes under a folder to the client until it sends
 * `bye` or leaves. The reply `watching` says how changes are seen; then
 * each change goes as a `change` message the moment the watch reports it,
 * with a `ping` every few seconds so that neither end takes the quiet link
 * for a dead one.
 *
 * Memory: the changes not yet written to the client wait in a queue of at
 * most {@linkcode MAX_QUEUED}; past it the oldest are dropped and the client
 * is told once in a notice, and by a change of the watched folder itself
 * (path `""`, modified), as when inotify's queue overflows (a client that
 * reads nothing cannot grow the server).
 *
 * @module
 */

import {
  ConnectionError,
  type WatchRequest,
  WrongTypeError,
} from "../../protocol/mod.ts";
import { normalizePath } from "../storage/remote_path.ts";
import type { Change } from "../storage/watch/change.ts";
import { startTreeWatch } from "../storage/watch/tree_watch.ts";
import { type Outcome, PING_MS, type RequestIo } from "./request_io.ts";

/** Changes queued for a slow client at most. */
const MAX_QUEUED = 10_000;

/** A change to send, or a notice to the watching client. */
type Queued = Change | { note: string };

/**
 * The changes waiting for the client, bounded: past {@linkcode MAX_QUEUED}
 * the oldest go, and the client is told once (a notice, and the watched
 * folder itself as modified, so a live mirror catches up whole).
 */
class ChangeQueue {
  #items: Queued[] = [];
  #wake: (() => void) | null = null;
  #dropped = 0;

  /** Queues `item` and wakes a waiting {@linkcode next}. */
  push(item: Queued): void {
    if (this.#items.length >= MAX_QUEUED) {
      this.#items.shift();
      if (this.#dropped++ === 0) {
        this.#items.push({
          note:
            "the watch fell behind: changes were dropped; rescan to catch up",
        });
        this.#items.push({ event: "modified", path: "", type: "dir" });
      }
    }
    this.#items.push(item);
    this.wake();
  }

  /** Ends a wait of {@linkcode next} early (the client spoke or left). */
  wake(): void {
    this.#wake?.();
  }

  /** The next item, or undefined after `ms` (or a wake) with none. */
  async next(ms: number): Promise<Queued | undefined> {
    const item = this.#items.shift();
    if (item !== undefined) return item;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#wake = resolve;
    const timer = setTimeout(resolve, ms);
    await promise;
    clearTimeout(timer);
    this.#wake = null;
    return this.#items.shift();
  }
}

/** Serves `watch` until the client ends it. */
export async function serveWatch(
  io: RequestIo,
  request: WatchRequest,
): Promise<Outcome> {
  const { store, watch: settings } = io.ctx;
  const base = normalizePath(request.path);
  const root = await store.stat(base, { follow: false });
  if (root.type !== "dir") {
    throw new WrongTypeError(`"${request.path}" is not a folder`);
  }
  const queue = new ChangeQueue();
  const watch = await startTreeWatch(
    store,
    base,
    settings ?? {},
    (change) => queue.push(change),
    (note) => queue.push({ note }),
  );
  let sent = 0;
  try {
    await io.writer.send({
      op: "watching",
      path: request.path,
      how: watch.how,
      note: watch.note,
    });
    // Any message from the client (its `bye`), or its leaving, ends it.
    let ended = false;
    const end = io.reader.read().then(
      async (message) => {
        ended = true;
        if (message?.op === "bye") {
          await io.writer.send({ op: "ok" }).catch(() => {});
        }
        queue.wake();
        return message;
      },
      (error) => {
        ended = true;
        queue.wake();
        throw error;
      },
    );
    end.catch(() => {});
    const stop = () => {
      ended = true;
      queue.wake();
    };
    io.stopping?.addEventListener("abort", stop);
    const pingMs = Math.min(PING_MS, io.ctx.idleTimeoutMs / 3);
    while (!ended) {
      const item = await queue.next(pingMs);
      if (ended) break;
      if (item === undefined) await io.writer.send({ op: "ping" });
      else if ("note" in item) {
        await io.writer.send({ op: "notice", message: item.note });
      } else {
        await io.writer.send({ op: "change", ...item });
        sent++;
      }
    }
    io.stopping?.removeEventListener("abort", stop);
    if (io.stopping?.aborted) {
      return {
        path: base,
        result: `ended by the shutdown, ${sent} changes sent`,
      };
    }
    const last = await end;
    if (last === null) {
      throw new ConnectionError("the client left during a watch");
    }
  } finally {
    watch.close();
  }
  return { path: base, result: `ok, ${sent} changes sent` };
}
