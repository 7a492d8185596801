/// <reference lib="deno.worker" />
/**
 * A worker thread that writes small received files and makes them durable,
 * so the kernel's work (creating each file, syncing, renaming) runs beside
 * the main thread's network and hashing work instead of after it. Driven by
 * `StagingWriter` in `durable_batch.ts`.
 *
 * Messages are handled in order: `write` creates a staging file (never
 * through an existing name or link) and writes it; `drain` answers once
 * every write before it is done (so the main thread can make them durable
 * with one `syncfs`); `commit` runs the shared {@linkcode commitFiles} on a
 * batch and answers with one error (or `null`) per file. Files are open only while written, so descriptors are not held
 * while a batch fills.
 *
 * @module
 */

import { type CommitFile, commitFiles } from "./commit_files.ts";
import { writeHeldFile } from "./held_paths.ts";
import {
  type CommitReply,
  describeWorkerError,
  type WorkerCommitFile,
  type WorkerError,
} from "./worker_error.ts";

/**
 * Creates each of `paths` and writes its bytes to it: file `i` (id `ids[i]`)
 * holds `sizes[i]` bytes of `data`, the files' bytes back to back. Many
 * files go in one message because a message costs far more than a small
 * file's bytes: one per file was a third of the main thread's time.
 */
export interface WriteRequest {
  type: "write";
  ids: number[];
  paths: string[];
  sizes: number[];
  /** Each file's mode (`null`: leave the default) and mtime in ms. */
  modes: (number | null)[];
  mtimes: number[];
  data: ArrayBuffer;
}

/** Makes written files durable and renames them into place. */
export interface CommitRequest {
  type: "commit";
  ticket: number;
  files: WorkerCommitFile[];
  /** The folders holding the targets, synced after the renames. */
  folders: string[];
  /** The files' data is durable already: rename without syncing each. */
  dataDurable: boolean;
}

/** Answers (with no errors) once every write before it is done. */
export interface DrainRequest {
  type: "drain";
  ticket: number;
}

/** A request to the worker. */
export type StagingRequest = WriteRequest | DrainRequest | CommitRequest;

const written = new Set<number>();
const failed = new Map<number, WorkerError>();

/**
 * The process's umask, read where no thread can see it change (`umask(2)`
 * would have to set it to read it); `null` where it cannot be read.
 */
function readUmask(): number | null {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /^Umask:\s*([0-7]+)$/m.exec(status);
    return match ? parseInt(match[1], 8) : null;
  } catch {
    return null;
  }
}
const umask = readUmask();
/** Files whose mode and mtime were set as they were written. */
const described = new Set<number>();

/**
 * Creates and writes each file, giving it its mode (at creation, when the
 * umask leaves it whole) and mtime (through the open file). Done here, the
 * commit needs no `chmod` and `utime` by path: on the server every path
 * goes through `/proc/self/fd/N`, whose lookup doubles each call's cost.
 */
function write(request: WriteRequest): void {
  const data = new Uint8Array(request.data);
  let offset = 0;
  const now = new Date();
  request.ids.forEach((id, i) => {
    const bytes = data.subarray(offset, offset += request.sizes[i]);
    const mode = request.modes[i] === null ? null : request.modes[i]! & 0o777;
    const exact = mode !== null && umask !== null && (mode & umask) === 0;
    const mtime = mode === null || exact ? request.mtimes[i] : null;
    if (
      writeHeldFile(request.paths[i], bytes, exact ? mode : 0o666, mtime)
    ) {
      written.add(id);
      if (mtime !== null) described.add(id);
      return;
    }
    try {
      using file = Deno.openSync(request.paths[i], {
        write: true,
        createNew: true,
        mode: exact ? mode : undefined,
      });
      let done = 0;
      while (done < bytes.byteLength) {
        done += file.writeSync(bytes.subarray(done));
      }
      written.add(id);
      if (mode === null || exact) {
        file.utimeSync(now, new Date(request.mtimes[i]));
        described.add(id);
      }
    } catch (error) {
      failed.set(id, describeWorkerError(error));
    }
  });
}

async function commit(request: CommitRequest): Promise<void> {
  const files = request.files.map((entry): CommitFile => {
    const error = failed.get(entry.id) ??
      (written.has(entry.id)
        ? undefined
        : describeWorkerError(new Error("the file was never written")));
    const done = described.delete(entry.id);
    written.delete(entry.id);
    failed.delete(entry.id);
    return { ...entry, error, described: done };
  });
  const results = await commitFiles(files, request.folders, {
    dataDurable: request.dataDurable,
  });
  const reply: CommitReply = {
    type: "committed",
    ticket: request.ticket,
    errors: results.map((error, i) =>
      error === null
        ? null
        : files[i].error !== undefined
        ? files[i].error as WorkerError
        : describeWorkerError(error)
    ),
  };
  self.postMessage(reply);
}

self.onmessage = (event: MessageEvent<StagingRequest>) => {
  const request = event.data;
  if (request.type === "write") write(request);
  else if (request.type === "drain") {
    // Writes are synchronous, so every one before this message is done.
    const reply: CommitReply = {
      type: "committed",
      ticket: request.ticket,
      errors: [],
    };
    self.postMessage(reply);
  } else void commit(request);
};
