/**
 * What crosses between the staging workers and the main thread: a commit's
 * files by id, and failures as plain data (errors do not survive
 * `postMessage` with their class).
 *
 * @module
 */

import type { CommitFile } from "./commit_files.ts";

/** One file of a commit, by the id its write was given. */
export interface WorkerCommitFile extends CommitFile {
  id: number;
}

/** A failure, as the name of the `Deno.errors` class and its message. */
export interface WorkerError {
  name: string;
  message: string;
  /** The OS error code (`ENOSPC`), when there was one. */
  code?: string;
}

/** The answer to a commit: one entry per file, `null` when it is in place. */
export interface CommitReply {
  type: "committed";
  ticket: number;
  errors: (WorkerError | null)[];
}

/** A thrown value as a {@linkcode WorkerError}. */
export function describeWorkerError(error: unknown): WorkerError {
  if (!(error instanceof Error)) {
    return { name: "Error", message: String(error) };
  }
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: error.message,
    code: typeof code === "string" ? code : undefined,
  };
}
