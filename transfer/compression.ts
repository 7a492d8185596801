/**
 * When a body's pieces are worth compressing (`-z`, `--compress=auto`).
 *
 * `on` tries zstd on every piece; a piece that does not shrink still goes
 * out raw (see protocol/frame_compression.ts), so incompressible data costs
 * only the attempt. `auto` goes beyond rsync's and scp's fixed choice: it
 * sends raw and, per window of 8 MiB, measures the rate the connection takes
 * the bytes at and how long the sender waited for it. Compression turns on
 * when the link is the bound (the sender waited at least a tenth of the
 * window) and its rate is below what compression itself sustains on this
 * machine (measured as it goes; 300 MB/s until then). A window without
 * waiting says nothing about the link: the socket buffers are still filling
 * (~10 MiB on loopback), or the sender's own CPU is the bound. While
 * compressing, a window that barely shrank turns compression off for a while
 * (incompressible data), and two windows in a row without waiting mean the
 * compressor is now the bound, so the link is measured raw again.
 *
 * @module
 */

import { constants, zstdCompressSync } from "node:zlib";
import type { SendBodyOptions } from "../protocol/message_writer.ts";

/** How a transfer compresses: always, by measurement, or (absent) never. */
export type CompressMode = "on" | "auto";

/**
 * The mode a peer asked for in a request's `compress` field: `"auto"`, or
 * `"on"` for any other value that is set; absent means no compression.
 */
export function requestedMode(value: unknown): CompressMode | undefined {
  return value === "auto" ? "auto" : value ? "on" : undefined;
}

/** Bytes per decision window of `auto`. */
const WINDOW = 8 * 1024 * 1024;
/** Compression speed assumed before any is measured, bytes per ms. */
const ASSUMED_SPEED = 300_000;
/** Windows to stay raw after one that did not shrink by 1/16. */
const BACKOFF = 4;
/** Share of a window spent waiting that makes the link the bound. */
const LINK_BOUND = 0.1;

/**
 * Decides per piece whether to compress, as `sendBody` options. Without a
 * mode it never compresses.
 *
 * @example
 * ```ts
 * await writer.sendBody(chunks, trailer, onWritten, compression("auto"));
 * ```
 */
export function compression(
  mode: CompressMode | undefined,
  stream = false,
): SendBodyOptions {
  if (mode === undefined) return {};
  const level = stream ? new AdaptiveLevel() : null;
  const streamed = (options: SendBodyOptions): SendBodyOptions =>
    level
      ? {
        ...options,
        streamLevel: (piece) => level.next(performance.now(), piece),
        onCompressed: (raw, sent, ms) => {
          options.onCompressed?.(raw, sent, ms);
          level.compressed(raw, ms);
        },
        onWaited: (ms) => {
          options.onWaited?.(ms);
          level.waited(ms);
        },
      }
      : options;
  if (mode === "on") return streamed({ compress: () => true });
  const auto = new AutoCompression();
  return streamed({
    compress: (chunk) => auto.next(chunk.byteLength, performance.now()),
    onCompressed: (raw, sent, ms) => auto.measured(raw, sent, ms),
    onWaited: (ms) => auto.waited(ms),
  });
}

/** The level a stream starts at: zstd's default, and rsync's. */
const START_LEVEL = 3;
/**
 * The range the level moves in: above 6 zstd slows down sharply here and
 * each context holds tens of MiB (the memory target is 100 MB a side).
 */
const MIN_LEVEL = 1;
const MAX_LEVEL = 6;
/**
 * Bytes compressed per decision of {@linkcode AdaptiveLevel}: at 8 MiB the
 * waiting swung between windows as the socket's buffers drained and filled.
 */
const LEVEL_WINDOW = 16 * 1024 * 1024;

/** Smallest first piece the levels are tried on: smaller ones mislead. */
const PROBE_BYTES = 1024 * 1024;
/** How much better a level must compress than every lower one to count. */
const PROBE_MARGIN = 1.01;
/** How much faster a lower level must have been to be worth stepping down to. */
const STEP_DOWN_SPEED = 0.8;

