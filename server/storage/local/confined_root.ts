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
 * between check and use is narrowed, not closed. README, "Safety".
 *
 * @module
 */

import { join, SEPARATOR } from "@std/path";
import {
  type FtsError,
  InvalidPathError,
  NotFoundError,
  WrongTypeError,
} from "../../../protocol/errors.ts";
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
import { haveLibc, LibcError } from "../../../transfer/libc.ts";
import { fsError } from "../fs_errors.ts";
import { STAGING_DIR } from "../remote_path.ts";

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

/** How to open a file in a held folder; never follows a symlink. */
export interface OpenFileOptions {
  /** Open for writing too. */
  write?: boolean;
  /** Create it; fails if anything is there already. */
  createNew?: boolean;
  /** Permission bits for a new file. Default 0o600 (staging). */
  mode?: number;
}

/** The served root, and confined resolution under it. */
export class ConfinedRoot {
  /** The root's real host path (only for logs and the fallback). */
  readonly hostRoot: string;
  /** Whether resolution is race-free here (held descriptors), see the module doc. */
  readonly raceFree: boolean;
  #rootFd: number | null;

  private constructor(hostRoot: string, rootFd: number | null) {
    this.hostRoot = hostRoot;
    this.#rootFd = rootFd;
    this.raceFree = rootFd !== null;
  }

  /**
   * Follows the served folder when it is replaced under its name (`rm -rf
   * data; mkdir data` while serving): when a walk finds nothing, the held
   * root is compared with what the name now holds, and opened again if
   * they differ. Returns whether it was.
   */
  async #refreshRoot(): Promise<boolean> {
    if (this.#rootFd === null) return false;
    const named = await Deno.stat(this.hostRoot).catch(() => null);
    if (!named?.isDirectory) return false;
    const held = await Deno.stat(`/proc/self/fd/${this.#rootFd}`);
    if (named.ino === held.ino && named.dev === held.dev) return false;
    const old = this.#rootFd;
    this.#rootFd = openFolderPath(this.hostRoot);
    // Walks under way may still use the old descriptor for a moment.
    Deno.unrefTimer(setTimeout(() => closeFd(old), 10_000));
    return true;
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
    const fd = useLibc && haveLibc() ? openFolderPath(real) : null;
    return new ConfinedRoot(real, fd);
  }

  /** The held root's descriptor (Linux), for worker threads; null elsewhere. */
  get fd(): number | null {
    return this.#rootFd;
  }

