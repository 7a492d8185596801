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
  type ErrorCode,
  errorOfCode,
  type FtsError,
  type FtsErrorOptions,
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

/**
 * Each failure: the kind of typed error it is reported as (the same on both
 * ends), and the errno codes that stand for it.
 */
const FAILURES: readonly (readonly [OsFailure, ErrorCode, ...string[]])[] = [
  ["not_found", "not_found", "ENOENT"],
  ["exists", "exists", "EEXIST"],
  ["not_a_folder", "wrong_type", "ENOTDIR"],
  ["is_a_folder", "wrong_type", "EISDIR"],
  ["permission", "permission", "EACCES", "EPERM"],
  ["disk_full", "no_space", "ENOSPC", "EDQUOT"],
  ["read_only", "read_only", "EROFS"],
  ["not_empty", "wrong_type", "ENOTEMPTY"],
  ["name_too_long", "invalid_path", "ENAMETOOLONG"],
  ["symlink_loop", "invalid_path", "ELOOP"],
  ["too_many_open", "io", "EMFILE", "ENFILE"],
  ["cross_device", "io", "EXDEV"],
  ["unknown", "io"],
];

/** What `error` (a `Deno.errors` class or an error with an errno code) means. */
export function osFailure(error: unknown): OsFailure {
  if (error instanceof Deno.errors.NotFound) return "not_found";
  if (error instanceof Deno.errors.AlreadyExists) return "exists";
  if (error instanceof Deno.errors.NotADirectory) return "not_a_folder";
  if (error instanceof Deno.errors.IsADirectory) return "is_a_folder";
  if (error instanceof Deno.errors.PermissionDenied) return "permission";
  const code = osErrorCode(error);
  const found = FAILURES.find(([, , ...codes]) => codes.includes(code ?? ""));
  return found?.[0] ?? "unknown";
}

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
  const kind = FAILURES.find(([name]) => name === failure)?.[1] ?? "io";
  return errorOfCode(
    kind,
    reason(failure, osErrorCode(error)),
    failure === "unknown" ? { ...options, cause: error } : options,
  );
}
