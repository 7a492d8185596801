/**
 * Where the client tells the user what is happening: one-line messages and
 * progress bars, both on stderr.
 *
 * @module
 */

import { ProgressBar } from "./progress.ts";
import { safeText } from "./safe_text.ts";

/** Receives what the client has to say while it works. */
export interface Reporter {
  /** A one-line message (a resume, a server notice). */
  info(text: string): void;
  /**
   * A one-line error that does not stop the command (one file of a tree);
   * shown even when quiet. Falls back to `info` when absent.
   */
  error?(text: string): void;
  /** Starts a progress bar, or returns `null` when none is shown. */
  progress(
    label: string,
    total: number | null,
    start: number,
  ): ProgressBar | null;
}

/** Options for {@linkcode StreamReporter}. */
export interface StreamReporterOptions {
  /** Where messages and bars go. Default: stderr. */
  output?: WritableStream<Uint8Array>;
  /** Draw progress bars (only sensible on a terminal). */
  bars: boolean;
  /** Print nothing but errors. */
  quiet: boolean;
  /** Colour the bar. */
  color: boolean;
}

/** A {@linkcode Reporter} writing to a stream, stderr by default. */
export class StreamReporter implements Reporter {
  #options: StreamReporterOptions;
  #output: WritableStream<Uint8Array>;
  #bar: ProgressBar | null = null;
  #encoder = new TextEncoder();

  constructor(options: StreamReporterOptions) {
    this.#options = options;
    this.#output = options.output ?? stderrStream();
  }

  /** Settings for stderr: bars only on a terminal, colour unless `NO_COLOR`. */
  static forStderr(quiet: boolean): StreamReporter {
    return new StreamReporter({
      bars: Deno.stderr.isTerminal(),
      quiet,
      color: !Deno.env.get("NO_COLOR"),
    });
  }

  info(text: string): void {
    if (this.#options.quiet) return;
    this.#line(text);
  }

  error(text: string): void {
    this.#line(text);
  }

  // Lines may carry server text (names, reasons, notices): made safe here.
  #line(raw: string): void {
    const text = safeText(raw);
    if (this.#bar) return this.#bar.interrupt(text);
    const writer = this.#output.getWriter();
    writer.write(this.#encoder.encode(text + "\n")).catch(() => {});
    writer.releaseLock();
  }

  progress(
    label: string,
    total: number | null,
    start: number,
  ): ProgressBar | null {
    if (this.#options.quiet || !this.#options.bars) return null;
    const bar = new ProgressBar({
      label,
      total,
      start,
      output: this.#output,
      color: this.#options.color,
      columns: Deno.stderr.isTerminal() ? Deno.consoleSize().columns : 80,
      onEnd: () => this.#bar = null,
    });
    this.#bar = bar;
    return bar;
  }
}

function stderrStream(): WritableStream<Uint8Array> {
  // A stream that never locks Deno.stderr, so console.error keeps working.
  return new WritableStream<Uint8Array>({
    write(chunk) {
      Deno.stderr.writeSync(chunk);
    },
  });
}
