/**
 * Durations on the command line (`--idle-timeout 30m`), kept apart from
 * `serve_command.ts` so that parsing `serve`'s flags loads none of the
 * server: every `fts connect` parses its command line through the same
 * table (main.ts), and loading the server's modules cost it ~30 ms.
 *
 * @module
 */

/**
 * Parses a duration such as `90`, `90s`, `30m`, `24h` or `7d` into
 * milliseconds.
 *
 * @throws {TypeError} when `text` is not a duration.
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new TypeError(`"${text}" is not a duration (try 90s, 30m, 24h)`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[
    (match[2] ?? "s") as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(match[1]) * unit;
}
