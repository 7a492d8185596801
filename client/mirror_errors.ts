/**
 * The ways a mirror's deletion step refuses to run, one class each, with
 * the exit status each gives (rsync's where rsync has one: 23 for "some
 * files could not be transferred / IO error, deletion skipped", 25 for
 * "the --max-delete limit stopped deletions").
 *
 * @module
 */

import { FtsError, ProtocolError } from "../protocol/mod.ts";

/**
 * Part of the source could not be read (or sent): the target is not
 * trimmed at all this run, as rsync does ("IO error encountered --
 * skipping file deletion"). Exit status 23, as rsync's.
 */
export class DeletionSkippedError extends FtsError {
  /** What fts exits with: rsync's 23 (partial transfer, IO error). */
  readonly exitCode = 23;
}

/**
 * More entries would go than `--max-delete` allows; none went. Exit
 * status 25, as rsync's.
 */
export class TooManyDeletionsError extends FtsError {
  /** What fts exits with: rsync's 25 (--max-delete stopped deletions). */
  readonly exitCode = 25;
}

/**
 * The source is empty or missing: emptying the target needs `--force`.
 * Exit status 25 too: a safety limit stopped the deletions.
 */
export class EmptySourceError extends FtsError {
  /** What fts exits with: 25, a safety limit stopped the deletions. */
  readonly exitCode = 25;
}

/**
 * The folder a live mirror follows is gone (or no folder any more): the
 * run ends, and nothing is deleted for it.
 */
export class SourceVanishedError extends FtsError {}

/** The server is too old for a request (a feature it does not announce). */
export class UnsupportedByServerError extends ProtocolError {}
