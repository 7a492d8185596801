/**
 * The few libc calls the server needs and Deno does not offer: for the
 * storage core, opening a name relative to a held folder without following a
 * symlink (`openat` with `O_NOFOLLOW`), and renaming without replacing
 * (`renameat2` with `RENAME_NOREPLACE`); for the listener, finding a
 * connection's socket by its addresses and shutting it down (see
 * `socket_release.ts`). Everything else is done through Deno's own file APIs
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

import { cString, errno, LibcError, loadLibc } from "../transfer/libc.ts";

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
} from "../transfer/libc.ts";

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

/** `read(fd, buffer)`: bytes read (0 at the end). Throws {@linkcode LibcError}. */
export function readFd(fd: number, buffer: Uint8Array<ArrayBuffer>): number {
  const lib = loadLibc()!;
  const n = Number(lib.read(fd, buffer, BigInt(buffer.byteLength)));
  if (n < 0) throw new LibcError("read", errno(lib));
  return n;
}

/** `shutdown(fd, SHUT_RDWR)`. Throws {@linkcode LibcError}. */
export function shutdownSocket(fd: number): void {
  const lib = loadLibc()!;
  if (lib.shutdown(fd, 2 /* SHUT_RDWR */) < 0) {
    throw new LibcError("shutdown", errno(lib));
  }
}

/** An IPv4 or IPv6 socket address; IPv4 in its IPv4-mapped IPv6 form. */
export interface InetAddress {
  /** 16 bytes. */
  address: Uint8Array;
  port: number;
}

const AF_INET = 2;
const AF_INET6 = 10;
const addressBuffer = new Uint8Array(128);
const addressLength = new Uint32Array(1);
const addressLengthBytes = new Uint8Array(addressLength.buffer);

/**
 * The local (`getsockname`) or peer (`getpeername`) address of descriptor
 * `fd`, or null when it is no connected IPv4 or IPv6 socket.
 */
export function socketAddress(
  fd: number,
  side: "local" | "peer",
): InetAddress | null {
  const lib = loadLibc()!;
  addressLength[0] = addressBuffer.byteLength;
  const call = side === "local" ? lib.getsockname : lib.getpeername;
  if (call(fd, addressBuffer, addressLengthBytes) < 0) return null;
  const family = addressBuffer[0] | (addressBuffer[1] << 8);
  const port = (addressBuffer[2] << 8) | addressBuffer[3];
  const address = new Uint8Array(16);
  if (family === AF_INET) {
    address[10] = address[11] = 0xff;
    address.set(addressBuffer.subarray(4, 8), 12);
  } else if (family === AF_INET6) {
    address.set(addressBuffer.subarray(8, 24));
  } else return null;
  return { address, port };
}

/**
 * The soft limit on open descriptors (`getrlimit(RLIMIT_NOFILE)`): every
 * descriptor number is below it. Throws {@linkcode LibcError}.
 */
export function descriptorLimit(): number {
  const lib = loadLibc()!;
  const limits = new BigUint64Array(2);
  if (lib.getrlimit(7, /* RLIMIT_NOFILE */ new Uint8Array(limits.buffer)) < 0) {
    throw new LibcError("getrlimit", errno(lib));
  }
  return Number(limits[0]);
}

const tcpInfo = new Uint8Array(256);
const tcpInfoView = new DataView(tcpInfo.buffer);
const tcpInfoLength = new Uint32Array(1);
// struct tcp_info (linux/tcp.h): tcpi_bytes_received is the u64 at 128,
// there since Linux 4.1.
const BYTES_RECEIVED_OFFSET = 128;

/**
 * How many bytes the peer of TCP socket `fd` has sent so far
 * (`getsockopt(TCP_INFO)`), or null when `fd` is no TCP socket or the
 * kernel does not say.
 */
export function tcpBytesReceived(fd: number): number | null {
  const lib = loadLibc()!;
  tcpInfoLength[0] = tcpInfo.byteLength;
  const result = lib.getsockopt(
    fd,
    6, /* IPPROTO_TCP */
    11, /* TCP_INFO */
    tcpInfo,
    new Uint8Array(tcpInfoLength.buffer),
  );
  if (result < 0 || tcpInfoLength[0] < BYTES_RECEIVED_OFFSET + 8) return null;
  return Number(tcpInfoView.getBigUint64(BYTES_RECEIVED_OFFSET, true));
}
