/**
 * The staging workers' shortcut for paths of held folders: the server names
 * a file in a folder it holds open as `/proc/self/fd/N/name`, and every
 * call on such a path makes the kernel look up `/proc/self/fd/N` first,
 * which costs about as much as the call itself (per file of a 100,000-file
 * `put -r`: create, write, set the time, rename). Here the same steps go
 * straight to descriptor N with `openat`, `write`, `futimens` and
 * `renameat`. The descriptors stay held by the main thread until the batch
 * that uses them is committed, and descriptors belong to the process, so a
 * worker may use them.
 *
 * Anything else (a plain path, as the client's `get -r` stages, no libc, or
 * a call that fails) answers `false`, and the caller does the step with
 * Deno's calls, which also word any error.
 *
 * @module
 */

import {
  closeFd,
  cString,
  loadLibc,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_WRONLY,
  openAt,
} from "../libc.ts";

const HELD = /^\/proc\/self\/fd\/(\d+)\/([^/]+)$/;

/** Descriptor and name of a path in a held folder, or null. */
function held(path: string): { dir: number; name: string } | null {
  const match = HELD.exec(path);
  return match ? { dir: Number(match[1]), name: match[2] } : null;
}

/** `tv_nsec` that tells `futimens` to set the current time. */
const UTIME_NOW = (1 << 30) - 1;
const times = new BigInt64Array(4);

/**
 * Creates `path` (never through an existing name), writes `bytes`, and,
 * when `mtime` is given, sets it (and the access time to now) through the
 * open file. `mode` is the creation mode (the umask applies).
 *
 * @returns false when nothing was created, or what was is removed again:
 * the caller then does it with Deno's calls.
 */
export function writeHeldFile(
  path: string,
  bytes: Uint8Array,
  mode: number,
  mtime: number | null,
): boolean {
  const lib = loadLibc();
  const target = held(path);
  if (!lib || !target) return false;
  let fd: number;
  try {
    fd = openAt(
      target.dir,
      target.name,
      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
      mode,
    );
  } catch {
    return false;
  }
  let ok = true;
  for (let done = 0; ok && done < bytes.byteLength;) {
    const n = Number(
      lib.write(fd, bytes.subarray(done), BigInt(bytes.byteLength - done)),
    );
    if (n <= 0) ok = false;
    else done += n;
  }
  if (ok && mtime !== null) {
    const seconds = Math.floor(mtime / 1000);
    times[0] = 0n;
    times[1] = BigInt(UTIME_NOW);
    times[2] = BigInt(seconds);
    times[3] = BigInt(Math.round((mtime - seconds * 1000) * 1e6));
    ok = lib.futimens(fd, times) === 0;
  }
  closeFd(fd);
  if (!ok) {
    try {
      Deno.removeSync(path);
    } catch {
      // Gone already.
    }
  }
  return ok;
}

/**
 * Renames `from` over `to` when both are in held folders.
 *
 * @returns false when it did not (the caller renames with Deno's call).
 */
export function renameHeld(from: string, to: string): boolean {
  const lib = loadLibc();
  const source = held(from);
  const target = held(to);
  if (!lib || !source || !target) return false;
  return lib.renameat2(
    source.dir,
    cString(source.name),
    target.dir,
    cString(target.name),
    0,
  ) === 0;
}
