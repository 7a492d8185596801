/**
 * Peak resident memory of benchmarked processes, read from Linux `/proc`.
 *
 * - Long-running processes (the fts server): `VmHWM` ("high water mark") in
 *   `/proc/PID/status` is the peak resident set size so far. Before each run
 *   the peak is reset by writing `5` to `/proc/PID/clear_refs` (Linux ≥ 4.0),
 *   so the value read after the run is that run's peak. Where the reset is not
 *   allowed the value is the peak since start, an upper bound.
 * - Short-lived processes (fts clients): run under GNU `/usr/bin/time -f %M`,
 *   which reports the exact `ru_maxrss` from `wait4`; without GNU time,
 *   `VmHWM` is polled until the process exits.
 *
 * All sizes are in KiB, the unit the kernel reports.
 *
 * @module
 */

import { sleep, which } from "./process.ts";

/** Reads a `kB` field such as `VmHWM` or `VmRSS` from `/proc/PID/status`; null when unreadable. */
export async function readStatusKiB(
  pid: number,
  field = "VmHWM",
): Promise<number | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    const match = text.match(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Resets the peak RSS (`VmHWM`) of `pid` to its current RSS by writing `5` to
 * `/proc/PID/clear_refs`. Returns false when the kernel or permissions do not
 * allow it.
 */
export async function resetPeak(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `VmHWM` of a process every `intervalMs` and keeps the last value it
 * could read: `VmHWM` only grows, so the last reading before the exit is the
 * peak (minus whatever grew in the final interval).
 */
export class PeakPoller {
  #pid: number;
  #intervalMs: number;
  #peak: number | null = null;
  #stopped = false;
  #loop: Promise<void> | null = null;

  /** Prepares polling of `pid`; call {@link PeakPoller.start}. */
  constructor(pid: number, intervalMs = 20) {
    this.#pid = pid;
    this.#intervalMs = intervalMs;
  }

  /** Starts polling in the background. */
  start(): this {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const value = await readStatusKiB(this.#pid);
        if (value !== null) this.#peak = Math.max(this.#peak ?? 0, value);
        await sleep(this.#intervalMs);
      }
    })();
    return this;
  }

  /** Stops polling and returns the highest value seen, or null. */
  async stop(): Promise<number | null> {
    this.#stopped = true;
    await this.#loop;
    return this.#peak;
  }
}

/** How client memory is measured on this machine. */
export type ClientMemoryMethod = "gnu-time" | "poll-vmhwm";

let cachedGnuTime: string | null | undefined;

/** Path of GNU time (`/usr/bin/time` that accepts `-f` and `-o`), or null. */
export async function findGnuTime(): Promise<string | null> {
  if (cachedGnuTime !== undefined) return cachedGnuTime;
  cachedGnuTime = null;
  const path = which("/usr/bin/time") ?? which("time");
  if (path) {
    try {
      const out = await new Deno.Command(path, {
        args: ["-f", "%M", "true"],
        stdout: "null",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stderr).trim();
      if (out.success && /^\d+$/.test(text.split("\n").pop() ?? "")) {
        cachedGnuTime = path;
      }
    } catch { /* not usable */ }
  }
  return cachedGnuTime;
}

/**
 * Parses the output file of `time -f %M -o FILE`: the last line that is a
 * bare number is the maximum resident set size in KiB. Returns null when
 * there is none (e.g. the process was killed before time could report).
 */
export function parseGnuTimeMaxRss(text: string): number | null {
  const lines = text.trim().split("\n").reverse();
  for (const line of lines) {
    if (/^\d+$/.test(line.trim())) return Number(line.trim());
  }
  return null;
}

/** Clock ticks per second of `/proc/PID/stat` (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/**
 * User + system CPU seconds of `pid` and its waited-for children, from
 * `/proc/PID/stat`; null when unreadable.
 */
export async function processCpuSeconds(pid: number): Promise<number | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // utime, stime: fields 14 and 15 of the whole line, 12 and 13 here.
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/** Converts KiB to MiB for display. */
export function kibToMiB(kib: number): number {
  return kib / 1024;
}
