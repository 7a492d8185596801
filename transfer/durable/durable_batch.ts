/**
 * Makes received files durable in batches: the receiver of a tree writes each
 * file to a staging path and hands it here; every batch (so many files, so
 * many bytes, or a tenth of a second) is synced to disk, then each file gets
 * its mode and modification time and is renamed into place, and the renames
 * are made durable. Only then is the batch reported as settled
 * (acknowledged), so a settled file survives a crash and an unsettled one is
 * sent again on the next run.
 *
 * Where it can ({@linkcode DurableBatchOptions.syncFolders}), a batch's data
 * is made durable with one `syncfs` of the staging folders' file system,
 * after every file of the batch is written and before any is renamed, and
 * the renames with the next `syncfs` (see `file_system_sync.ts` for why and
 * what it costs). Otherwise, and for good once a `syncfs` fails, with one
 * concurrent round of `fdatasync`, one per file, and a sync of each folder
 * that received renames.
 *
 * Small files are written by worker threads ({@linkcode DurableBatch.stage},
 * `staging_worker.ts`): creating, syncing and renaming a file cost the
 * kernel far more than anything else here, and done beside the main thread
 * they overlap with receiving the next files. Large files are written by
 * the main thread as they arrive.
 *
 * @module
 */

import { dirname } from "@std/path";
import { concat } from "@std/bytes/concat";
import { FtsError } from "../../protocol/errors.ts";
import { commitFiles, syncFolder } from "./commit_files.ts";
import { FileSystemSync } from "./file_system_sync.ts";
import {
  type CommitReply,
  describeWorkerError,
  type WorkerCommitFile,
  type WorkerError,
} from "./worker_error.ts";

/**
 * Batches being made durable at once, beyond the one filling. Syncs take far
 * longer than filling a batch; three at once measured faster than one
 * (10,000 files of 4 KiB: put 3.7 s to 3.0 s, get 3.4 s to 3.0 s; see
 * docs/protocol.md, "Trees").
 */
const IN_FLIGHT = 3;

/**
 * Small files sent to a staging worker in one message (at most this many,
 * or about this many bytes). One message per file cost a third of the main
 * thread's time receiving 100,000 one-line files (~40 µs each on the loaded
 * machine, mostly waking the worker); half a batch per message costs
 * little of the overlap with the worker.
 */
const WRITES_PER_MESSAGE = 128;
const BYTES_PER_MESSAGE = 1024 * 1024;

/** A received file waiting to be made durable, or a failure to report in order. */
export interface StagedFile {
  /** The tree-relative path, for reports. */
  name: string;
  /** The written file, still open; the batch closes it. */
  file: Deno.FsFile | null;
  /** Set while the file is still being written in the background. */
  writing?: Promise<void>;
  /** Set when a staging worker holds the file: which one, and its id there. */
  worker?: { lane: number; id: number };
  /** Where the bytes were written. */
  staged: string;
  /** Where the file belongs, as its owner names it (see `place`). */
  target: string;
  mode: number | null;
  /** Modification time in milliseconds since the epoch. */
  mtime: number;
  bytes: number;
  /** The verified digest of the file's bytes, for the receiver's records. */
  digest?: string;
  /** Set when the file has failed already; it is only reported, in order. */
  error?: FtsError;
}

/** What became of one file. */
export interface SettledFile {
  item: StagedFile;
  /** Why the file is not in place; absent on success. */
  error?: FtsError;
}

/** Where a batch's files go: one target path per file, and their folders. */
export interface Placement {
  /** Target path of each file, in the order given. */
  targets: string[];
  /** The folders holding them, synced after the renames. */
  folders: string[];
  /** Releases what the resolution holds (folder handles). */
  release(): void;
}

