/**
 * The few libc calls the local store needs and Deno does not offer: opening
 * a name relative to a held folder without following a symlink (`openat`
 * with `O_NOFOLLOW`), and renaming without replacing (`renameat2` with
 * `RENAME_NOREPLACE`). The listener's socket calls are
 * `server/net/socket_libc.ts`. Everything else is done through Deno's own file APIs
 * on `/proc/self/fd/N/name` paths, which the kernel resolves from the held
 * folder, not from the folder's current name.
 *
 * Linux only (x86-64 and arm64 share these flag values). The binding itself
 * (`Deno.dlopen`, which needs `--allow-ffi`) is `transfer/libc.ts`, shared
 * with the client; FFI can do anything the process can, so the server runs
 * with `--allow-all` anyway.
 *
 * @module
 */

import { cString, errno, LibcError, loadLibc } from "../../../transfer/libc.ts";

// Opening and closing descriptors is shared with the client (transfer/libc.ts).
export * from "../../../transfer/libc.ts";

/** `errno` values the core tells apart. */
export const ENOENT = 2;
/** Permission denied. */
export const EACCES = 13;
/** Exists. */
export const EEXIST = 17;
/** Not a folder (also what `O_DIRECTORY|O_NOFOLLOW` gives for a symlink). */
export const ENOTDIR = 20;
/** Too many open files. */
export const EMFILE = 24;
/** Read-only file system. */
export const EROFS = 30;
/** Name too long. */
export const ENAMETOOLONG = 36;
/** Too many symlinks (what `O_NOFOLLOW` gives for a symlink). */
export const ELOOP = 40;
/** `renameat2` is not supported by this file system. */
export const EINVAL = 22;
/** Operation not permitted. */
export const EPERM = 1;
/** Is a folder. */
export const EISDIR = 21;
/** No space left on the device. */
export const ENOSPC = 28;

/** The names of the `errno` values above, as Deno's errors carry them in `code`. */
const ERRNO_NAMES: Record<number, string> = {
  [ENOENT]: "ENOENT",
  [EACCES]: "EACCES",
  [EPERM]: "EPERM",
  [EEXIST]: "EEXIST",
  [ENOTDIR]: "ENOTDIR",
  [EISDIR]: "EISDIR",
  [EMFILE]: "EMFILE",
  [ENOSPC]: "ENOSPC",
  [EROFS]: "EROFS",
  [ENAMETOOLONG]: "ENAMETOOLONG",
  [ELOOP]: "ELOOP",
  [EINVAL]: "EINVAL",
};

/** The name of `errno` (`ENOENT`), or `errno N` for one not named here. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

const RENAME_NOREPLACE = 1;

/**
 * Renames `fromDir/from` to `toDir/to`, failing with `EEXIST` instead of
 * replacing an existing `to`. Throws {@linkcode LibcError}; `EINVAL` means
 * the file system cannot do it.
 */
export function renameNoReplace(
  fromDir: number,
  from: string,
  toDir: number,
  to: string,
): void {
  const lib = loadLibc()!;
  const result = lib.renameat2(
    fromDir,
    cString(from),
    toDir,
    cString(to),
    RENAME_NOREPLACE,
  );
  if (result < 0) throw new LibcError("renameat2", errno(lib));
}

/**
 * `statvfs(path)`: the bytes an unprivileged user may still write on the
 * file system holding `path`, and its size (struct statvfs of glibc on
 * x86-64 and arm64: f_frsize at 8, f_blocks at 16, f_bavail at 32). Throws
 * {@linkcode LibcError}.
 */
export function fileSystemSpace(path: string): { free: number; total: number } {
  const lib = loadLibc()!;
  const buffer = new Uint8Array(112);
  if (lib.statvfs(cString(path), buffer) < 0) {
    throw new LibcError("statvfs", errno(lib));
  }
  const view = new DataView(buffer.buffer);
  const unit = Number(view.getBigUint64(8, true));
  return {
    free: Number(view.getBigUint64(32, true)) * unit,
    total: Number(view.getBigUint64(16, true)) * unit,
  };
}

/** `read(fd, buffer)`: bytes read (0 at the end). Throws {@linkcode LibcError}. */
export function readFd(fd: number, buffer: Uint8Array<ArrayBuffer>): number {
  const lib = loadLibc()!;
  const n = Number(lib.read(fd, buffer, BigInt(buffer.byteLength)));
  if (n < 0) throw new LibcError("read", errno(lib));
  return n;
}
