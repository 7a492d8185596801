/**
 * One change under a watched folder, as every watcher reports it, and the
 * {@linkcode ChangeFeed} that carries changes made through this server to
 * the watches that cannot see them otherwise (an S3 bucket).
 *
 * @module
 */

import type { ChangeMessage } from "../../../protocol/messages.ts";

/** What happened to an entry, as a `change` message says it (paths relative to the watched folder). */
export type Change = Omit<ChangeMessage, "op">;

/** A change at a remote path (relative to the served root). */
export type RootChange = Change;

/** Publishes changes made through the store to whoever listens. */
export class ChangeFeed {
  #listeners = new Set<(change: RootChange) => void>();

  /** Calls `listener` with every change from now on; returns the unsubscribe. */
  subscribe(listener: (change: RootChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener about `change` (paths relative to the root). */
  publish(change: RootChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

/**
 * `path` (relative to the root) relative to the watched folder `base`, or
 * null when it lies outside it.
 */
export function underBase(path: string, base: string): string | null {
  if (base === "") return path;
  if (path === base) return "";
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : null;
}
