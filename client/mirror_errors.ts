/**
 * The ways a mirror's deletion step refuses to run, one class each.
 *
 * @module
 */

import { FtsError, ProtocolError } from "../protocol/mod.ts";

/**
 * Part of the source could not be read (or sent): the target is not
 * trimmed at all this run, as rsync does ("IO error encountered --
 * skipping file deletion").
 */
export class DeletionSkippedError extends FtsError {}

/** More entries would go than `--max-delete` allows; none went. */
export class TooManyDeletionsError extends FtsError {}

/** The source is empty or missing: emptying the target needs `--force`. */
export class EmptySourceError extends FtsError {}

/** The server is too old for a request (a feature it does not announce). */
export class UnsupportedByServerError extends ProtocolError {}
