/**
 * WebDAV dead properties (PROPPATCH'ed, returned by PROPFIND), kept in
 * memory per remote path: the storage core has no place for per-file
 * metadata yet, so they last as long as the server runs. They follow MOVE
 * and COPY and go with DELETE.
 *
 * Bounded (see {@linkcode PROPERTY_LIMITS}) per resource and in all, so
 * neither the memory they take nor a PROPFIND that returns them grows with
 * what clients send.
 *
 * @module
 */

import { HttpError } from "../http_errors.ts";
import { isWithin } from "../paths.ts";

/** Bounds of the dead properties. */
export const PROPERTY_LIMITS = {
  /** Characters of one resource's properties, names and values. */
  perResource: 64 * 1024,
  /** Properties of one resource. */
  countPerResource: 256,
  /** Characters of all resources' properties together. */
  total: 8 * 1024 * 1024,
} as const;

/** Dead properties by path, each `{ns}local` → serialised element. */
export class DeadProperties {
  #byPath = new Map<string, Map<string, string>>();
  #total = 0;

  /** The properties of `path` (empty when none). */
  get(path: string): Map<string, string> {
    return this.#byPath.get(path) ?? new Map();
  }

  /**
   * Replaces the properties of `path`.
   *
   * @throws {HttpError} 507 past a limit of {@linkcode PROPERTY_LIMITS};
   * nothing is changed then.
   */
  set(path: string, props: Map<string, string>): void {
    const size = sizeOf(props);
    if (props.size > PROPERTY_LIMITS.countPerResource) {
      throw new HttpError(
        507,
        `a resource may have at most ${PROPERTY_LIMITS.countPerResource} dead properties`,
      );
    }
    if (size > PROPERTY_LIMITS.perResource) {
      throw new HttpError(507, "too many dead properties on this resource");
    }
    this.#reserve(size - sizeOf(this.get(path)));
    this.#put(path, props);
  }

  /** Forgets the properties of `path` and everything under it. */
  removeTree(path: string): void {
    for (const key of [...this.#byPath.keys()]) {
      if (isWithin(key, path)) this.#put(key, new Map());
    }
  }

  /**
   * Refuses, before a COPY of `from` changes anything, a copy whose
   * properties would not fit.
   *
   * @throws {HttpError} 507 when they would pass the total limit.
   */
  checkCopy(from: string, deep: boolean): void {
    let size = 0;
    for (const [key, props] of this.#byPath) {
      if (key === from || (deep && isWithin(key, from))) size += sizeOf(props);
    }
    this.#reserve(size);
  }

  /**
   * Copies the properties of the tree `from` to `to`, as far as they fit
   * (checked before by {@linkcode checkCopy}).
   */
  copyTree(from: string, to: string, deep: boolean): void {
    for (const [key, props] of [...this.#byPath]) {
      if (key === from || (deep && isWithin(key, from) && from !== "")) {
        const target = to + key.slice(from.length);
        try {
          this.#reserve(sizeOf(props) - sizeOf(this.get(target)));
        } catch {
          continue;
        }
        this.#put(target, new Map(props));
      }
    }
  }

  /** Moves the properties of the tree `from` to `to`. */
  moveTree(from: string, to: string): void {
    const moved = [...this.#byPath].filter(([key]) => isWithin(key, from));
    for (const [key] of moved) this.#put(key, new Map());
    for (const [key, props] of moved) {
      this.#put(to + key.slice(from.length), props);
    }
  }

  /** Refuses `more` characters past the total limit. */
  #reserve(more: number): void {
    if (this.#total + more > PROPERTY_LIMITS.total) {
      throw new HttpError(507, "the server holds too many dead properties");
    }
  }

  /** Stores `props` at `path` (none: forgets it), keeping the total. */
  #put(path: string, props: Map<string, string>): void {
    this.#total += sizeOf(props) - sizeOf(this.get(path));
    if (props.size === 0) this.#byPath.delete(path);
    else this.#byPath.set(path, props);
  }
}

/** Characters of a resource's properties, names and values. */
function sizeOf(props: Map<string, string>): number {
  let size = 0;
  for (const [key, value] of props) size += key.length + value.length;
  return size;
}
