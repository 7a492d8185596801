/**
 * WebDAV dead properties (PROPPATCH'ed, returned by PROPFIND), kept in
 * memory per remote path: the storage core has no place for per-file
 * metadata yet, so they last as long as the server runs. They follow MOVE
 * and COPY and go with DELETE.
 *
 * @module
 */

import { isWithin } from "../paths.ts";

/** Most bytes of dead properties kept per resource. */
export const MAX_PROPERTY_BYTES = 64 * 1024;

/** Dead properties by path, each `{ns}local` → serialised element. */
export class DeadProperties {
  #byPath = new Map<string, Map<string, string>>();

  /** The properties of `path` (empty when none). */
  get(path: string): Map<string, string> {
    return this.#byPath.get(path) ?? new Map();
  }

  /** Replaces the properties of `path`. */
  set(path: string, props: Map<string, string>): void {
    if (props.size === 0) this.#byPath.delete(path);
    else this.#byPath.set(path, props);
  }

  /** Forgets the properties of `path` and everything under it. */
  removeTree(path: string): void {
    for (const key of [...this.#byPath.keys()]) {
      if (isWithin(key, path)) this.#byPath.delete(key);
    }
  }

  /** Copies the properties of the tree `from` to `to`. */
  copyTree(from: string, to: string, deep: boolean): void {
    for (const [key, props] of [...this.#byPath]) {
      if (key === from || (deep && isWithin(key, from) && from !== "")) {
        this.#byPath.set(to + key.slice(from.length), new Map(props));
      }
    }
  }

  /** Moves the properties of the tree `from` to `to`. */
  moveTree(from: string, to: string): void {
    const moved = [...this.#byPath].filter(([key]) => isWithin(key, from));
    for (const [key] of moved) this.#byPath.delete(key);
    for (const [key, props] of moved) {
      this.#byPath.set(to + key.slice(from.length), props);
    }
  }
}
