/**
 * Human-readable sizes, rates and durations.
 *
 * @module
 */

import { format } from "@std/fmt/bytes";

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
  const text: string = format(bytes, {
    binary: true,
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  });
  return text;
}

/** Formats seconds as `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}
