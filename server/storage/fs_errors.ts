/**
 * The one place where a file-system failure becomes a typed fts error. The
 * reason names the remote path the user asked about, never a host path: the
 * OS's own message (which carries the host path) is never passed on.
 *
 * @module
 */

import {
  AlreadyExistsError,
  DiskFullError,
  FtsError,
  InvalidPathError,
  IoError,
  NotFoundError,
  PermissionError,
  ReadOnlyError,
  WrongTypeError,
} from "../../protocol/errors.ts";

/** The errno-style code of an OS error (`ENOSPC`), when it has one. */
function codeOf(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  if (error instanceof Error) {
    return /\(os error (\d+)\)/.exec(error.message)?.[1] === "28"
      ? "ENOSPC"
      : undefined;
  }
  return undefined;
}

/**
 * Maps a file-system error about remote `path` to a typed error. An
 * {@linkcode FtsError} passes through unchanged.
 */
export function fsError(error: unknown, path: string): FtsError {
  if (error instanceof FtsError) return error;
  const shown = `"${path || "."}"`;
  if (error instanceof Deno.errors.NotFound) {
    return new NotFoundError("no such file or folder on the server");
  }
  if (error instanceof Deno.errors.AlreadyExists) {
    return new AlreadyExistsError(`${shown} already exists on the server`);
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new WrongTypeError(`a part of ${shown} is not a folder`);
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new WrongTypeError(`${shown} is a folder`);
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new PermissionError(
      `the server's file system does not allow access to ${shown}`,
    );
  }
  switch (codeOf(error)) {
    case "ENOSPC":
    case "EDQUOT":
      return new DiskFullError("the server's disk is full");
    case "EROFS":
      return new ReadOnlyError("the server's disk is read-only");
    case "ENOTEMPTY":
      return new WrongTypeError(`the folder ${shown} is not empty`);
    case "ENAMETOOLONG":
      return new InvalidPathError(`the name ${shown} is too long`);
    case "ELOOP":
      return new InvalidPathError(`${shown} has too many symlinks`);
    case "EMFILE":
    case "ENFILE":
      return new IoError("the server has too many files open; try again");
    case "EXDEV":
      return new IoError(`${shown} is on another file system`);
  }
  return new IoError(`the server could not access ${shown}`, {
    cause: error,
  });
}
