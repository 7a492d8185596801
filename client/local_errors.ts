/**
 * The one place on the client where a failure of a local file becomes a
 * typed fts error: the kind comes from the vocabulary both ends share
 * (`transfer/os_errors.ts`), so a permission error here is the same
 * `PermissionError` the server reports; the reason says "local" and never
 * repeats the OS's message (which names host paths).
 *
 * @module
 */

import { type ErrorCode, FtsError } from "../protocol/errors.ts";
import { type OsFailure, typedOsError } from "../transfer/os_errors.ts";

/** The client's words for each failure of a local file. */
function reasonOf(failure: OsFailure, code: string | undefined): string {
  switch (failure) {
    case "not_found":
      return "no such local file";
    case "exists":
      return "it already exists";
    case "not_a_folder":
      return "a part of the path is not a folder";
    case "is_a_folder":
      return "it is a folder";
    case "permission":
      return "permission denied";
    case "disk_full":
      return "the local disk is full";
    case "read_only":
      return "the local disk is read-only";
    case "not_empty":
      return "the local folder is not empty";
    case "name_too_long":
      return "the local name is too long";
    case "symlink_loop":
      return "too many local symlinks";
    case "too_many_open":
      return "too many local files are open";
    case "cross_device":
      return "it is on another local file system";
    case "unknown":
      return `local error ${code ?? "of an unknown kind"}`;
  }
}

/**
 * Maps an error about a local file to a typed error naming `action`. An
 * {@linkcode FtsError} keeps its kind and reason.
 */
export function localError(error: unknown, action: string): FtsError {
  if (error instanceof FtsError) return error.withAction(action);
  return typedOsError(error, reasonOf, { action });
}

/** The code and short reason of a local error, for a tree's report. */
export function localReason(
  error: unknown,
): { code: ErrorCode; reason: string } {
  const typed = error instanceof FtsError
    ? error
    : typedOsError(error, reasonOf);
  return { code: typed.code, reason: typed.reason };
}