  /** Closes the root's descriptor. */
  close(): void {
    if (this.#rootFd !== null) closeFd(this.#rootFd);
    this.#rootFd = null;
  }

  /**
   * Opens the folder at `segments`, following symlinks only inside the
   * root. With `create`, missing folders on the way are made (mkdir -p).
   * `internal` allows the reserved `.fts` folder (the staging area).
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
      if (error instanceof NotFoundError && await this.#refreshRoot()) {
        return await this.#walk(segments, options);
      }
      throw error;
    }
  }

  async #walk(
    segments: readonly string[],
    options: { create?: boolean; internal?: boolean },
  ): Promise<Folder> {
    const shown = segments.join("/") || ".";
    let list = [...segments];
    let links = 0;
    restart: while (true) {
      let handle: Handle = this.#rootHandle();
      const names: string[] = [];
      try {
        for (let i = 0; i < list.length; i++) {
          const name = list[i];
          if (names.length === 0 && !options.internal && isReserved(name)) {
            throw new InvalidPathError(`"${STAGING_DIR}" is reserved for fts`);
          }
          const child = await this.#child(handle, name, options.create, shown);
          if (typeof child === "string") {
            if (++links > MAX_LINKS) {
              throw new InvalidPathError(`"${shown}" has too many symlinks`);
            }
            list = this.#follow(names, child, list.slice(i + 1));
            this.#release(handle);
            continue restart;
          }
          this.#release(handle);
          handle = child;
          names.push(name);
        }
      } catch (error) {
        this.#release(handle);
        throw error;
      }
      if (handle.fd === null) await this.#checkReal(handle.path, shown);
      return folderOf(handle, names, handle.root);
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
    const child = await this.#child(handle, name, false, shown);
    if (typeof child === "string") throw symlinkRefused(shown);
    return folderOf(child, [...parent.segments, name], false);
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
  async openFileKeeping(
    parent: Folder,
    name: string,
    options: OpenFileOptions = {},
    shown = name,
  ): Promise<{ file: Deno.FsFile; fd: number | null }> {
    const write = options.write || options.createNew;
    if (parent.fd === null) {
      const file = await openChecked(parent.path, name, options, shown);
      return { file, fd: null };
    }
    let fd: number;
    try {
      fd = openAt(
        parent.fd,
        name,
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        (write ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK |
          (options.createNew ? O_CREAT | O_EXCL : 0),
        options.mode ?? 0o600,
      );
    } catch (error) {
      throw await this.#explain(error, parent, name, shown, false);
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
        write: !!write,
      });
      return { file, fd };
    } catch (error) {
      closeFd(fd);
      throw error;
    }
  }

  /**
   * Runs `action` on a path that names the inode of `name` in `parent`
   * itself (a file or a folder, never a symlink there): for chmod and utime,
   * which Deno only offers by path and which follow links.
   */
  async atInode<T>(
    parent: Folder,
    name: string,
    action: (path: string) => Promise<T>,
    shown = name,
  ): Promise<T> {
    if (parent.fd === null) {
      const path = join(parent.path, name);
      const info = await Deno.lstat(path).catch((error) => {
        throw fsError(error, shown);
      });
      if (info.isSymlink) throw symlinkRefused(shown);
      return await action(path);
    }
    let fd: number;
    try {
      fd = openAt(parent.fd, name, O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      throw await this.#explain(error, parent, name, shown, false);
    }
    try {
      return await action(`/proc/self/fd/${fd}`);
    } finally {
      closeFd(fd);
    }
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
    if (noReplace && fromParent.fd !== null && toParent.fd !== null) {
      try {
        renameNoReplace(fromParent.fd, from, toParent.fd, to);
        return;
      } catch (error) {
        if (!(error instanceof LibcError) || error.errno !== EINVAL) {
          if (error instanceof LibcError && error.errno === EEXIST) {
            throw fsError(new Deno.errors.AlreadyExists(), shown);
          }
          throw fsError(errnoError(error), shown);
        }
        // This file system cannot; check, then rename.
      }
    }
    if (noReplace) {
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

  #rootHandle(): Handle {
    return this.#rootFd === null
      ? { fd: null, path: this.hostRoot, root: true }
      : { fd: this.#rootFd, path: `/proc/self/fd/${this.#rootFd}`, root: true };
  }

  #release(handle: Handle): void {
    if (!handle.root && handle.fd !== null) closeFd(handle.fd);
  }

  /**
   * Opens folder `name` in `handle`: a new handle, or the symlink's target
   * when `name` is a symlink (the caller follows it), or throws.
   */
  async #child(
    handle: Handle,
    name: string,
    create: boolean | undefined,
    shown: string,
  ): Promise<Handle | string> {
    for (let attempt = 0;; attempt++) {
      const path = `${handle.path}/${name}`;
      if (handle.fd === null) {
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
      try {
        const fd = openAt(handle.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
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
  }

  /** Why opening `name` failed, as a typed error. */
  async #explain(
    error: unknown,
    parent: Folder,
    name: string,
    shown: string,
    folder: boolean,
  ): Promise<FtsError> {
    if (
      error instanceof LibcError &&
      (error.errno === ELOOP || error.errno === ENOTDIR)
    ) {
      const info = await Deno.lstat(`${parent.path}/${name}`).catch(() => null);
      if (info?.isSymlink) return symlinkRefused(shown);
      if (info?.isDirectory && !folder) {
        return new WrongTypeError(`"${shown}" is a folder`);
      }
    }
    return fsError(errnoError(error), shown);
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

  /** The fallback's narrowing: the walked path must still be what it was. */
  async #checkReal(path: string, shown: string): Promise<void> {
    const real: string = await Deno.realPath(path).catch((error) => {
      throw fsError(error, shown);
    });
    const root = this.hostRoot;
    if (
      real !== path || (real !== root && !real.startsWith(root + SEPARATOR))
    ) {
      throw escapeRefused();
    }
  }
}

/** A held folder during a walk: its descriptor or checked host path. */
interface Handle {
  fd: number | null;
  path: string;
  root: boolean;
}

function folderOf(handle: Handle, names: string[], isRoot: boolean): Folder {
  let open = true;
  const close = () => {
    if (open && !isRoot && handle.fd !== null) closeFd(handle.fd);
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

async function makeFolder(path: string, shown: string): Promise<void> {
  try {
    await Deno.mkdir(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw fsError(error, shown);
    }
  }
}

/** The fallback's open: refuses a symlink, then checks the opened inode. */
async function openChecked(
  folder: string,
  name: string,
  options: OpenFileOptions,
  shown: string,
): Promise<Deno.FsFile> {
  const path = join(folder, name);
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
  return file;
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

function isReserved(name: string): boolean {
  return name.toLowerCase() === STAGING_DIR;
}

function notAFolder(name: string, shown: string): WrongTypeError {
  return new WrongTypeError(
    name === shown
      ? `"${shown}" is not a folder`
      : `"${name}" in "${shown}" is not a folder`,
  );
}

function symlinkRefused(shown: string): WrongTypeError {
  return new WrongTypeError(
    `"${shown}" is a symlink, which fts does not follow here`,
  );
}

function escapeRefused(): InvalidPathError {
  return new InvalidPathError(
    "the path leads outside the served folder (through a symlink)",
  );
}
