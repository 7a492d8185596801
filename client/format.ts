/**
 * Human-readable sizes, rates and durations.
 *
 * @module
 */

/**
 * Formats a byte count with binary units.
 *
 * @example
 * ```ts
 * formatBytes(641_728_512); // "612.0 MiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  // As std's `format(bytes, { binary: true, ...one decimal })` printed it
  // in English, without `toLocaleString`: its first call loads the locale
  // data, 10-30 ms of every command that prints a size. Rounded as
  // `toLocaleString` rounds: half up, from the shortest decimal form.
  const exponent = Math.min(
    Math.floor(Math.log(bytes) / Math.log(1024)),
    UNITS.length - 1,
  );
  const [whole, fraction = ""] = String(bytes / 1024 ** exponent).split(".");
  const tenths = Number(whole) * 10 + Number(fraction[0] ?? 0) +
    (Number(fraction[1] ?? 0) >= 5 ? 1 : 0);
  const grouped = String(Math.floor(tenths / 10))
    .replace(/\B(?=(\d{3})+$)/g, ",");
  return `${grouped}.${tenths % 10} ${UNITS[exponent]}`;
}

const UNITS = ["B", "kiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/** Formats seconds as `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}
