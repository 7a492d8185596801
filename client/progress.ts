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

  /** The line the bar shows at time `now`, without escape codes. */
  line(now = this.#now()): string {
    const { total } = this.#options;
    const label = this.#label;
    const start = this.#options.start ?? 0;
    const seconds = Math.max((now - this.#startedAt) / 1000, 1e-3);
    const rate = (this.#done - start) / seconds;
    const files = this.#files
      ? `${this.#files.done}/${this.#files.total} files  `
      : "";
    const sizes = files +
      (total === null
        ? formatBytes(this.#done)
        : `${formatBytes(this.#done)} / ${formatBytes(total)}`);
    const rateText = `${formatBytes(Math.round(rate))}/s`;
    const elapsed = `in ${formatDuration(seconds)}`;
    if (total === null || total === 0) {
      return `${label}  ${sizes}  ${rateText}${
        this.#finished ? `  ${elapsed}` : ""
      }`;
    }
    const fraction = Math.min(this.#done / total, 1);
    const eta = rate > 0 ? (total - this.#done) / rate : Infinity;
    const percent = `${(fraction * 100).toFixed(0).padStart(3)}%`;
    const tail = `${percent} ${sizes}  ${rateText}  ${
      this.#finished ? elapsed : `ETA ${formatDuration(eta)}`
    }`;
    const columns = this.#options.columns ?? 80;
    const room = columns - tail.length - 5;
    if (room < 20) {
      // Too narrow for a bar (a tree's line is long): the name and the numbers.
      const space = Math.max(columns - tail.length - 2, 8);
      const short = label.length > space
        ? "…" + label.slice(-(space - 1))
        : label;
      return `${short}  ${tail}`;
    }
    const name = label.length > room / 2
      ? "…" + label.slice(-Math.max(Math.floor(room / 2) - 1, 1))
      : label;
    const width = Math.max(room - name.length, 5);
    const filled = Math.round(fraction * width);
    return `${name} [${"#".repeat(filled)}${
      "-".repeat(width - filled)
    }] ${tail}`;
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