/** One level tried on a sample: what it made of it, and how fast. */
export interface LevelTrial {
  level: number;
  /** Compressed size of the sample. */
  bytes: number;
  /** Time it took; absent when not tried. */
  ms?: number;
}

/**
 * The levels worth using on data like `sample`, lowest first: each one
 * compresses `sample` (alone, as one zstd frame) better than every lower
 * level does. zstd's levels are meant to trade speed for size, but on some
 * data a level loses to a lower one: on the benchmark's log text level 2
 * gives 7.1x as a stream and levels 3 to 6 only 6.1-6.8x, up to five times
 * slower. Climbing through those would cost CPU for more bytes. Trying
 * every level on a 1 MiB piece costs about 30 ms, once per body.
 */
export function levelLadder(sample: Uint8Array): LevelTrial[] {
  const pack = (data: Uint8Array, level: number) =>
    zstdCompressSync(data, {
      params: { [constants.ZSTD_c_compressionLevel]: level },
    }).byteLength;
  // Highest level first: its larger tables pay for the fresh memory, which
  // the lower levels then reuse, so their times compare fairly.
  const trials: LevelTrial[] = [];
  for (let level = MAX_LEVEL; level >= MIN_LEVEL; level--) {
    const started = performance.now();
    const bytes = pack(sample, level);
    trials.unshift({ level, bytes, ms: performance.now() - started });
  }
  const ladder: LevelTrial[] = [];
  let best = Infinity;
  for (const trial of trials) {
    if (trial.bytes * PROBE_MARGIN < best) {
      ladder.push(trial);
      best = trial.bytes;
    }
  }
  return ladder;
}

/**
 * The zstd level of a streamed body, chosen as `zstd --adapt` does: per
 * window of 16 MiB compressed, when the sender spent a quarter or more of
 * the window waiting for the connection (the link is the bound and the CPU
 * has time) the level goes up; when it hardly waited while compressing
 * took most of the time (the CPU is the bound), down. The levels it moves
 * through are those of {@linkcode levelLadder} for the body's first piece
 * (all of 1 to 6 when that is under 1 MiB), starting at the highest one up
 * to 3; a step down is taken only to a level that was clearly faster on
 * that piece (on the benchmark's text level 1 is no faster than 2, so
 * dropping to it under CPU load only added bytes). `now` is passed in so
 * tests can drive it.
 */
export class AdaptiveLevel {
  #ladder: LevelTrial[];
  #at = 0;
  #windowStart = -1;
  #bytes = 0;
  #waitedMs = 0;
  #compressMs = 0;
  #cpuBound = 0;

  /** `ladder` given (by a test) stands for the first piece's trials. */
  constructor(ladder: LevelTrial[] = []) {
    this.#ladder = [];
    if (ladder.length > 0) this.#start(ladder);
  }

  /**
   * The level for the next piece; the first call's `piece` picks the
   * ladder of levels.
   */
  next(now: number, piece?: Uint8Array): number {
    if (this.#ladder.length === 0) this.#climb(piece);
    // A window starts with its first compressed piece: waits while `auto`
    // sends raw say nothing about the compressor.
    if (this.#windowStart < 0 || this.#bytes === 0) {
      this.#windowStart = now;
      this.#waitedMs = this.#compressMs = 0;
    } else if (this.#bytes >= LEVEL_WINDOW) {
      const elapsed = Math.max(now - this.#windowStart, 1e-3);
      this.#decide(this.#waitedMs / elapsed, this.#compressMs / elapsed);
      this.#windowStart = now;
      this.#bytes = this.#waitedMs = this.#compressMs = 0;
    }
    return this.#ladder[this.#at].level;
  }

  /** Records one piece: `raw` bytes compressed in `ms`. */
  compressed(raw: number, ms: number): void {
    this.#bytes += raw;
    this.#compressMs += ms;
  }

  /** Records that the sender waited `ms` for the connection. */
  waited(ms: number): void {
    this.#waitedMs += ms;
  }

  #climb(piece: Uint8Array | undefined): void {
    this.#start(
      piece !== undefined && piece.byteLength >= PROBE_BYTES
        ? levelLadder(piece)
        : Array.from(
          { length: MAX_LEVEL - MIN_LEVEL + 1 },
          (_, i) => ({ level: MIN_LEVEL + i, bytes: 0 }),
        ),
    );
  }

