/**
 * The one place on the server where a file-system failure becomes a typed
 * fts error: the kind comes from the vocabulary both ends share
 * (`transfer/os_errors.ts`), the reason names the remote path the user
 * asked about, never a host path: the OS's own message (which carries the
 * host path) is never passed on.
 *
 * @module
 */

import { FtsError } from "../../protocol/errors.ts";
import { type OsFailure, typedOsError } from "../../transfer/os_errors.ts";

/** The server's words for each failure about `shown` (a quoted remote path). */
function reasonOf(failure: OsFailure, shown: string): string {
  switch (failure) {
    case "not_found":
      return "no such file or folder on the server";
    case "exists":
      return `${shown} already exists on the server`;
    case "not_a_folder":
      return `a part of ${shown} is not a folder`;
    case "is_a_folder":
      return `${shown} is a folder`;
    case "permission":
      return `the server's file system does not allow access to ${shown}`;
    case "disk_full":
      return "the server's disk is full";
    case "read_only":
      return "the server's disk is read-only";
    case "not_empty":
      return `the folder ${shown} is not empty`;
    case "name_too_long":
      return `the name ${shown} is too long`;
    case "symlink_loop":
      return `${shown} has too many symlinks`;
    case "too_many_open":
      return "the server has too many files open; try again";
    case "cross_device":
      return `${shown} is on another file system`;
    case "unknown":
      return `the server could not access ${shown}`;
  }
}

/**
 * Maps a file-system error about remote `path` to a typed error. An
 * {@linkcode FtsError} passes through unchanged.
 */
export function fsError(error: unknown, path: string): FtsError {
  if (error instanceof FtsError) return error;
  const shown = `"${path || "."}"`;
  return typedOsError(error, (failure) => reasonOf(failure, shown));
}
