/**
 * Small statistics helpers for the benchmark: median, min, max, per-pair
 * ratios and human-readable formatting of durations, sizes and rates.
 *
 * Every function is pure and works on plain arrays of numbers so it can be
 * unit-tested without running anything.
 *
 * @module
 */

/** Summary of a list of samples. All fields are `NaN` for an empty list. */
export interface Summary {
  /** Number of samples. */
  n: number;
  /** Median (mean of the two middle values for an even count). */
  median: number;
  /** Smallest sample. */
  min: number;
  /** Largest sample. */
  max: number;
}

/**
 * Median of `values`; `NaN` when there are none. The input is not modified.
 *
 * @example median([3, 1, 2]) === 2; median([4, 1, 3, 2]) === 2.5
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Smallest of `values`; `NaN` when there are none. */
export function min(values: readonly number[]): number {
  return values.length === 0 ? NaN : Math.min(...values);
}

/** Largest of `values`; `NaN` when there are none. */
export function max(values: readonly number[]): number {
  return values.length === 0 ? NaN : Math.max(...values);
}

/** Count, median, min and max of `values` in one call. */
export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    median: median(values),
    min: min(values),
    max: max(values),
  };
}

/**
 * Ratio of each pair of runs, `a[i] / b[i]`, for the runs both lists have.
 * With alternating runs (A B A B ...) pair `i` ran close together in time, so
 * its ratio is less affected by drift on a shared machine than the ratio of
 * two medians.
 */
export function pairRatios(
  a: readonly number[],
  b: readonly number[],
): number[] {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(a[i] / b[i]);
  return out;
}

/** Formats seconds with a precision suited to the magnitude, e.g. `1.23 s`, `45.6 ms`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "-";
  if (seconds >= 100) return `${seconds.toFixed(0)} s`;
  if (seconds >= 10) return `${seconds.toFixed(1)} s`;
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  return `${(seconds * 1000).toFixed(seconds >= 0.1 ? 0 : 1)} ms`;
}

/** Formats a byte count with binary units, e.g. `1.0 GiB`, `4 KiB`, `87.3 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || Number.isInteger(value) ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** Formats a throughput of `bytes` moved in `seconds` as MiB/s. */
export function formatRate(bytes: number, seconds: number): string {
  if (!(seconds > 0) || !Number.isFinite(bytes)) return "-";
  return `${(bytes / seconds / (1024 * 1024)).toFixed(0)} MiB/s`;
}

/** Formats a ratio as `0.87x`. */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "-";
}
