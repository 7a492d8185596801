/**
 * The one binding of libc through `Deno.dlopen`, shared by both ends: the
 * symbol table, its loading, and the helpers every call needs (C strings,
 * `errno`, {@linkcode LibcError}). The server's storage core and listener
 * wrap most of these calls (`server/libc.ts`); the tree receivers of both
 * ends use `syncfs` (`file_system_sync.ts`). One table, so libc is opened
 * once per thread whichever end asks first.
 *
 * Linux only (x86-64 and arm64). `Deno.dlopen` needs `--allow-ffi`; without
 * it {@linkcode loadLibc} answers `null` and every caller has a fallback.
 *
 * @module
 */

/** `open` flags (Linux, x86-64 and arm64). */
export const O_RDONLY = 0;
/** Open for reading and writing. */
export const O_RDWR = 0o2;
/** Create the file if missing. */
export const O_CREAT = 0o100;
/** With `O_CREAT`: fail if it exists (never follows a symlink). */
export const O_EXCL = 0o200;
/** Do not wait (a FIFO's open would wait for a writer). */
export const O_NONBLOCK = 0o4000;
/** Fail unless the name is a folder. */
export const O_DIRECTORY = 0o200000;
/** Fail if the last component is a symlink. */
export const O_NOFOLLOW = 0o400000;
/** Open for writing only. */
export const O_WRONLY = 0o1;
/** Close on exec, so a spawned process never inherits a held folder. */
export const O_CLOEXEC = 0o2000000;

const SYMBOLS = {
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  renameat2: {
    parameters: ["i32", "buffer", "i32", "buffer", "u32"],
    result: "i32",
  },
  read: {
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
  },
  // A staged tree file's bytes and times (transfer/durable/held_paths.ts).
  write: {
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
  },
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  fstatat: {
    parameters: ["i32", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // Reads a folder's entries from a held descriptor (transfer/folder_stats.ts).
  getdents64: {
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
  },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  dup: { parameters: ["i32"], result: "i32" },
  // The zero-copy send (server/net/sendfile_body.ts): the socket is
  // nonblocking (Deno's reactor owns it), so these never wait.
  sendfile: {
    parameters: ["i32", "i32", "buffer", "usize"],
    result: "isize",
  },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  // Waits for a full socket to drain, on a thread of Deno's pool.
  poll: {
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
  // Nonblocking: it waits for the disk, on a thread of Deno's pool instead
  // of the caller's (its errno is that thread's, so only the result counts).
  syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
} as const;

/** The bound functions. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null | undefined;
const encoder = new TextEncoder();

/**
 * Whether libc is reachable by FFI here (Linux, `--allow-ffi`, glibc): the
 * server's race-free core and the file-system syncs of tree batches need it.
 */
export function haveLibc(): boolean {
  return loadLibc() !== null;
}

/** The bound functions, loaded on first use; `null` where FFI cannot reach libc. */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    libc = null; // no --allow-ffi, or no glibc: callers fall back
  }
  return libc;
}

/** `text` as a NUL-terminated C string. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The calling thread's `errno` (after a failed blocking call). */
export function errno(lib: Libc): number {
  const pointer = lib.__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/** A failed libc call: `errno` and the call's name. */
export class LibcError extends Error {
  /** The `errno` value. */
  readonly errno: number;
  constructor(call: string, code: number) {
    super(`${call} failed (errno ${code})`);
    this.name = "LibcError";
    this.errno = code;
  }
}

/**
 * `openat(dir, name, flags, mode)`: a new descriptor, or throws a
 * {@linkcode LibcError}. `O_CLOEXEC` is always added.
 */
export function openAt(
  dir: number,
  name: string,
  flags: number,
  mode = 0o600,
): number {
  const lib = loadLibc()!;
  const fd = lib.openat(dir, cString(name), flags | O_CLOEXEC, mode);
  if (fd < 0) throw new LibcError("openat", errno(lib));
  return fd;
}

/** Opens a folder by absolute host path (the served root, once). */
export function openFolderPath(path: string): number {
  return openAt(-100, /* AT_FDCWD */ path, O_RDONLY | O_DIRECTORY);
}

/** Closes a descriptor opened here. */
export function closeFd(fd: number): void {
  loadLibc()!.close(fd);
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
  const stat = { mode: 0, size: 0, mtimeMs: 0 };
  return name === ""
    ? statWith(dir, EMPTY, AT_EMPTY_PATH, stat)
    : statWith(dir, cString(name), AT_SYMLINK_NOFOLLOW, stat);
}

/**
 * {@linkcode statAt} of a name given as NUL-terminated bytes (a folder
 * listing's, used in place without decoding and encoding it again), into
 * `stat` (a walk reuses one object for every entry). Throws
 * {@linkcode LibcError}.
 */
export function statAtBytes(
  dir: number,
  name: Uint8Array,
  stat: RawStat,
): RawStat {
  return statWith(dir, name, AT_SYMLINK_NOFOLLOW, stat);
}

const TWO_32 = 2 ** 32;

function statWith(
  dir: number,
  name: Uint8Array,
  flags: number,
  stat: RawStat,
): RawStat {
  const lib = loadLibc()!;
  if (lib.fstatat(dir, name, statBuffer, flags) < 0) {
    throw new LibcError("fstatat", errno(lib));
  }
  // 64-bit fields read as two halves: no BigInt per call.
  const seconds = statView.getInt32(92, true) * TWO_32 +
    statView.getUint32(88, true);
  stat.mode = statView.getUint32(MODE_OFFSET, true);
  stat.size = statView.getInt32(52, true) * TWO_32 +
    statView.getUint32(48, true);
  stat.mtimeMs = seconds * 1000 +
    Math.floor(statView.getUint32(96, true) / 1e6);
  return stat;
}
