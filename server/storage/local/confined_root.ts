/**
 * Confined path resolution: turns remote segments into a held folder inside
 * the served root, one component at a time, at the moment an operation acts.
 *
 * On Linux every component is opened relative to the folder before it with
 * `openat(…, O_DIRECTORY | O_NOFOLLOW)`, so a folder swapped for a symlink by
 * another request or by a local process mid-walk is never followed. The held
 * folder is then named `/proc/self/fd/N`, and Deno's own file APIs act on
 * `/proc/self/fd/N/name`: the kernel starts from the held folder, whatever
 * its name is by then, and an operation that does not follow its last
 * component (lstat, mkdir, rename, unlink, exclusive create) is race-free.
 * Files are opened with `O_NOFOLLOW` too ({@linkcode ConfinedRoot.openFile}).
 *
 * Symlinks inside the root are followed the way Go's `os.Root` does: the
 * link's target is applied lexically to the canonical path walked so far, and
 * the walk starts again from the root; a target that leads outside (`..`
 * past the root, or an absolute path elsewhere) is refused.
 *
 * Elsewhere (macOS, Windows, no FFI) the same walk runs on host paths with
 * `lstat` at each step and a `realPath` check of the result: the window
 * between check and use is narrowed, not closed (docs/security.md).
 *
 * The walk and the following of symlinks live here; each step's platform
 * half is a {@linkcode FolderAccess}: `openat_folders.ts` (held descriptors)
 * or `checked_folders.ts` (the fallback), chosen once when the root opens.
 *
 * @module
 */

import { SEPARATOR } from "@std/path";
import {
  InvalidPathError,
  NotFoundError,
  WrongTypeError,
} from "../../../protocol/errors.ts";
import { closeFd, haveLibc } from "../../../transfer/libc.ts";
import { fsError } from "../fs_errors.ts";
import { STAGING_DIR } from "../remote_path.ts";
import { CheckedFolders } from "./checked_folders.ts";
import {
  escapeRefused,
  type FolderAccess,
  type Handle,
  type OpenFileOptions,
  symlinkRefused,
} from "./folder_access.ts";
import { OpenatFolders } from "./openat_folders.ts";

export type { OpenFileOptions };

/** Symlinks followed in one resolution before it is refused (as Linux's). */
const MAX_LINKS = 40;

/** A folder held open inside the root. Close it when done. */
export interface Folder {
  /**
   * A prefix for Deno's file APIs: `${folder.path}/${name}` names `name`
   * in this very folder (on Linux `/proc/self/fd/N`).
   */
  readonly path: string;
  /** The descriptor on Linux; null in the checked fallback. */
  readonly fd: number | null;
  /** The folder's canonical remote segments (symlinks resolved). */
  readonly segments: readonly string[];
  /** Releases the folder; safe to call twice. */
  close(): void;
  [Symbol.dispose](): void;
}

/** The served root, and confined resolution under it. */
export class ConfinedRoot {
  /** The root's real host path (only for logs and the fallback). */
  readonly hostRoot: string;
  /** Whether resolution is race-free here (held descriptors), see the module doc. */
  readonly raceFree: boolean;
  #access: FolderAccess;

  private constructor(hostRoot: string, access: FolderAccess) {
    this.hostRoot = hostRoot;
    this.#access = access;
    this.raceFree = access.raceFree;
  }

  /** Opens (creating it if missing) the folder to serve. */
  static async open(root: string, useLibc = true): Promise<ConfinedRoot> {
    await Deno.mkdir(root, { recursive: true });
    const real: string = await Deno.realPath(root);
    const info = await Deno.stat(real);
    if (!info.isDirectory) {
      throw new WrongTypeError("it is not a folder", {
        action: `serve "${root}"`,
      });
    }
    const access = useLibc && haveLibc()
      ? new OpenatFolders(real)
      : new CheckedFolders(real);
    return new ConfinedRoot(real, access);
  }

