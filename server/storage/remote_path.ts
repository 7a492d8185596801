/**
 * Remote paths as every front-end receives them, made safe to hand to a
 * {@linkcode Store}: split into segments, `.` dropped, `..` applied without
 * ever climbing above the root, and the malformed or reserved refused.
 *
 * This is only the lexical half of confinement; the other half (symlinks,
 * races) lives inside each store operation.
 *
 * @module
 */

import { InvalidPathError } from "../../protocol/errors.ts";

/** Name of the hidden folder under the root where fts keeps its own files. */
export const STAGING_DIR = ".fts";

/**
 * The normalised segments of a remote path (empty for the root).
 *
 * @throws {InvalidPathError} for NUL bytes, backslashes, absolute paths, a
 * `..` that climbs out, and paths into the reserved `.fts` folder.
 */
export function remoteSegments(path: string): string[] {
  if (path.includes("\0")) {
    throw new InvalidPathError("the path contains a NUL byte");
  }
  if (path.includes("\\")) {
    throw new InvalidPathError("the path contains a backslash");
  }
  if (path.startsWith("/")) {
    throw new InvalidPathError("absolute paths are not allowed");
  }
  const stack: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (stack.length === 0) {
        throw new InvalidPathError("the path leads outside the served folder");
      }
      stack.pop();
    } else {
      stack.push(segment);
    }
  }
  if (stack[0]?.toLowerCase() === STAGING_DIR) {
    throw new InvalidPathError(`"${STAGING_DIR}" is reserved for fts`);
  }
  return stack;
}

/**
 * The one reason given, on every front-end, for a name no listing could
 * show: WebDAV's XML cannot carry control characters at all, and a name
 * that is not UTF-8 is not the name the client meant.
 */
export const UNSHOWABLE_NAME =
  "names may not contain control characters or invalid UTF-8";

/**
 * Refuses a path with control characters (below 0x20, and 0x7F) or lone
 * surrogates (what invalid UTF-8 becomes once decoded, e.g. a JSON `\ud800`).
 *
 * @throws {InvalidPathError} with {@linkcode UNSHOWABLE_NAME}.
 */
export function checkShowable(path: string): void {
  // deno-lint-ignore no-control-regex -- control characters are the point
  if (/[\u0000-\u001f\u007f]/.test(path) || !path.isWellFormed()) {
    throw new InvalidPathError(UNSHOWABLE_NAME);
  }
}

/** The normalised form of a remote path (`""` for the root). */
export function normalizePath(path: string): string {
  return remoteSegments(path).join("/");
}

/**
 * The segments of a path a store is about to create (an upload's target, a
 * new folder, the target of a move or copy): {@linkcode remoteSegments}
 * and {@linkcode checkShowable}. Every store calls it there, so every
 * front-end refuses such names, while files that already carry one can
 * still be listed, fetched, renamed and removed.
 *
 * @throws {InvalidPathError} as both do.
 */
export function newNameSegments(path: string): string[] {
  const segments = remoteSegments(path);
  checkShowable(path);
  return segments;
}
