/**
 * The fallback of `put -r --watch` where inotify cannot watch the local
 * folder (missing, or out of watches): the folder is walked every interval
 * and each path whose type, size or time changed, appeared or went is
 * reported. Memory: one map entry per file and folder.
 *
 * @module
 */

import { walkLocalTree } from "./tree_walk.ts";

/** A running periodic scan of a local folder. */
export class LocalScan {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Scans `root` every `intervalMs`, calling `onChange` with each changed path. */
  constructor(
    root: string,
    intervalMs: number,
    onChange: (path: string) => void,
  ) {
    let last = snapshot(root);
    const tick = () => {
      if (this.#closed) return;
      const next = snapshot(root);
      for (const [path, signature] of next) {
        if (last.get(path) !== signature) onChange(path);
      }
      for (const path of last.keys()) if (!next.has(path)) onChange(path);
      last = next;
      this.#timer = setTimeout(tick, intervalMs);
    };
    this.#timer = setTimeout(tick, intervalMs);
  }

  /** Stops scanning. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}

function snapshot(root: string): Map<string, string> {
  const seen = new Map<string, string>();
  try {
    const tree = walkLocalTree(root);
    for (const item of [...tree.dirs, ...tree.files, ...tree.skipped]) {
      if (item.path === "") continue;
      seen.set(item.path, `${item.type}:${item.size}:${item.mtime}`);
    }
  } catch {
    // The folder is gone for now: everything in it counts as gone.
  }
  return seen;
}
