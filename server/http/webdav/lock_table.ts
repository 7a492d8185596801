/**
 * WebDAV write locks (class 2): exclusive and shared, depth 0 or infinity,
 * with timeouts. Expired locks are dropped whenever the table is read, so a
 * timeout is enforced at the next request that meets the lock.
 *
 * The table is bounded, as every lock is shown in the `lockdiscovery` of
 * each resource it covers: {@linkcode LOCK_LIMITS} caps the locks in all,
 * per holder, on any one resource, and the size of a lock's owner.
 *
 * @module
 */

import { HttpError } from "../http_errors.ts";
import { isWithin } from "../paths.ts";

/** Bounds of the lock table. */
export const LOCK_LIMITS = {
  /** Live locks in all. */
  total: 1000,
  /** Live locks of one holder (a user, or an address on an open server). */
  perHolder: 100,
  /** Locks covering any one resource (shared locks pile up). */
  perResource: 8,
  /** Characters of a lock's serialised `DAV:owner`. */
  ownerChars: 1024,
} as const;

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
  /** Who took it: a user name, or `@address` on an open server. */
  holder: string;
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
   *
   * @throws {HttpError} 413 for an owner over its limit, 507 when a limit
   * of {@linkcode LOCK_LIMITS} is reached.
   */
  acquire(
    request: Omit<Lock, "token" | "expires">,
  ): Lock | null {
    if (request.owner.length > LOCK_LIMITS.ownerChars) {
      throw new HttpError(
        413,
        `the lock owner is over ${LOCK_LIMITS.ownerChars} characters`,
      );
    }
    const covering = this.covering(request.path);
    const inside = request.depth === "infinity"
      ? this.inside(request.path)
      : [];
    const conflict = [...covering, ...inside].some((lock) =>
      lock.scope === "exclusive" || request.scope === "exclusive"
    );
    if (conflict) return null;
    this.#checkRoom(request, covering.length, inside);
    const lock: Lock = {
      ...request,
      token: `opaquelocktoken:${crypto.randomUUID()}`,
      expires: this.#now() + request.timeoutSeconds * 1000,
    };
    this.#locks.set(lock.token, lock);
    return lock;
  }

  /** Refuses a new lock past one of the table's limits. */
  #checkRoom(
    request: Omit<Lock, "token" | "expires">,
    covering: number,
    inside: Lock[],
  ): void {
    const live = this.#live();
    if (live.length >= LOCK_LIMITS.total) {
      throw new HttpError(507, "the server holds too many locks");
    }
    const held = live.filter((lock) => lock.holder === request.holder).length;
    if (held >= LOCK_LIMITS.perHolder) {
      throw new HttpError(
        507,
        `one holder may keep at most ${LOCK_LIMITS.perHolder} locks`,
      );
    }
    // A depth-infinity lock joins what covers every resource below it; the
    // most covered of those is a locked one (or the path itself).
    const most = Math.max(
      covering,
      ...inside.map((lock) => this.covering(lock.path).length),
    );
    if (most >= LOCK_LIMITS.perResource) {
      throw new HttpError(
        507,
        `at most ${LOCK_LIMITS.perResource} locks may cover one resource`,
      );
    }
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
