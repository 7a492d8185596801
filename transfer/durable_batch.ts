/**
 * Makes received files durable in batches: the receiver of a tree writes each
 * file to a staging path and hands it here; every batch (so many files, so
 * many bytes, or a tenth of a second) is synced to disk with one concurrent
 * round of `fdatasync`, then each file gets its mode and modification time
 * and is renamed into place, and the folders holding them are synced. Only
 * then is the batch reported as settled (acknowledged), so a settled file
 * survives a crash and an unsettled one is sent again on the next run.
 *
 * Small files are written in the background ({@linkcode DurableBatch.stage}):
 * creating a file costs the kernel far more than anything else here, and
 * done off the main thread it overlaps with receiving the next files.
 *
 * @module
 */

import { dirname } from "@std/path";
import { FtsError } from "../protocol/errors.ts";

/** A received file waiting to be made durable, or a failure to report in order. */
export interface StagedFile {
  /** The tree-relative path, for reports. */
  name: string;
  /** The written file, still open; the batch closes it. */
  file: Deno.FsFile | null;
  /** Set while the file is still being written in the background. */
  writing?: Promise<void>;
  /** Where the bytes were written. */
  staged: string;
  /** Where the file belongs. */
  target: string;
  mode: number | null;
  /** Modification time in milliseconds since the epoch. */
  mtime: number;
  bytes: number;
  /** Set when the file has failed already; it is only reported, in order. */
  error?: FtsError;
}

/** What became of one file. */
export interface SettledFile {
  item: StagedFile;
  /** Why the file is not in place; absent on success. */
  error?: FtsError;
}

/** Options for {@linkcode DurableBatch}. */
export interface DurableBatchOptions {
  /** Flush after this many files. Default 256. */
  maxFiles?: number;
  /** Flush after this many bytes. Default 32 MiB. */
  maxBytes?: number;
  /** Flush this long after the first file of a batch arrived. Default 100 ms. */
  maxDelayMs?: number;
  /**
   * Background writers for {@linkcode DurableBatch.stage}. Default 1. Give
   * each its own staging folder: creates in one folder queue in the kernel,
   * creates in different folders run on different cores.
   */
  writers?: number;
  /** Turns a file-system error about `item` into a typed error. */
  mapError: (error: unknown, item: StagedFile) => FtsError;
  /** Receives each flushed batch, in order. */
  onSettled: (settled: SettledFile[]) => void | Promise<void>;
}

/**
 * Collects staged files and makes them durable in batches, one flush at a
 * time and in order, while the next batch fills.
 *
 * @example
 * ```ts
 * const batch = new DurableBatch({ mapError, onSettled: (done) => ack(done) });
 * await batch.add({ name, file, staged, target, mode, mtime, bytes });
 * await batch.finish();
 * ```
 */
export class DurableBatch {
  #options: DurableBatchOptions;
  #pending: StagedFile[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #failure: unknown;
  #writers: Promise<void>[];

  constructor(options: DurableBatchOptions) {
    this.#options = options;
    this.#writers = Array.from(
      { length: Math.max(1, options.writers ?? 1) },
      () => Promise.resolve(),
    );
  }

  /**
   * Creates `item.staged` and writes `chunks` to it in the background, off
   * the main thread, on writer `lane` (one file at a time per writer); the
   * file stays open for the batch's sync. Then adds `item`.
   */
  stage(
    item: StagedFile,
    chunks: readonly Uint8Array[],
    lane: number,
  ): Promise<void> {
    lane %= this.#writers.length;
    item.writing = this.#writers[lane].then(async () => {
      const file = await Deno.open(item.staged, {
        write: true,
        create: true,
        truncate: true,
      });
      item.file = file;
      for (const chunk of chunks) {
        let written = 0;
        while (written < chunk.byteLength) {
          written += await file.write(chunk.subarray(written));
        }
      }
    });
    this.#writers[lane] = item.writing.catch(() => {});
    return this.add(item);
  }

  /**
   * Adds a file. Resolves at once, or, when this fills a batch, once the
   * batch before it is durable (so at most two batches are held).
   */
  async add(item: StagedFile): Promise<void> {
    this.#pending.push(item);
    this.#bytes += item.bytes;
    if (
      this.#pending.length >= (this.#options.maxFiles ?? 256) ||
      this.#bytes >= (this.#options.maxBytes ?? 32 * 1024 * 1024)
    ) {
      await this.#cut();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(
        () => void this.#cut(),
        this.#options.maxDelayMs ?? 100,
      );
    }
  }

  /**
   * Flushes what is left and waits for every flush.
   *
   * @throws the first error `onSettled` threw.
   */
  async finish(): Promise<void> {
    this.#cut();
    await this.#chain;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Starts flushing the pending files; resolves when the flush before is done. */
  #cut(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const items = this.#pending;
    if (items.length === 0) return this.#chain;
    this.#pending = [];
    this.#bytes = 0;
    const before = this.#chain;
    this.#chain = before.then(() => this.#flush(items)).catch((error) => {
      this.#failure ??= error;
    });
    return before;
  }

  async #flush(items: StagedFile[]): Promise<void> {
    const { mapError, onSettled } = this.#options;
    const written = await Promise.allSettled(
      items.map((item) => item.writing),
    );
    const synced = await Promise.allSettled(
      items.map((item, i) =>
        item.error || written[i].status === "rejected" || EXP_NOSYNC
          ? null
          : item.file?.syncData()
      ),
    );
    const folders = new Set<string>();
    const now = new Date();
    const settled = items.map((item, i): SettledFile => {
      try {
        item.file?.close();
      } catch {
        // Closed already.
      }
      if (item.error) return { item, error: item.error };
      try {
        const write = written[i];
        if (write.status === "rejected") throw write.reason;
        const sync = synced[i];
        if (sync.status === "rejected") throw sync.reason;
        if (item.mode !== null) Deno.chmodSync(item.staged, item.mode & 0o777);
        Deno.utimeSync(item.staged, now, new Date(item.mtime));
        Deno.renameSync(item.staged, item.target);
        folders.add(dirname(item.target));
        return { item };
      } catch (error) {
        try {
          Deno.removeSync(item.staged);
        } catch {
          // Not there.
        }
        return {
          item,
          error: error instanceof FtsError ? error : mapError(error, item),
        };
      }
    });
    // The renames are durable once their folders are synced.
    await Promise.all([...folders].map(syncFolder));
    await onSettled(settled);
  }
}

const EXP_NOSYNC = Deno.env.get("FTS_NOSYNC") === "1";
async function syncFolder(path: string): Promise<void> {
  if (EXP_NOSYNC) return;
  try {
    using folder = await Deno.open(path);
    await folder.sync();
  } catch {
    // Some file systems cannot sync a folder; the files themselves are synced.
  }
}
