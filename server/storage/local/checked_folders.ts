/**
 * The checked fallback {@linkcode FolderAccess} (macOS, Windows, no FFI, or
 * `noLibc` in tests): the walk runs on host paths with `lstat` at each step
 * and a `realPath` check of the result, files are opened after an `lstat`
 * and checked to be the inode seen. The window between check and use is
 * narrowed, not closed (docs/security.md).
 *
 * @module
 */

import { join, SEPARATOR } from "@std/path";
import { InvalidPathError, WrongTypeError } from "../../../protocol/errors.ts";
import { fsError } from "../fs_errors.ts";
import type { FolderAccess, Handle } from "./folder_access.ts";
import {
  escapeRefused,
  makeFolder,
  notAFolder,
  symlinkRefused,
} from "./folder_access.ts";

/** Host paths, checked at each step. */
export class CheckedFolders implements FolderAccess {
  readonly raceFree = false;
  readonly fd = null;
  #hostRoot: string;

  /** Walks under real host path `hostRoot`. */
  constructor(hostRoot: string) {
    this.#hostRoot = hostRoot;
  }

  rootHandle(): Handle {
    return { fd: null, path: this.#hostRoot, root: true };
  }

  release(): void {
    // Nothing is held.
  }

  child: FolderAccess["child"] = async (handle, name, create, shown) => {
    for (let attempt = 0;; attempt++) {
      const path = `${handle.path}/${name}`;
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(path);
      } catch (error) {
        if (create && error instanceof Deno.errors.NotFound && attempt < 2) {
          await makeFolder(path, shown);
          continue;
        }
        throw fsError(error, shown);
      }
      if (info.isSymlink) return await Deno.readLink(path);
      if (!info.isDirectory) throw notAFolder(name, shown);
      return { fd: null, path: join(handle.path, name), root: false };
    }
  };

  /** The walked path must still be what it was, inside the root. */
  async settle(handle: Handle, shown: string): Promise<void> {
    const path = handle.path;
    const real: string = await Deno.realPath(path).catch((error) => {
      throw fsError(error, shown);
    });
    const root = this.#hostRoot;
    if (
      real !== path || (real !== root && !real.startsWith(root + SEPARATOR))
    ) {
      throw escapeRefused();
    }
  }

  /**
   * Refuses a symlink, then checks the opened inode is the one seen; no
   * descriptor is held here.
   */
  openFileKeeping: FolderAccess["openFileKeeping"] = async (
    parent,
    name,
    options,
    shown,
  ) => {
    const path = join(parent.path, name);
    const before = options.createNew
      ? null
      : await Deno.lstat(path).catch((error) => {
        throw fsError(error, shown);
      });
    if (before?.isSymlink) throw symlinkRefused(shown);
    if (before?.isDirectory) throw new WrongTypeError(`"${shown}" is a folder`);
    if (before && !before.isFile) {
      throw new WrongTypeError(`"${shown}" is not a regular file`);
    }
    const file = await Deno.open(path, {
      read: true,
      write: options.write || options.createNew,
      createNew: options.createNew,
      mode: options.mode ?? 0o600,
    }).catch((error) => {
      throw fsError(error, shown);
    });
    if (before) {
      const after = await file.stat();
      if (after.ino !== before.ino || after.dev !== before.dev) {
        file.close();
        throw new InvalidPathError(`"${shown}" changed while it was opened`);
      }
    }
    return { file, fd: null };
  };

  atInode: FolderAccess["atInode"] = async (parent, name, action, shown) => {
    const path = join(parent.path, name);
    const info = await Deno.lstat(path).catch((error) => {
      throw fsError(error, shown);
    });
    if (info.isSymlink) throw symlinkRefused(shown);
    return await action(path);
  };

  renameNoReplace(): boolean {
    // No atomic way here: the caller checks, then renames.
    return false;
  }

  refresh(): Promise<boolean> {
    // The root is walked by name each time: nothing to open again.
    return Promise.resolve(false);
  }

  close(): void {
    // Nothing is held.
  }
}
