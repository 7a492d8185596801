/**
 * Reads batches of small files in a worker thread (`small_file_worker.ts`)
 * for tree downloads: a file it cannot take the plain road to comes back as
 * `null`, for the storage core to serve.
 *
 * One reader serves every session of a server; it starts on first use and
 * stops with the store.
 *
 * @module
 */

/** A small file as read: its bytes and what the tree listing tells of it. */
export interface SmallFile {
  data: Uint8Array;
  mtime: number;
  mode: number | null;
}

/** A batch to read: remote segments per file, under the held root. */
export interface SmallReadRequest {
  ticket: number;
  rootFd: number;
  paths: string[][];
  limit: number;
}

/** The worker's answer: one file or `null` per path, in order. */
export interface SmallReadReply {
  ticket: number;
  files: (SmallFile | null)[];
}

/** The main thread's side of the small-file worker. */
export class SmallFileReader {
  #worker: Worker | null = null;
  #broken = false;
  #tickets = new Map<number, (files: (SmallFile | null)[]) => void>();
  #next = 1;

  /**
   * Reads the files at `paths` (normalised segments under the root held as
   * `rootFd`), each of at most `limit` bytes. Resolves with `null` for a
   * file the worker leaves to the caller, and all `null` when no worker can
   * run here.
   */
  read(
    rootFd: number,
    paths: string[][],
    limit: number,
  ): Promise<(SmallFile | null)[]> {
    const worker = this.#start();
    if (!worker) return Promise.resolve(paths.map(() => null));
    const ticket = this.#next++;
    const { promise, resolve } = Promise.withResolvers<
      (SmallFile | null)[]
    >();
    this.#tickets.set(ticket, resolve);
    const request: SmallReadRequest = { ticket, rootFd, paths, limit };
    worker.postMessage(request);
    return promise;
  }

  /** Stops the worker; batches under way answer all `null`. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.#broken = true;
    this.#failAll();
  }

  #start(): Worker | null {
    if (this.#worker || this.#broken) return this.#worker;
    try {
      this.#worker = new Worker(
        new URL("./small_file_worker.ts", import.meta.url),
        { type: "module" },
      );
    } catch {
      this.#broken = true;
      return null;
    }
    this.#worker.onmessage = (event: MessageEvent<SmallReadReply>) => {
      const resolve = this.#tickets.get(event.data.ticket);
      this.#tickets.delete(event.data.ticket);
      resolve?.(event.data.files);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.close();
    };
    return this.#worker;
  }

  #failAll(): void {
    for (const resolve of this.#tickets.values()) resolve([]);
    this.#tickets.clear();
  }
}