/** The default placement: targets are plain paths. */
function plainPlacement(items: readonly StagedFile[]): Promise<Placement> {
  return Promise.resolve({
    targets: items.map((item) => item.target),
    folders: [...new Set(items.map((item) => dirname(item.target)))],
    release: () => {},
  });
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
  /**
   * Resolves where a batch's files go, at the moment of their commit; the
   * paths it returns are used, then released. Default: `item.target` as a
   * plain path. The server resolves them through its confined root.
   */
  place?: (items: readonly StagedFile[]) => Promise<Placement>;
  /**
   * Folders holding every staged file (the staging folders), opened now: a
   * batch is then made durable with one `syncfs` of their file system
   * where it can run. Give them before any file is written. Default: none,
   * one `fdatasync` per file.
   */
  syncFolders?: readonly string[];
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
  #flushes: Promise<void>[] = [];
  #writers: Promise<void>[];
  #workers: (StagingWriter | null)[] = [];
  #fileSystem: FileSystemSync | null;
  #fileSystemBatches = 0;

  constructor(options: DurableBatchOptions) {
    this.#options = options;
    this.#fileSystem = FileSystemSync.open(options.syncFolders ?? []);
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
    const worker = this.#worker(lane);
    if (worker) {
      item.worker = { lane, id: worker.write(item, chunks) };
      return this.add(item);
    }
    item.writing = this.#writers[lane].then(async () => {
      const file = await Deno.open(item.staged, {
        write: true,
        createNew: true,
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
   * batch {@linkcode IN_FLIGHT} before it is reported (so at most
   * `IN_FLIGHT + 1` batches are held).
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
    for (const worker of this.#workers) worker?.close();
    this.#workers = [];
    this.#fileSystem?.close();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Batches made durable with `syncfs` rather than file by file. */
  get fileSystemSyncs(): number {
    return this.#fileSystemBatches;
  }

  /** The worker of `lane`, started on first use; `null` if none can start. */
  #worker(lane: number): StagingWriter | null {
    if (this.#workers[lane] === undefined) {
      try {
        this.#workers[lane] = new StagingWriter();
      } catch {
        this.#workers[lane] = null;
      }
    }
    return this.#workers[lane];
  }

  /** Starts flushing the pending files; resolves when the flush before is done. */
  #cut(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const items = this.#pending;
    if (items.length === 0) return this.#chain;
    this.#pending = [];
    this.#bytes = 0;
    // The batch's syncs start now, overlapping those of the batches before
    // it (their journal commits and disk flushes merge); it is reported
    // only after them.
    const work = this.#settle(items);
    work.catch(() => {});
    const { onSettled } = this.#options;
    this.#chain = this.#chain.then(async () => await onSettled(await work))
      .catch((error) => {
        this.#failure ??= error;
      });
    // Backpressure: wait for the batch `limit` back to be reported.
    const limit = IN_FLIGHT;
    this.#flushes.push(this.#chain);
    if (this.#flushes.length > limit + 1) this.#flushes.shift();
    return this.#flushes.length > limit ? this.#flushes[0] : Promise.resolve();
  }

  /**
   * Makes the data of a batch durable with one `syncfs`, once every file is
   * written: the main thread's writes are (the caller awaited them), the
   * workers' of `lanes` once each answers a drain. `false` where `syncfs`
   * cannot serve or failed: sync each file instead. Nothing is renamed yet,
   * so falling back loses nothing.
   */
  async #syncData(lanes: number[]): Promise<boolean> {
    if (this.#fileSystem === null) return false;
    await Promise.all(
      lanes.map((lane) => this.#workers[lane]!.drain().catch(() => {})),
    );
    return await this.#fileSystem.sync();
  }

  /** Makes `items` durable and in place; returns what became of each. */
  async #settle(items: StagedFile[]): Promise<SettledFile[]> {
    const { mapError } = this.#options;
    const live = items.filter((item) => !item.error);
    const written = await Promise.allSettled(
      live.map((item) => item.writing),
    );
    let placement: Placement;
    try {
      placement = await (this.#options.place ?? plainPlacement)(live);
    } catch (error) {
      for (const item of live) {
        item.file?.close();
        item.file = null;
        item.error = error instanceof FtsError ? error : mapError(error, item);
      }
      return items.map((item) => ({ item, error: item.error }));
    }
    const errors = new Map<StagedFile, unknown>();
    try {
      // Files the workers hold are committed there, each worker's at once;
      // the others here, with the same function.
      const byWorker = new Map<number, number[]>();
      const here: number[] = [];
      live.forEach((item, i) => {
        if (!item.worker) return here.push(i);
        const list = byWorker.get(item.worker.lane) ?? [];
        list.push(i);
        byWorker.set(item.worker.lane, list);
      });
      const dataDurable = await this.#syncData([...byWorker.keys()]);
      // With the data durable, the renames are made durable below with one
      // more syncfs, not a sync per folder.
      const folders = dataDurable ? [] : placement.folders;
      const entry = (i: number) => ({
        staged: live[i].staged,
        target: placement.targets[i],
        mode: live[i].mode,
        mtime: live[i].mtime,
      });
      await Promise.all([
        ...[...byWorker].map(async ([lane, indices]) => {
          let results: (WorkerError | null)[];
          try {
            results = await this.#workers[lane]!.commit(
              indices.map((i) => ({ ...entry(i), id: live[i].worker!.id })),
              folders,
              dataDurable,
            );
          } catch (error) {
            results = indices.map(() => describeError(error));
          }
          indices.forEach((i, k) => {
            if (results[k]) errors.set(live[i], revive(results[k]!));
          });
        }),
        (async () => {
          if (here.length === 0) return;
          const results = await commitFiles(
            here.map((i) => ({
              ...entry(i),
              file: live[i].file,
              error: written[i].status === "rejected"
                ? (written[i] as PromiseRejectedResult).reason
                : undefined,
            })),
            folders,
            { dataDurable },
          );
          here.forEach((i, k) => {
            live[i].file = null;
            if (results[k] !== null) errors.set(live[i], results[k]);
          });
        })(),
      ]);
      if (dataDurable) {
        this.#fileSystemBatches++;
        // The renames are durable once the file system is synced again (or,
        // should that fail, their folders are).
        if (!await this.#fileSystem!.sync()) {
          await Promise.all(placement.folders.map(syncFolder));
        }
      }
    } finally {
      placement.release();
    }
    return items.map((item): SettledFile => {
      if (item.error) return { item, error: item.error };
      const error = errors.get(item);
      if (error === undefined) return { item };
      return {
        item,
        error: error instanceof FtsError ? error : mapError(error, item),
      };
    });
  }
}

function describeError(error: unknown): WorkerError {
  return describeWorkerError(error);
}

/** Rebuilds a worker's error as the `Deno.errors` class it was. */
function revive(error: WorkerError): Error {
  const Class = (Deno.errors as unknown as Record<string, ErrorConstructor>)[
    error.name
  ];
  const revived = Class ? new Class(error.message) : new Error(error.message);
  if (error.code) Object.assign(revived, { code: error.code });
  return revived;
}

/** One staging worker thread, as seen from the main thread. */
class StagingWriter {
  #worker: Worker;
  #tickets = new Map<
    number,
    {
      resolve: (errors: (WorkerError | null)[]) => void;
      reject: (error: unknown) => void;
    }
  >();
  #nextTicket = 1;
  #nextId = 1;
  #broken: unknown;
  #queued: {
    id: number;
    path: string;
    mode: number | null;
    mtime: number;
    chunks: readonly Uint8Array[];
    size: number;
  }[] = [];
  #queuedBytes = 0;

  constructor() {
    this.#worker = new Worker(
      new URL("./staging_worker.ts", import.meta.url),
      { type: "module" },
    );
    this.#worker.onmessage = (event: MessageEvent<CommitReply>) => {
      const ticket = this.#tickets.get(event.data.ticket);
      this.#tickets.delete(event.data.ticket);
      ticket?.resolve(event.data.errors);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#broken = new Error(`the staging worker failed: ${event.message}`);
      for (const ticket of this.#tickets.values()) ticket.reject(this.#broken);
      this.#tickets.clear();
    };
  }

  /**
   * Queues `chunks` to be written to `item.staged` (copied, so the caller's buffers
   * are free at once); returns the file's id. Queued files go to the worker
   * together, in one message, once enough gathered or before any request.
   */
  write(item: StagedFile, chunks: readonly Uint8Array[]): number {
    const id = this.#nextId++;
    let size = 0;
    for (const chunk of chunks) size += chunk.byteLength;
    const { staged: path, mode, mtime } = item;
    this.#queued.push({ id, path, mode, mtime, chunks, size });
    this.#queuedBytes += size;
    if (
      this.#queued.length >= WRITES_PER_MESSAGE ||
      this.#queuedBytes >= BYTES_PER_MESSAGE
    ) this.#flush();
    return id;
  }

  /** Sends the queued files to the worker in one message. */
  #flush(): void {
    const queued = this.#queued;
    if (queued.length === 0) return;
    const data: Uint8Array = concat(queued.flatMap((file) => file.chunks));
    this.#queued = [];
    this.#queuedBytes = 0;
    this.#worker.postMessage({
      type: "write",
      ids: queued.map((file) => file.id),
      paths: queued.map((file) => file.path),
      sizes: queued.map((file) => file.size),
      modes: queued.map((file) => file.mode),
      mtimes: queued.map((file) => file.mtime),
      // Copied, not transferred: for small buffers a transfer costs more.
      data: data.buffer,
    });
  }

  /** Commits `files`; resolves with one error or `null` per file. */
  commit(
    files: WorkerCommitFile[],
    folders: string[],
    dataDurable: boolean,
  ): Promise<(WorkerError | null)[]> {
    return this.#ask({
      type: "commit",
      files,
      folders,
      dataDurable,
    });
  }

  /** Resolves once every file handed over so far is written. */
  async drain(): Promise<void> {
    await this.#ask({ type: "drain" });
  }

  /** Sends `request` under a new ticket; resolves with the worker's answer. */
  #ask(
    request: { type: "drain" } | {
      type: "commit";
      files: WorkerCommitFile[];
      folders: string[];
      dataDurable: boolean;
    },
  ): Promise<(WorkerError | null)[]> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    this.#flush();
    const ticket = this.#nextTicket++;
    return new Promise((resolve, reject) => {
      this.#tickets.set(ticket, { resolve, reject });
      this.#worker.postMessage({ ...request, ticket });
    });
  }

  /** Stops the worker. */
  close(): void {
    this.#worker.terminate();
  }
}
