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

import type { Entry } from "../../../protocol/messages.ts";
import type { SmallFile } from "../store.ts";

export type { SmallFile };

/** A batch for the worker: remote segments per file or folder. */
export interface SmallReadRequest {
  ticket: number;
  rootFd: number;
  /** Read files, or list folders. */
  op: "read" | "list";
  paths: string[][];
  limit: number;
}

/** The worker's answer: one result or `null` per path, in order. */
export interface SmallReadReply {
  ticket: number;
  files?: (SmallFile | null)[];
  lists?: (Entry[] | null)[];
}

/** The main thread's side of the small-file worker. */
export class SmallFileReader {
  #worker: Worker | null = null;
  #broken = false;
  #tickets = new Map<number, (reply: SmallReadReply | null) => void>();
  #next = 1;

  /**
   * Reads the files at `paths` (normalised segments under the root held as
   * `rootFd`), each of at most `limit` bytes. Resolves with `null` for a
   * file the worker leaves to the caller, and all `null` when no worker can
   * run here.
   */
  async read(
    rootFd: number,
    paths: string[][],
    limit: number,
  ): Promise<(SmallFile | null)[]> {
    const reply = await this.#ask({
      ticket: 0,
      rootFd,
      op: "read",
      paths,
      limit,
    });
    return paths.map((_, i) => reply?.files?.[i] ?? null);
  }

  /**
   * Lists the folders at `paths`: sorted entries, `.fts` left out at the
   * root, or `null` for a folder left to the caller.
   */
  async list(rootFd: number, paths: string[][]): Promise<(Entry[] | null)[]> {
    const reply = await this.#ask({
      ticket: 0,
      rootFd,
      op: "list",
      paths,
      limit: 0,
    });
    return paths.map((_, i) => reply?.lists?.[i] ?? null);
  }

  #ask(request: SmallReadRequest): Promise<SmallReadReply | null> {
    const worker = this.#start();
    if (!worker) return Promise.resolve(null);
    const ticket = this.#next++;
    const { promise, resolve } = Promise.withResolvers<SmallReadReply | null>();
    this.#tickets.set(ticket, resolve);
    worker.postMessage({ ...request, ticket });
    return promise;
  }

  /** Starts the worker now rather than at the first batch. */
  start(): void {
    this.#start();
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
      resolve?.(event.data);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.close();
    };
    return this.#worker;
  }

  #failAll(): void {
    for (const resolve of this.#tickets.values()) resolve(null);
    this.#tickets.clear();
  }
}
