/**
 * WebDAV write locks (class 2): exclusive and shared, depth 0 or infinity,
 * with timeouts. Expired locks are dropped whenever the table is read, so a
 * timeout is enforced at the next request that meets the lock.
 *
 * @module
 */

import { isWithin } from "./paths.ts";

/** One lock. */
export interface Lock {
  /** `opaquelocktoken:<uuid>`. */
  token: string;
  /** The locked resource (its root, for a depth-infinity lock). */
  path: string;
  depth: "0" | "infinity";
  scope: "exclusive" | "shared";
  /** The client's `DAV:owner` element, serialised, or "". */
  owner: string;
  /** The logged-in user who took it (none on an open server). */
  user?: string;
  /** Seconds the lock lives after its last refresh. */
  timeoutSeconds: number;
  /** When it expires (ms since the epoch). */
  expires: number;
}

/** Longest lock timeout granted; clients asking for Infinite get this. */
export const MAX_LOCK_SECONDS = 3600;
/** Timeout granted when the client names none. */
export const DEFAULT_LOCK_SECONDS = 600;

/** The timeout a `Timeout:` header asks for, capped. */
export function lockTimeout(header: string | null): number {
  for (const part of (header ?? "").split(",")) {
    const match = /^\s*Second-(\d+)\s*$/i.exec(part);
    if (match) return Math.max(1, Math.min(Number(match[1]), MAX_LOCK_SECONDS));
    if (/^\s*Infinite\s*$/i.test(part)) return MAX_LOCK_SECONDS;
  }
  return DEFAULT_LOCK_SECONDS;
}

/** The server's locks. */
export class LockTable {
  #locks = new Map<string, Lock>();
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #live(): Lock[] {
    const now = this.#now();
    for (const [token, lock] of this.#locks) {
      if (lock.expires <= now) this.#locks.delete(token);
    }
    return [...this.#locks.values()];
  }

  /** The live lock with `token`, if any. */
  get(token: string): Lock | undefined {
    this.#live();
    return this.#locks.get(token);
  }

  /** Locks that apply to `path`: on it, or depth-infinity on an ancestor. */
  covering(path: string): Lock[] {
    return this.#live().filter((lock) =>
      lock.path === path ||
      (lock.depth === "infinity" && isWithin(path, lock.path))
    );
  }

  /** Locks on `path` or anywhere below it. */
  inside(path: string): Lock[] {
    return this.#live().filter((lock) => isWithin(lock.path, path));
  }

  /** Whether `lock` covers `path`. */
  static covers(lock: Lock, path: string): boolean {
    return lock.path === path ||
      (lock.depth === "infinity" && isWithin(path, lock.path));
  }

  /**
   * Takes a new lock, or returns null when an existing lock conflicts
   * (any exclusive lock in the way, or a shared lock against an exclusive).
   */
  acquire(
    request: Omit<Lock, "token" | "expires">,
  ): Lock | null {
    const inTheWay = [
      ...this.covering(request.path),
      ...(request.depth === "infinity" ? this.inside(request.path) : []),
    ];
    const conflict = inTheWay.some((lock) =>
      lock.scope === "exclusive" || request.scope === "exclusive"
    );
    if (conflict) return null;
    const lock: Lock = {
      ...request,
      token: `opaquelocktoken:${crypto.randomUUID()}`,
      expires: this.#now() + request.timeoutSeconds * 1000,
    };
    this.#locks.set(lock.token, lock);
    return lock;
  }

  /** Extends `lock` by `seconds` from now. */
  refresh(lock: Lock, seconds: number): void {
    lock.timeoutSeconds = seconds;
    lock.expires = this.#now() + seconds * 1000;
  }

  /** Drops the lock with `token`. */
  release(token: string): void {
    this.#locks.delete(token);
  }

  /** Drops every lock on `path` or below it (the resources are gone). */
  removeTree(path: string): void {
    for (const lock of this.inside(path)) this.#locks.delete(lock.token);
  }

  /**
   * Drops every lock taken by one of `users` (their access was revoked);
   * returns how many went.
   */
  releaseUsers(users: ReadonlySet<string>): number {
    let dropped = 0;
    for (const [token, lock] of this.#locks) {
      if (lock.user !== undefined && users.has(lock.user)) {
        this.#locks.delete(token);
        dropped++;
      }
    }
    return dropped;
  }

  /** Seconds left of `lock`. */
  secondsLeft(lock: Lock): number {
    return Math.max(0, Math.ceil((lock.expires - this.#now()) / 1000));
  }
}
