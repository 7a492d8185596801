/**
 * The race-free {@linkcode FolderAccess} (Linux, libc reachable through
 * FFI): every component is opened relative to the folder before it with
 * `openat(…, O_DIRECTORY | O_NOFOLLOW)`, so a folder swapped for a symlink
 * mid-walk is never followed. A held folder is named `/proc/self/fd/N`, and
 * Deno's own file APIs act on `/proc/self/fd/N/name`: the kernel starts from
 * the held folder, whatever its name is by then.
 *
 * @module
 */

import { type FtsError, WrongTypeError } from "../../../protocol/errors.ts";
import { LibcError } from "../../../transfer/libc.ts";
import { fsError } from "../fs_errors.ts";
import type { FolderAccess, Handle } from "./folder_access.ts";
import { makeFolder, notAFolder, symlinkRefused } from "./folder_access.ts";
import {
  closeFd,
  EEXIST,
  EINVAL,
  ELOOP,
  ENOENT,
  ENOTDIR,
  errnoName,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  openAt,
  openFolderPath,
  renameNoReplace,
} from "./libc.ts";

/** Held descriptors from the root down. */
export class OpenatFolders implements FolderAccess {
  readonly raceFree = true;
  #hostRoot: string;
  #rootFd: number;
  #closed = false;

  /** Opens the root at real host path `hostRoot`. */
  constructor(hostRoot: string) {
    this.#hostRoot = hostRoot;
    this.#rootFd = openFolderPath(hostRoot);
  }

  get fd(): number | null {
    return this.#closed ? null : this.#rootFd;
  }

  rootHandle(): Handle {
    return {
      fd: this.#rootFd,
      path: `/proc/self/fd/${this.#rootFd}`,
      root: true,
    };
  }

  release(handle: Handle): void {
    if (!handle.root && handle.fd !== null) closeFd(handle.fd);
  }

  child: FolderAccess["child"] = async (handle, name, create, shown) => {
    for (let attempt = 0;; attempt++) {
      const path = `${handle.path}/${name}`;
      try {
        const fd = openAt(
          handle.fd!,
          name,
          O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
        );
        return { fd, path: `/proc/self/fd/${fd}`, root: false };
      } catch (error) {
        if (
          create && error instanceof LibcError && error.errno === ENOENT &&
          attempt < 2
        ) {
          await makeFolder(path, shown);
          continue;
        }
        if (
          error instanceof LibcError &&
          (error.errno === ENOTDIR || error.errno === ELOOP)
        ) {
          const info = await Deno.lstat(path).catch(() => null);
          if (info?.isSymlink) return await Deno.readLink(path);
          if (info && !info.isDirectory) throw notAFolder(name, shown);
        }
        throw fsError(errnoError(error), shown);
      }
    }
  };

  settle(): Promise<void> {
    // Held descriptors need no check after the walk.
    return Promise.resolve();
  }

  openFileKeeping: FolderAccess["openFileKeeping"] = async (
    parent,
    name,
    { write, createNew, mode },
    shown,
  ) => {
    const writable = write || createNew;
    let fd: number;
    try {
      fd = openAt(
        parent.fd!,
        name,
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK |
          (createNew ? O_CREAT | O_EXCL : 0),
        mode ?? 0o600,
      );
    } catch (error) {
      throw await explain(error, parent, name, shown);
    }
    try {
      // Only a regular file is opened again by its /proc name: a device or
      // a FIFO there would block or misbehave.
      const info = await Deno.stat(`/proc/self/fd/${fd}`);
      if (!info.isFile) {
        throw new WrongTypeError(
          info.isDirectory
            ? `"${shown}" is a folder`
            : `"${shown}" is not a regular file`,
        );
      }
      const file = await Deno.open(`/proc/self/fd/${fd}`, {
        read: true,
        write: !!writable,
      });
      return { file, fd };
    } catch (error) {
      closeFd(fd);
      throw error;
    }
  };

  atInode: FolderAccess["atInode"] = async (parent, name, action, shown) => {
    let fd: number;
    try {
      fd = openAt(parent.fd!, name, O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      throw await explain(error, parent, name, shown);
    }
    try {
      return await action(`/proc/self/fd/${fd}`);
    } finally {
      closeFd(fd);
    }
  };

  renameNoReplace: FolderAccess["renameNoReplace"] = (
    fromParent,
    from,
    toParent,
    to,
    shown,
  ) => {
    try {
      renameNoReplace(fromParent.fd!, from, toParent.fd!, to);
      return true;
    } catch (error) {
      if (error instanceof LibcError && error.errno === EINVAL) {
        // This file system cannot; the caller checks, then renames.
        return false;
      }
      if (error instanceof LibcError && error.errno === EEXIST) {
        throw fsError(new Deno.errors.AlreadyExists(), shown);
      }
      throw fsError(errnoError(error), shown);
    }
  };

  async refresh(): Promise<boolean> {
    if (this.#closed) return false;
    const named = await Deno.stat(this.#hostRoot).catch(() => null);
    if (!named?.isDirectory) return false;
    const held = await Deno.stat(`/proc/self/fd/${this.#rootFd}`);
    if (named.ino === held.ino && named.dev === held.dev) return false;
    const old = this.#rootFd;
    this.#rootFd = openFolderPath(this.#hostRoot);
    // Walks under way may still use the old descriptor for a moment.
    Deno.unrefTimer(setTimeout(() => closeFd(old), 10_000));
    return true;
  }

  close(): void {
    if (!this.#closed) closeFd(this.#rootFd);
    this.#closed = true;
  }
}

/** Why opening file `name` failed, as a typed error. */
async function explain(
  error: unknown,
  parent: Handle,
  name: string,
  shown: string,
): Promise<FtsError> {
  if (
    error instanceof LibcError &&
    (error.errno === ELOOP || error.errno === ENOTDIR)
  ) {
    const info = await Deno.lstat(`${parent.path}/${name}`).catch(() => null);
    if (info?.isSymlink) return symlinkRefused(shown);
    if (info?.isDirectory) return new WrongTypeError(`"${shown}" is a folder`);
  }
  return fsError(errnoError(error), shown);
}

/**
 * A {@linkcode LibcError} as an error carrying its errno name in `code`,
 * as Deno's own errors do, for {@linkcode fsError} to read.
 */
function errnoError(error: unknown): unknown {
  if (!(error instanceof LibcError)) return error;
  const name = errnoName(error.errno);
  return Object.assign(new Error(name), { code: name });
}
