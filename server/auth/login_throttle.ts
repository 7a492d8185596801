/**
 * Slows down password guessing.
 *
 * - Failures count per address and user: after a failed login as a user from
 *   an address, that user's next verdict for that address waits, twice as
 *   long after each further failure, up to a cap. A success from the address
 *   forgets only its own user's failures there, so logging in as one user
 *   does not reset the guessing at another.
 * - The address as a whole gets a larger allowance (`addressAllowance`
 *   failures across all its users) before its verdicts slow down too, which
 *   bounds guessing that spreads over many names. Successes do not reset it.
 * - Verdicts for one address come one at a time, in arrival order, however
 *   many connections the address opens; at most `maxPending` may wait, and
 *   further logins are refused at once.
 *
 * All of it is keyed by the client's address (IPv6 per /64, since one host
 * usually has a whole /64), so guessing from one address never slows down a
 * user logging in from another: no one can lock a user out remotely. Quiet
 * for `forgetAfterMs`, an address is forgotten.
 *
 * @module
 */

import { BusyError } from "../../protocol/mod.ts";

/** Options for {@linkcode LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Wait after the first failure, in milliseconds. Default: 500. */
  baseDelayMs?: number;
  /** The longest wait, in milliseconds. Default: 30,000. */
  maxDelayMs?: number;
  /** Failures older than this are forgotten, in milliseconds. Default: 15 minutes. */
  forgetAfterMs?: number;
  /** The most (address, user) pairs remembered; the oldest are dropped first. Default: 10,000. */
  maxEntries?: number;
  /** Failures across all users an address may have before all its logins slow down. Default: 10. */
  addressAllowance?: number;
  /** Logins from one address that may wait for their verdict at once. Default: 8. */
  maxPending?: number;
  /** The clock, in milliseconds (for tests). Default: `Date.now`. */
  now?: () => number;
}

interface Entry {
  failures: number;
  lastFailure: number;
}

interface Queue {
  pending: number;
  /** Settles when the last login queued so far has had its verdict. */
  tail: Promise<void>;
}

/** Per-address and per-user exponential delay after failed logins. */
export class LoginThrottle {
  #entries = new Map<string, Entry>();
  #queues = new Map<string, Queue>();
  #baseDelayMs: number;
  #maxDelayMs: number;
  #forgetAfterMs: number;
  #maxEntries: number;
  #addressAllowance: number;
  #maxPending: number;
  #now: () => number;

  /** Creates a throttle that remembers nothing yet. */
  constructor(options: LoginThrottleOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#addressAllowance = options.addressAllowance ?? 10;
    this.#maxPending = options.maxPending ?? 8;
    this.#now = options.now ?? Date.now;
  }

  /** The number of (address, user) pairs and addresses remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns how many milliseconds a login as `user` from `address` has to
   * wait now: 0 without recent failures, else what is left of
   * `min(base * 2^(failures - 1), max)` since the last failure, for the
   * user's failures and for the address's failures beyond its allowance.
   */
  delay(address: string, user: string): number {
    const key = throttleKey(address);
    return Math.max(
      this.#delayOf(this.#current(pairKey(key, user)), 0),
      this.#delayOf(this.#current(key), this.#addressAllowance),
    );
  }

  /**
   * Waits until it is this login's turn among the logins from `address`,
   * then for {@linkcode LoginThrottle.delay}. Returns the function to call
   * once the verdict is recorded (it lets the next login go). Rejects with
   * the signal's reason if `signal` aborts (the connection closed).
   *
   * @throws {BusyError} when `maxPending` logins from `address` wait already.
   */
  async turn(
    address: string,
    user: string,
    signal?: AbortSignal,
  ): Promise<() => void> {
    const key = throttleKey(address);
    const queue = this.#queues.get(key) ??
      { pending: 0, tail: Promise.resolve() };
    if (queue.pending >= this.#maxPending) {
      throw new BusyError(
        `${queue.pending} logins from this address are waiting already`,
        { action: "log in" },
      );
    }
    this.#queues.set(key, queue);
    queue.pending++;
    const previous = queue.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => release = resolve);
    queue.tail = previous.then(() => mine);
    let done = false;
    const next = () => {
      if (done) return;
      done = true;
      release();
      if (--queue.pending === 0) this.#queues.delete(key);
    };
    try {
      await abortable(previous, signal);
      await sleep(this.delay(address, user), signal);
    } catch (error) {
      next();
      throw error;
    }
    return next;
  }

  /** Records a failed login as `user` from `address`. */
  failed(address: string, user: string): void {
    const key = throttleKey(address);
    this.#count(pairKey(key, user));
    this.#count(key);
    this.#prune();
  }

  /** Records a successful login as `user` from `address`, forgetting that user's failures there. */
  succeeded(address: string, user: string): void {
    this.#entries.delete(pairKey(throttleKey(address), user));
  }

  #delayOf(entry: Entry | undefined, allowance: number): number {
    if (entry === undefined || entry.failures <= allowance) return 0;
    const wait = Math.min(
      this.#baseDelayMs * 2 ** (entry.failures - allowance - 1),
      this.#maxDelayMs,
    );
    return Math.max(0, entry.lastFailure + wait - this.#now());
  }

  #count(key: string): void {
    const failures = (this.#current(key)?.failures ?? 0) + 1;
    this.#entries.delete(key); // re-insert: the map stays oldest first
    this.#entries.set(key, { failures, lastFailure: this.#now() });
  }

  #current(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.lastFailure > this.#forgetAfterMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #prune(): void {
    // The map is ordered by last failure, oldest first.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(key);
    }
  }
}

/** The key of one user at one address (a NUL cannot be in either). */
function pairKey(addressKey: string, user: string): string {
  return `${addressKey}\u0000${user}`;
}

function abortable(
  promise: Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms === 0) return Promise.resolve();
  let timer: ReturnType<typeof setTimeout>;
  return abortable(
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
    signal,
  ).finally(() => clearTimeout(timer));
}

/**
 * Returns the key an address is throttled under: an IPv4 address as is (also
 * when IPv4-mapped), an IPv6 address as its /64 prefix, anything else
 * lower-cased.
 */
export function throttleKey(address: string): string {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1];
  if (!lower.includes(":")) return lower;
  const groups = expandIpv6(lower.replace(/%.*$/, ""));
  return groups === undefined ? lower : `${groups.slice(0, 4).join(":")}::/64`;
}

function expandIpv6(address: string): string[] | undefined {
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== ""
    ? halves[1].split(":")
    : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...Array(missing).fill("0"), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) {
    return undefined;
  }
  return groups.map((group) => group.replace(/^0+(?=.)/, ""));
}