  /** The held root's descriptor (Linux), for worker threads; null elsewhere. */
  get fd(): number | null {
    return this.#access.fd;
  }

  /** Closes the root's descriptor. */
  close(): void {
    this.#access.close();
  }

  /**
   * Opens the folder at `segments`, following symlinks only inside the
   * root. With `create`, missing folders on the way are made (mkdir -p).
   * `internal` allows the reserved `.fts` folder (the staging area).
   *
   * When a walk finds nothing, the served folder may have been replaced
   * under its name (`rm -rf data; mkdir data` while serving): the walk runs
   * again from the new one.
   *
   * @throws {NotFoundError} {@linkcode WrongTypeError}
   *   {@linkcode InvalidPathError}, or the typed form of an OS error.
   */
  async folder(
    segments: readonly string[],
    options: { create?: boolean; internal?: boolean } = {},
  ): Promise<Folder> {
    try {
      return await this.#walk(segments, options);
    } catch (error) {
      if (error instanceof NotFoundError && await this.#access.refresh()) {
        return await this.#walk(segments, options);
      }
      throw error;
    }
  }

  async #walk(
    segments: readonly string[],
    options: { create?: boolean; internal?: boolean },
  ): Promise<Folder> {
    const access = this.#access;
    const shown = segments.join("/") || ".";
    let list = [...segments];
    let links = 0;
    restart: while (true) {
      let handle: Handle = access.rootHandle();
      const names: string[] = [];
      try {
        for (let i = 0; i < list.length; i++) {
          const name = list[i];
          if (names.length === 0 && !options.internal && isReserved(name)) {
            throw new InvalidPathError(`"${STAGING_DIR}" is reserved for fts`);
          }
          const child = await access.child(handle, name, options.create, shown);
          if (typeof child === "string") {
            if (++links > MAX_LINKS) {
              throw new InvalidPathError(`"${shown}" has too many symlinks`);
            }
            list = this.#follow(names, child, list.slice(i + 1));
            access.release(handle);
            continue restart;
          }
          access.release(handle);
          handle = child;
          names.push(name);
        }
      } catch (error) {
        access.release(handle);
        throw error;
      }
      await access.settle(handle, shown);
      return this.#folderOf(handle, names);
    }
  }

  /**
   * The folder holding `segments` (non-empty) and the last name in it. With
   * `follow`, a symlink at the last name that stays inside the root is
   * followed (for reads); without, the name itself is acted on (writes,
   * removes and renames never go through a link).
   */
  async locate(
    segments: readonly string[],
    options: { follow?: boolean; create?: boolean; internal?: boolean } = {},
  ): Promise<{ parent: Folder; name: string }> {
    if (segments.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be used so");
    }
    let list = [...segments];
    for (let links = 0;; links++) {
      const parent = await this.folder(list.slice(0, -1), options);
      const name = list[list.length - 1];
      if (!options.follow) return { parent, name };
      let target: string | null = null;
      try {
        const info = await Deno.lstat(`${parent.path}/${name}`);
        if (info.isSymlink) {
          target = await Deno.readLink(`${parent.path}/${name}`);
        }
      } catch {
        // Missing: the caller's operation reports it.
      }
      if (target === null) return { parent, name };
      parent.close();
      if (links >= MAX_LINKS) {
        throw new InvalidPathError(
          `"${segments.join("/")}" has too many symlinks`,
        );
      }
      list = this.#follow([...parent.segments], target, []);
      if (list.length === 0) {
        // A link to the root itself: hand back the root's parent view.
        return { parent: await this.folder([]), name: "" };
      }
    }
  }

  /**
   * Opens folder `name` in `parent` itself, refusing a symlink there (for
   * walks that must not wander, such as `rm -r`).
   */
  async child(parent: Folder, name: string, shown = name): Promise<Folder> {
    const handle: Handle = { fd: parent.fd, path: parent.path, root: true };
    const child = await this.#access.child(handle, name, false, shown);
    if (typeof child === "string") throw symlinkRefused(shown);
    return this.#folderOf(child, [...parent.segments, name]);
  }

  /**
   * Opens file `name` in `parent` without following a symlink there.
   *
   * @throws {WrongTypeError} when `name` is a symlink or a folder.
   */
  async openFile(
    parent: Folder,
    name: string,
    options: OpenFileOptions = {},
    shown = name,
  ): Promise<Deno.FsFile> {
    const { file, fd } = await this.openFileKeeping(
      parent,
      name,
      options,
      shown,
    );
    if (fd !== null) closeFd(fd);
    return file;
  }

  /**
   * {@linkcode ConfinedRoot.openFile}, also answering the descriptor it was
   * opened by (null in the checked fallback), which the caller then owns and
   * closes: `sendfile(2)` needs one, and Deno's file hides its own.
   */
  openFileKeeping(
    parent: Folder,
    name: string,
    options: OpenFileOptions = {},
    shown = name,
  ): Promise<{ file: Deno.FsFile; fd: number | null }> {
    return this.#access.openFileKeeping(handleOf(parent), name, options, shown);
  }

  /**
   * Runs `action` on a path that names the inode of `name` in `parent`
   * itself (a file or a folder, never a symlink there): for chmod and utime,
   * which Deno only offers by path and which follow links.
   */
  atInode<T>(
    parent: Folder,
    name: string,
    action: (path: string) => Promise<T>,
    shown = name,
  ): Promise<T> {
    return this.#access.atInode(handleOf(parent), name, action, shown);
  }

  /**
   * Renames `from` in `fromParent` to `to` in `toParent`. With `noReplace`
   * an existing target is never replaced, atomically where the kernel can.
   */
  async rename(
    fromParent: Folder,
    from: string,
    toParent: Folder,
    to: string,
    noReplace: boolean,
    shown: string,
  ): Promise<void> {
    if (noReplace) {
      const done = this.#access.renameNoReplace(
        handleOf(fromParent),
        from,
        handleOf(toParent),
        to,
        shown,
      );
      if (done) return;
      const there = await Deno.lstat(`${toParent.path}/${to}`).catch(() =>
        null
      );
      if (there) throw fsError(new Deno.errors.AlreadyExists(), shown);
    }
    await Deno.rename(`${fromParent.path}/${from}`, `${toParent.path}/${to}`)
      .catch((error) => {
        throw fsError(error, shown);
      });
  }

  /**
   * The segments to walk after meeting a symlink to `target` at the end of
   * canonical `names`, with `rest` still to go; refuses a way out.
   */
  #follow(names: readonly string[], target: string, rest: string[]): string[] {
    let base: string[] = [...names];
    let relative = target;
    if (target.startsWith("/")) {
      const root = this.hostRoot;
      if (target !== root && !target.startsWith(root + SEPARATOR)) {
        throw escapeRefused();
      }
      base = [];
      relative = target.slice(root.length);
    }
    const out = base;
    for (const part of [...relative.split("/"), ...rest]) {
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (out.length === 0) throw escapeRefused();
        out.pop();
      } else out.push(part);
    }
    return out;
  }

  /** A held folder for callers; closing it releases the handle once. */
  #folderOf(handle: Handle, names: string[]): Folder {
    let open = true;
    const close = () => {
      if (open) this.#access.release(handle);
      open = false;
    };
    return {
      path: handle.path,
      fd: handle.fd,
      segments: names,
      close,
      [Symbol.dispose]: close,
    };
  }
}

/** A caller's folder as a handle the walk never closes. */
function handleOf(folder: Folder): Handle {
  return { fd: folder.fd, path: folder.path, root: true };
}

function isReserved(name: string): boolean {
  return name.toLowerCase() === STAGING_DIR;
}
