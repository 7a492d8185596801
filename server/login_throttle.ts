/**
 * Slows down password guessing: after a failed login from an address, the
 * next attempt from that address must wait, twice as long after each further
 * failure, up to a cap. A success, or a long enough quiet spell, forgets the
 * address. IPv6 addresses count per /64 network, since one host usually has a
 * whole /64.
 *
 * @module
 */

/** Options for {@linkcode LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Wait after the first failure, in milliseconds. Default: 500. */
  baseDelayMs?: number;
  /** The longest wait, in milliseconds. Default: 30,000. */
  maxDelayMs?: number;
  /** Failures older than this are forgotten, in milliseconds. Default: 15 minutes. */
  forgetAfterMs?: number;
  /** The most addresses remembered; the oldest are dropped first. Default: 10,000. */
  maxEntries?: number;
  /** The clock, in milliseconds (for tests). Default: `Date.now`. */
  now?: () => number;
}

interface Entry {
  failures: number;
  lastFailure: number;
}

/** Per-address exponential delay after failed logins. */
export class LoginThrottle {
  #entries = new Map<string, Entry>();
  #baseDelayMs: number;
  #maxDelayMs: number;
  #forgetAfterMs: number;
  #maxEntries: number;
  #now: () => number;

  /** Creates a throttle that remembers nothing yet. */
  constructor(options: LoginThrottleOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The number of addresses (or /64 networks) currently remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns how many milliseconds a login attempt from `address` has to wait
   * now: 0 without recent failures, else what is left of
   * `min(base * 2^(failures - 1), max)` since the last failure.
   */
  delay(address: string): number {
    const entry = this.#current(throttleKey(address));
    if (entry === undefined) return 0;
    const wait = Math.min(
      this.#baseDelayMs * 2 ** (entry.failures - 1),
      this.#maxDelayMs,
    );
    return Math.max(0, entry.lastFailure + wait - this.#now());
  }

  /**
   * Waits for {@linkcode LoginThrottle.delay} milliseconds; rejects early with
   * the signal's reason if `signal` aborts (e.g. the connection closed).
   */
  wait(address: string, signal?: AbortSignal): Promise<void> {
    const ms = this.delay(address);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Records a failed login from `address`. */
  failed(address: string): void {
    const key = throttleKey(address);
    const failures = (this.#current(key)?.failures ?? 0) + 1;
    this.#entries.delete(key); // re-insert: the map stays oldest first
    this.#entries.set(key, { failures, lastFailure: this.#now() });
    this.#prune();
  }

  /** Records a successful login from `address`, forgetting its failures. */
  succeeded(address: string): void {
    this.#entries.delete(throttleKey(address));
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
