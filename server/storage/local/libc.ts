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
export {
  closeFd,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  openAt,
  openFolderPath,
} from "../../../transfer/libc.ts";

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

/** What {@linkcode statAt} tells of a file: the fields fts uses. */
export interface RawStat {
  /** `S_IFMT` bits and permission bits. */
  mode: number;
  size: number;
  /** Modification time in milliseconds since the epoch. */
  mtimeMs: number;
}

/** `S_IFMT` of a regular file and of a folder. */
export const S_IFMT = 0o170000;
/** A regular file. */
export const S_IFREG = 0o100000;
/** A folder. */
export const S_IFDIR = 0o040000;
/** A symlink. */
export const S_IFLNK = 0o120000;

const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const EMPTY = new Uint8Array(1);
// struct stat: size at 48 and mtime at 88 on x86-64 and arm64 alike; mode
// at 24 on x86-64 and at 16 on arm64 (the generic layout).
const MODE_OFFSET = Deno.build.arch === "aarch64" ? 16 : 24;
const statBuffer = new Uint8Array(256);
const statView = new DataView(statBuffer.buffer);

/**
 * `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`, or `fstat(dir)` when `name` is
 * empty: the fields fts needs, without a round trip through Deno's ops.
 * Throws {@linkcode LibcError}.
 */
export function statAt(dir: number, name: string): RawStat {
  const lib = loadLibc()!;
  const result = name === ""
    ? lib.fstatat(dir, EMPTY, statBuffer, AT_EMPTY_PATH)
    : lib.fstatat(dir, cString(name), statBuffer, AT_SYMLINK_NOFOLLOW);
  if (result < 0) throw new LibcError("fstatat", errno(lib));
  const seconds = Number(statView.getBigInt64(88, true));
  const nanos = Number(statView.getBigInt64(96, true));
  return {
    mode: statView.getUint32(MODE_OFFSET, true),
    size: Number(statView.getBigInt64(48, true)),
    mtimeMs: seconds * 1000 + Math.floor(nanos / 1e6),
  };
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
