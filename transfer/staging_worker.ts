/// <reference lib="deno.worker" />
/**
 * A worker thread that writes small received files and makes them durable,
 * so the kernel's work (creating each file, syncing, renaming) runs beside
 * the main thread's network and hashing work instead of after it. Driven by
 * `StagingWriter` in `durable_batch.ts`.
 *
 * Messages are handled in order: `write` creates a staging file and writes
 * it; `commit` syncs a batch of them concurrently, gives each its mode and
 * modification time, renames it into place, syncs the folders and answers
 * with one error (or `null`) per file. Files are open only while written and
 * while synced, so descriptors are not held while a batch fills.
 *
 * @module
 */

import { dirname } from "@std/path";

/** Creates `path` and writes `chunks` to it. */
export interface WriteRequest {
  type: "write";
  id: number;
  path: string;
  chunks: Uint8Array[];
}

/** One file of a commit. */
export interface CommitFile {
  id: number;
  staged: string;
  target: string;
  mode: number | null;
  mtime: number;
}

/** Makes written files durable and renames them into place. */
export interface CommitRequest {
  type: "commit";
  ticket: number;
  files: CommitFile[];
}

/** A request to the worker. */
export type StagingRequest = WriteRequest | CommitRequest;

/** A failure, as the name of the `Deno.errors` class and its message. */
export interface WorkerError {
  name: string;
  message: string;
}

/** The answer to a commit: one entry per file, `null` when it is in place. */
export interface CommitReply {
  type: "committed";
  ticket: number;
  errors: (WorkerError | null)[];
}

const written = new Set<number>();
const failed = new Map<number, WorkerError>();

function describe(error: unknown): WorkerError {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: "Error", message: String(error) };
}

function write(request: WriteRequest): void {
  try {
    using file = Deno.openSync(request.path, {
      write: true,
      create: true,
      truncate: true,
    });
    for (const chunk of request.chunks) {
      let done = 0;
      while (done < chunk.byteLength) {
        done += file.writeSync(chunk.subarray(done));
      }
    }
    written.add(request.id);
  } catch (error) {
    failed.set(request.id, describe(error));
  }
}

async function commit(request: CommitRequest): Promise<void> {
  const files = request.files.map((entry) => {
    let error = failed.get(entry.id);
    let file: Deno.FsFile | undefined;
    if (!error && written.has(entry.id)) {
      try {
        file = Deno.openSync(entry.staged);
      } catch (reason) {
        error = describe(reason);
      }
    }
    written.delete(entry.id);
    failed.delete(entry.id);
    return { entry, file, error };
  });
  const synced = await Promise.allSettled(
    files.map(({ file, error }) => error ? null : file?.syncData()),
  );
  const folders = new Set<string>();
  const now = new Date();
  const errors = files.map(({ entry, file, error }, i) => {
    try {
      file?.close();
    } catch {
      // Closed already.
    }
    try {
      if (error) throw error;
      if (!file) throw new Error("the file was never written");
      const sync = synced[i];
      if (sync.status === "rejected") throw sync.reason;
      if (entry.mode !== null) Deno.chmodSync(entry.staged, entry.mode & 0o777);
      Deno.utimeSync(entry.staged, now, new Date(entry.mtime));
      Deno.renameSync(entry.staged, entry.target);
      folders.add(dirname(entry.target));
      return null;
    } catch (reason) {
      try {
        Deno.removeSync(entry.staged);
      } catch {
        // Not there.
      }
      return error ?? describe(reason);
    }
  });
  // The renames are durable once their folders are synced.
  await Promise.all([...folders].map(async (folder) => {
    try {
      using handle = await Deno.open(folder);
      await handle.sync();
    } catch {
      // Some file systems cannot sync a folder.
    }
  }));
  const reply: CommitReply = {
    type: "committed",
    ticket: request.ticket,
    errors,
  };
  self.postMessage(reply);
}

self.onmessage = (event: MessageEvent<StagingRequest>) => {
  const request = event.data;
  if (request.type === "write") write(request);
  else void commit(request);
};
