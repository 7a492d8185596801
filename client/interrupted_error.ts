/**
 * The error of a command stopped by Ctrl-C: one line, and exit status 130
 * as shells give a program ended by SIGINT.
 *
 * @module
 */

import { FtsError } from "../protocol/mod.ts";

/** A command was stopped by Ctrl-C. */
export class InterruptedError extends FtsError {
  /** What fts exits with: 128 + SIGINT. */
  readonly exitCode = 130;
}
