/**
 * The platform half of confined resolution (`confined_root.ts`): how one
 * step of a walk opens a folder, opens a file or renames without following
 * a symlink. Two variants implement {@linkcode FolderAccess}, each in a file
 * of its own (as SFTPGo keeps `osfs_linux.go` beside `osfs_fallback.go`):
 * `openat_folders.ts` holds descriptors through libc's `openat` and is
 * race-free; `checked_folders.ts` walks host paths with `lstat` and checks
 * the result, narrowing the window between check and use without closing it.
 *
 * @module
 */

import { InvalidPathError, WrongTypeError } from "../../../protocol/errors.ts";
import { fsError } from "../fs_errors.ts";

/** A held folder during a walk: its descriptor or checked host path. */
export interface Handle {
  /** The descriptor (openat variant); null in the checked fallback. */
  fd: number | null;
  /** A prefix for Deno's file APIs: `${path}/${name}` names `name` in it. */
  path: string;
  /** The served root itself, which a walk never closes. */
  root: boolean;
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

/** One way to act in held folders without following a symlink. */
export interface FolderAccess {
  /** Whether resolution is race-free against local processes. */
  readonly raceFree: boolean;
  /** The root's descriptor, for worker threads; null in the fallback. */
  readonly fd: number | null;
  /** The held root, where every walk starts. */
  rootHandle(): Handle;
  /** Releases a handle met during a walk (never the root's). */
  release(handle: Handle): void;
  /**
   * Opens folder `name` in `handle`: a new handle, or the symlink's target
   * when `name` is a symlink (the walk follows it), or throws. With
   * `create`, a missing folder is made.
   */
  child(
    handle: Handle,
    name: string,
    create: boolean | undefined,
    shown: string,
  ): Promise<Handle | string>;
  /** Checks the folder a walk ended at (the fallback's `realPath` check). */
  settle(handle: Handle, shown: string): Promise<void>;
  /**
   * Opens file `name` in `parent` without following a symlink there; also
   * answers the descriptor it was opened by (null in the fallback), which
   * the caller then owns and closes (`sendfile(2)` needs one).
   */
  openFileKeeping(
    parent: Handle,
    name: string,
    options: OpenFileOptions,
    shown: string,
  ): Promise<{ file: Deno.FsFile; fd: number | null }>;
  /**
   * Runs `action` on a path naming the inode of `name` in `parent` itself
   * (never a symlink there).
   */
  atInode<T>(
    parent: Handle,
    name: string,
    action: (path: string) => Promise<T>,
    shown: string,
  ): Promise<T>;
  /**
   * Renames without replacing an existing target, atomically; false when
   * this file system (or variant) cannot, and the caller checks instead.
   */
  renameNoReplace(
    fromParent: Handle,
    from: string,
    toParent: Handle,
    to: string,
    shown: string,
  ): boolean;
  /**
   * Follows a served folder replaced under its name; returns whether the
   * root was opened again.
   */
  refresh(): Promise<boolean>;
  /** Releases the root. */
  close(): void;
}

/** Makes folder `path` (a walk's missing step); one made meanwhile is fine. */
export async function makeFolder(path: string, shown: string): Promise<void> {
  try {
    await Deno.mkdir(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw fsError(error, shown);
    }
  }
}

/** `name` (in `shown`) is not a folder. */
export function notAFolder(name: string, shown: string): WrongTypeError {
  return new WrongTypeError(
    name === shown
      ? `"${shown}" is not a folder`
      : `"${name}" in "${shown}" is not a folder`,
  );
}

/** `shown` is a symlink where none is followed. */
export function symlinkRefused(shown: string): WrongTypeError {
  return new WrongTypeError(
    `"${shown}" is a symlink, which fts does not follow here`,
  );
}

/** The refusal of a path that leads outside the served folder. */
export function escapeRefused(): InvalidPathError {
  return new InvalidPathError(
    "the path leads outside the served folder (through a symlink)",
  );
}