  #start(ladder: LevelTrial[]): void {
    this.#ladder = ladder;
    this.#at = Math.max(
      0,
      this.#ladder.findLastIndex((trial) => trial.level <= START_LEVEL),
    );
  }

  #decide(waiting: number, compressing: number): void {
    // Two windows in a row, as one alone is often the socket's buffers
    // filling (they take ~10 MiB before the link shows).
    const cpuBound = waiting < 0.05 && compressing >= 0.5;
    this.#cpuBound = cpuBound ? this.#cpuBound + 1 : 0;
    if (waiting >= 0.25) {
      this.#at = Math.min(this.#ladder.length - 1, this.#at + 1);
    } else if (this.#cpuBound >= 2) {
      const here = this.#ladder[this.#at];
      const lower = this.#ladder[this.#at - 1];
      const faster = here.ms === undefined || lower?.ms === undefined ||
        lower.ms < here.ms * STEP_DOWN_SPEED;
      if (lower && faster) this.#at--;
      this.#cpuBound = 0;
    }
  }
}

/** The state of `--compress=auto`; `now` is passed in so tests can drive it. */
export class AutoCompression {
  #packing = false;
  #rawWindowsLeft = 0;
  #windowStart = -1;
  #windowBytes = 0;
  #windowRaw = 0;
  #windowSent = 0;
  #compressMs = 0;
  #compressBytes = 0;
  #waitedMs = 0;
  #unboundWindows = 0;

  /** Whether the next piece, of `bytes`, should be compressed. */
  next(bytes: number, now: number): boolean {
    if (this.#windowStart < 0) this.#windowStart = now;
    else if (this.#windowBytes >= WINDOW) {
      const elapsed = Math.max(now - this.#windowStart, 1e-3);
      this.#decide(this.#windowBytes / elapsed, this.#waitedMs / elapsed);
      this.#windowStart = now;
      this.#windowBytes = this.#windowRaw = this.#windowSent = 0;
      this.#waitedMs = 0;
    }
    this.#windowBytes += bytes;
    return this.#packing;
  }

  /** Records one compression: `raw` bytes became `sent` in `ms`. */
  measured(raw: number, sent: number, ms: number): void {
    this.#windowRaw += raw;
    this.#windowSent += sent;
    this.#compressBytes += raw;
    this.#compressMs += ms;
  }

  /** Records that the sender waited `ms` for the connection. */
  waited(ms: number): void {
    this.#waitedMs += ms;
  }

  /** Compression speed measured so far, bytes per millisecond. */
  get speed(): number {
    return this.#compressMs > 0
      ? this.#compressBytes / this.#compressMs
      : ASSUMED_SPEED;
  }

  #decide(rate: number, waiting: number): void {
    const linkBound = waiting >= LINK_BOUND;
    if (this.#packing) {
      const shrank = this.#windowSent < this.#windowRaw * (15 / 16);
      if (!shrank) this.#rawWindowsLeft = BACKOFF;
      // Two windows without waiting: the compressor is the bound; measure
      // the link raw. One alone is often a burst of freed socket buffer.
      this.#unboundWindows = linkBound ? 0 : this.#unboundWindows + 1;
      this.#packing = shrank && this.#unboundWindows < 2;
      if (!this.#packing) this.#unboundWindows = 0;
    } else if (this.#rawWindowsLeft > 0) {
      this.#rawWindowsLeft--;
    } else {
      this.#packing = linkBound && rate < this.speed;
    }
  }
}

/**
 * `options` that also report what compression did: `raw` bytes went out as
 * `wire` (for "sent 20 MiB as 5 MiB"); without compression, as they are.
 */
export function countingCompression(
  options: SendBodyOptions,
  counts: { compressed: (raw: number, wire: number) => void },
): SendBodyOptions {
  if (!options.compress) return options;
  return {
    ...options,
    onCompressed: (raw, sent, ms) => {
      counts.compressed(raw, sent);
      options.onCompressed?.(raw, sent, ms);
    },
  };
}
