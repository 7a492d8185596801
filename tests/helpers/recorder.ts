/**
 * A client `Reporter` that keeps what it is told, for tests that assert on
 * the lines a transfer prints.
 *
 * @module
 */

import type { Reporter } from "../../client/reporter.ts";

/**
 * A reporter keeping each info line in `lines`, with no progress bar; with
 * `errors`, each error line too, as `error: TEXT`.
 */
export function recorder(
  options: { errors?: boolean } = {},
): Reporter & { lines: string[] } {
  const lines: string[] = [];
  const reporter: Reporter & { lines: string[] } = {
    lines,
    info: (text) => void lines.push(text),
    progress: () => null,
  };
  if (options.errors) {
    reporter.error = (text) => void lines.push(`error: ${text}`);
  }
  return reporter;
}
