/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * Numbers as people read them on the page: sizes, transfer rates, time
 * left, dates; and a rate meter over the last few seconds, so the rate
 * follows the connection instead of the average since the start.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `1536` → `1.5 KiB`. */
export function formatSize(bytes: number): string {
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${unit === 0 ? n : n.toFixed(1)} ${UNITS[unit]}`;
}

/** Bytes per second as `3.2 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatSize(Math.round(bytesPerSecond))}/s`;
}

/** Seconds left as `12 s`, `3 min`, `1 h 5 min`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "";
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A modification time in the reader's locale. */
export function formatDate(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** The part of a transfer line after the name: `42% · 3.1 MiB/s · 12 s left`. */
export function progressText(
  done: number,
  total: number,
  rate: number,
): string {
  const percent = total === 0 ? 100 : Math.floor(done / total * 100);
  const parts = [`${percent}%`];
  if (rate > 0) {
    parts.push(formatRate(rate));
    if (done < total) {
      parts.push(`${formatDuration((total - done) / rate)} left`);
    }
  }
  return parts.join(" · ");
}

/** Transfer rate over a sliding window of recent samples. */
export class RateMeter {
  #samples: { at: number; bytes: number }[] = [];
  readonly #windowMs: number;

  /** @param windowMs how far back the rate looks. */
  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  /** Records that `bytes` in all have moved by now. */
  record(bytes: number, at = performance.now()): void {
    this.#samples.push({ at, bytes });
    while (
      this.#samples.length > 2 && at - this.#samples[1].at > this.#windowMs
    ) {
      this.#samples.shift();
    }
  }

  /** Bytes per second over the window; 0 until there are two samples. */
  get rate(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at - first.at < 250) return 0;
    return (last.bytes - first.bytes) / ((last.at - first.at) / 1000);
  }
}
