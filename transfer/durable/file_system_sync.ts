/**
 * Makes a whole batch of received files durable with one `syncfs(2)` of the
 * file system holding them, instead of one `fdatasync` per file: for 10,000
 * files of 4 KiB the per-file syncs were most of a tree's time on disk
 * (each one a journal commit and a disk-cache flush; see docs/performance.md).
 * `syncfs` writes back every dirty page and inode of that file system, then
 * commits the journal and flushes the disk once.
 *
 * The trade-off: it also flushes whatever other processes left dirty on the
 * same file system, so on a disk busy with other writers one batch can wait
 * for their data too. Where `syncfs` cannot run (no libc through FFI, not
 * Linux) or fails once, the caller falls back to per-file syncs for good.
 *
 * Why errors are trustworthy: since Linux 5.8 `syncfs` reports a writeback
 * error of any file on the file system that happened after the descriptor
 * was opened, once per open file description. So the folder is opened
 * before the first file is written (at construction), and the calls are
 * strictly one at a time: two at once could let one consume an error that
 * concerns the other's files. A failure ends the fast path for every later
 * request, as an error may concern any file written so far. Older kernels
 * report nothing, so they get the per-file syncs.
 *
 * Requests that arrive while a `syncfs` runs share the next one (a group
 * commit): what they wrote before asking may not be in the running call.
 *
 * @module
 */

import { closeFd, loadLibc, O_DIRECTORY, O_RDONLY, openAt } from "../libc.ts";

/** Linux 5.8: the first kernel whose `syncfs` reports writeback errors. */
const FIRST_KERNEL: readonly number[] = [5, 8];

/** Whether this kernel's `syncfs` reports writeback errors. */
function kernelReportsErrors(): boolean {
  let release: number[];
  try {
    release = Deno.osRelease().split(/[.-]/).map(Number);
  } catch {
    return false; // no --allow-sys: the kernel is unknown
  }
  for (let i = 0; i < FIRST_KERNEL.length; i++) {
    if (!(release[i] >= 0)) return false;
    if (release[i] !== FIRST_KERNEL[i]) return release[i] > FIRST_KERNEL[i];
  }
  return true;
}

/** One `syncfs` per request round over the file systems of some folders. */
export class FileSystemSync {
  #fds: number[];
  #failed = false;
  #running = false;
  #waiting: ((ok: boolean) => void)[] = [];
  #calls = 0;

  private constructor(fds: number[]) {
    this.#fds = fds;
  }

  /**
   * Opens `folders` (one descriptor per distinct file system), or answers
   * `null` where `syncfs` cannot serve: not Linux 5.8 or later, no libc
   * through FFI, or a folder that cannot be opened. Call before the first
   * file whose data it must cover is written.
   */
  static open(folders: readonly string[]): FileSystemSync | null {
    if (folders.length === 0 || Deno.build.os !== "linux") return null;
    if (loadLibc() === null || !kernelReportsErrors()) return null;
    const fds: number[] = [];
    const devices = new Set<number>();
    try {
      for (const folder of folders) {
        const device = Deno.statSync(folder).dev;
        if (devices.has(device)) continue;
        devices.add(device);
        fds.push(openAt(-100, /* AT_FDCWD */ folder, O_RDONLY | O_DIRECTORY));
      }
    } catch {
      for (const fd of fds) closeFd(fd);
      return null;
    }
    return new FileSystemSync(fds);
  }

  /** How many `syncfs` rounds ran (each covers every request waiting). */
  get calls(): number {
    return this.#calls;
  }

  /**
   * Resolves `true` once a `syncfs` that started after this call succeeded:
   * everything written before the call is durable. `false` when it failed
   * (or one did before): sync file by file instead.
   */
  sync(): Promise<boolean> {
    if (this.#failed || this.#fds.length === 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      if (!this.#running) void this.#run();
    });
  }

  /** Closes the descriptors once the running round is done. */
  close(): void {
    this.#failed = true;
    if (!this.#running) this.#release();
  }

  async #run(): Promise<void> {
    this.#running = true;
    const lib = loadLibc()!;
    while (this.#waiting.length > 0) {
      const round = this.#waiting;
      this.#waiting = [];
      if (!this.#failed) {
        this.#calls++;
        try {
          const results = await Promise.all(
            this.#fds.map((fd) => lib.syncfs(fd)),
          );
          if (results.some((result) => result !== 0)) this.#failed = true;
        } catch {
          this.#failed = true;
        }
      }
      for (const resolve of round) resolve(!this.#failed);
    }
    this.#running = false;
    if (this.#failed) this.#release();
  }

  #release(): void {
    for (const fd of this.#fds) closeFd(fd);
    this.#fds = [];
  }
}
