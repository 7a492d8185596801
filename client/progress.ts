/**
 * The progress bar `put` and `get` draw on a terminal.
 *
 * @module
 */

import { formatBytes, formatDuration } from "./format.ts";
import { safeText } from "./safe_text.ts";

/** Options for {@linkcode ProgressBar}. */
export interface ProgressOptions {
  /** What is being moved, shown at the left. */
  label: string;
  /** Total bytes, or `null` when unknown. */
  total: number | null;
  /** Bytes already there before this run (a resume). */
  start?: number;
  /** Where the bar is drawn (a terminal's stream). */
  output: WritableStream<Uint8Array>;
  /** Use colour (off when `NO_COLOR` is set). */
  color?: boolean;
  /** Redraw at most this often. Default 200 ms. */
  intervalMs?: number;
  /** Width in columns. Default 80. */
  columns?: number;
  /** The clock, for tests. */
  now?: () => number;
  /** Called once the bar is finished or cleared. */
  onEnd?: () => void;
}

/**
 * Draws bytes done and total, percent, rate and ETA on one line, redrawn a
 * few times a second.
 *
 * @example
 * ```ts
 * const bar = new ProgressBar({ label: "a.iso", total: 1 << 30, output: Deno.stderr.writable });
 * bar.advance(4 << 20);
 * bar.finish();
 * ```
 */
export class ProgressBar {
  #options: ProgressOptions;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #done: number;
  #startedAt: number;
  #drawnAt = -Infinity;
  #now: () => number;
  #encoder = new TextEncoder();
  #label: string;
  #files: { done: number; total: number } | null = null;
  #finished = false;

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#writer = options.output.getWriter();
    this.#done = options.start ?? 0;
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
    this.#label = safeText(options.label);
  }

  /** Shows `label` (the file being moved, in a tree) from the next redraw on. */
  setLabel(label: string): void {
    this.#label = safeText(label);
  }

  /** Counts files as well as bytes (a tree): `total` files to move. */
  countFiles(total: number): void {
    this.#files = { done: 0, total };
  }

  /** Counts `files` more files done. */
  advanceFiles(files = 1): void {
    if (this.#files) this.#files.done += files;
  }

  /** Bytes done so far. */
  get done(): number {
    return this.#done;
  }

  /** Counts `bytes` more and redraws if it is time. */
  advance(bytes: number): void {
    this.#done += bytes;
    const now = this.#now();
    if (now - this.#drawnAt >= (this.#options.intervalMs ?? 200)) {
      this.#drawnAt = now;
      this.#draw(now);
    }
  }

  /** Clears the bar so another line can be printed, and draws it again. */
  interrupt(text: string): void {
    this.#write(`\r\x1b[K${text}\n`);
    this.#draw(this.#now());
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    // The last line says how long it took instead of how long it will.
    this.#finished = true;
    this.#draw(this.#now());
    this.#write("\n");
    this.#end();
  }

  /** Removes the bar, leaving the line empty. */
  clear(): void {
    this.#write("\r\x1b[K");
    this.#end();
  }

  #end(): void {
    this.#writer.releaseLock();
    this.#options.onEnd?.();
  }

  /**
   * The line the bar shows at time `now`, without escape codes. It always
   * fits in `columns - 1` (a full line would wrap on some terminals): the
   * bar goes first, then the rate, the file count and the sizes, and the
   * name is shortened from the left.
   */
  line(now = this.#now()): string {
    const { total } = this.#options;
    const start = this.#options.start ?? 0;
    const seconds = Math.max((now - this.#startedAt) / 1000, 1e-3);
    const rate = (this.#done - start) / seconds;
    const known = total !== null && total !== 0;
    const fraction = known ? Math.min(this.#done / total, 1) : 0;
    const eta = rate > 0 && known ? (total - this.#done) / rate : Infinity;
    const parts: Part[] = [
      {
        text: known ? `${(fraction * 100).toFixed(0).padStart(3)}%` : "",
        tight: true,
      },
      {
        text: this.#files
          ? `${this.#files.done}/${this.#files.total} files`
          : "",
        drop: 3,
      },
      {
        text: total === null
          ? formatBytes(this.#done)
          : `${formatBytes(this.#done)} / ${formatBytes(total)}`,
        drop: 4,
      },
      { text: `${formatBytes(Math.round(rate))}/s`, drop: 2 },
      {
        text: this.#finished
          ? `in ${formatDuration(seconds)}`
          : known
          ? `ETA ${formatDuration(eta)}`
          : "",
        drop: 5,
      },
    ];
    return fitLine(
      this.#label,
      parts,
      known ? fraction : null,
      columnsOf(
        this.#options.columns,
      ),
    );
  }

  #draw(now: number): void {
    const text = this.line(now);
    const colored = this.#options.color ? `\x1b[36m${text}\x1b[0m` : text;
    this.#write(`\r\x1b[K${colored}`);
  }

  #write(text: string): void {
    this.#writer.write(this.#encoder.encode(text)).catch(() => {});
  }
}

/** One piece of the numbers at the right of a progress line. */
interface Part {
  text: string;
  /** The order in which pieces go when the line is too narrow (1 first). */
  drop?: number;
  /** One space after it, not two (`42% 3 MiB`). */
  tight?: boolean;
}

/** The usable width: one column less than the terminal's, at least 20. */
function columnsOf(columns: number | undefined): number {
  return Math.max((columns ?? 80) - 1, 20);
}

/**
 * `NAME [####----] 42% 1/9 files  3 MiB / 9 MiB  1 MiB/s  ETA 0:06`, cut to
 * `width` columns: first the bar goes (`fraction` null: there is none), then
 * pieces in their `drop` order, then the name shrinks to `…` and its end.
 */
function fitLine(
  label: string,
  parts: Part[],
  fraction: number | null,
  width: number,
): string {
  const kept = parts.filter((part) => part.text !== "");
  const tailOf = () =>
    kept.map((part, i) =>
      i === 0 ? part.text : (kept[i - 1].tight ? " " : "  ") + part.text
    ).join("");
  const room = width - tailOf().length - 4;
  if (fraction !== null && room >= 20) {
    // Room for a bar: the name takes at most half of it.
    const name = shorten(label, Math.floor(room / 2));
    const bar = Math.max(room - name.length, 5);
    const filled = Math.round(fraction * bar);
    return `${name} [${"#".repeat(filled)}${
      "-".repeat(bar - filled)
    }] ${tailOf()}`;
  }
  const order = kept.filter((part) => part.drop !== undefined)
    .sort((a, b) => a.drop! - b.drop!);
  // The name keeps at least 12 columns while pieces can go.
  while (width - tailOf().length - 2 < 12 && order.length > 0) {
    kept.splice(kept.indexOf(order.shift()!), 1);
  }
  const tail = tailOf();
  const space = width - tail.length - 2;
  if (space < 2) return tail.slice(0, width);
  return `${shorten(label, space)}  ${tail}`;
}

/** `text`, or `…` and its last `width - 1` characters when it is longer. */
function shorten(text: string, width: number): string {
  if (text.length <= width) return text;
  return "…" + text.slice(-Math.max(width - 1, 1));
}
