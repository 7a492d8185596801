/**
 * One vocabulary for what an OS file-system error means, shared by both
 * ends: the server's storage core (`server/storage/fs_errors.ts`) and the
 * client's local files (`client/local_errors.ts`) name the same failure with
 * the same typed error class, so a permission error is a `PermissionError`
 * wherever it happens. Each end words the reason itself (the server names
 * remote paths, the client says "local"); the OS's own message, which names
 * host paths, is never passed on.
 *
 * @module
 */

import {
  AlreadyExistsError,
  DiskFullError,
  type FtsError,
  type FtsErrorOptions,
  InvalidPathError,
  IoError,
  NotFoundError,
  PermissionError,
  ReadOnlyError,
  WrongTypeError,
} from "../protocol/errors.ts";

/** What an OS file-system error means, as fts tells failures apart. */
export type OsFailure =
  | "not_found"
  | "exists"
  | "not_a_folder"
  | "is_a_folder"
  | "permission"
  | "disk_full"
  | "read_only"
  | "not_empty"
  | "name_too_long"
  | "symlink_loop"
  | "too_many_open"
  | "cross_device"
  | "unknown";

/** The errno-style code of an OS error (`ENOSPC`), when it has one. */
export function osErrorCode(error: unknown): string | undefined {
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

/** The errno codes each failure stands for. */
const CODES: Record<string, OsFailure> = {
  ENOENT: "not_found",
  EEXIST: "exists",
  ENOTDIR: "not_a_folder",
  EISDIR: "is_a_folder",
  EACCES: "permission",
  EPERM: "permission",
  ENOSPC: "disk_full",
  EDQUOT: "disk_full",
  EROFS: "read_only",
  ENOTEMPTY: "not_empty",
  ENAMETOOLONG: "name_too_long",
  ELOOP: "symlink_loop",
  EMFILE: "too_many_open",
  ENFILE: "too_many_open",
  EXDEV: "cross_device",
};

/** What `error` (a `Deno.errors` class or an error with an errno code) means. */
export function osFailure(error: unknown): OsFailure {
  if (error instanceof Deno.errors.NotFound) return "not_found";
  if (error instanceof Deno.errors.AlreadyExists) return "exists";
  if (error instanceof Deno.errors.NotADirectory) return "not_a_folder";
  if (error instanceof Deno.errors.IsADirectory) return "is_a_folder";
  if (error instanceof Deno.errors.PermissionDenied) return "permission";
  const code = osErrorCode(error);
  return (code !== undefined && CODES[code]) || "unknown";
}

/** The typed error class of each failure, the same on both ends. */
const CLASSES: Record<
  OsFailure,
  new (reason: string, options?: FtsErrorOptions) => FtsError
> = {
  not_found: NotFoundError,
  exists: AlreadyExistsError,
  not_a_folder: WrongTypeError,
  is_a_folder: WrongTypeError,
  permission: PermissionError,
  disk_full: DiskFullError,
  read_only: ReadOnlyError,
  not_empty: WrongTypeError,
  name_too_long: InvalidPathError,
  symlink_loop: InvalidPathError,
  too_many_open: IoError,
  cross_device: IoError,
  unknown: IoError,
};

/**
 * The typed error for OS error `error`, worded by `reason` (one end's
 * words for each failure); an unknown failure keeps `error` as its cause.
 */
export function typedOsError(
  error: unknown,
  reason: (failure: OsFailure, code: string | undefined) => string,
  options: FtsErrorOptions = {},
): FtsError {
  const failure = osFailure(error);
  const Class = CLASSES[failure];
  return new Class(
    reason(failure, osErrorCode(error)),
    failure === "unknown" ? { ...options, cause: error } : options,
  );
}
