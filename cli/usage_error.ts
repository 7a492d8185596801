/**
 * The error for a command line that does not fit a command's usage.
 *
 * @module
 */

/** A command was called with the wrong arguments; exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
