/**
 * The storage jail: maps remote paths to host paths under the served root and
 * refuses every path that would lead outside it.
 *
 * @module
 */

import { dirname, join, SEPARATOR } from "@std/path";
import { entryFromInfo } from "../transfer/entry.ts";
import {
  AlreadyExistsError,
  type Entry,
  FtsError,
  InvalidPathError,
  IoError,
  NotFoundError,
  WrongTypeError,
} from "../protocol/mod.ts";

/** Name of the hidden folder under the root where fts keeps its own files. */
export const STAGING_DIR = ".fts";

/**
 * Confines every path under one root folder.
 *
 * @example
 * ```ts
 * const storage = await Storage.open("./data");
 * const host = await storage.resolveExisting("docs/a.txt"); // inside ./data
 * await storage.resolveExisting("../etc/passwd"); // throws InvalidPathError
 * ```
 */
export class Storage {
  /** The root as given, made absolute. */
  readonly root: string;
  #realRoot: string;

  private constructor(root: string, realRoot: string) {
    this.root = root;
    this.#realRoot = realRoot;
  }

  /** Opens (creating it if missing) the folder to serve. */
  static async open(root: string): Promise<Storage> {
    await Deno.mkdir(root, { recursive: true });
    const real: string = await Deno.realPath(root);
    return new Storage(real, real);
  }

  /**
   * Turns a remote path into a host path under the root, lexically: refuses
   * NUL bytes, backslashes, absolute paths, `..` that climbs out, and the
   * staging folder. Does not look at the disk.
   */
  lexical(path: string): string {
    return join(this.root, ...this.segments(path));
  }

  /** The normalised segments of a remote path (empty for the root). */
  segments(path: string): string[] {
    if (path.includes("\0")) {
      throw new InvalidPathError("the path contains a NUL byte");
    }
    if (path.includes("\\")) {
      throw new InvalidPathError("the path contains a backslash");
    }
    if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) {
      throw new InvalidPathError("absolute paths are not allowed");
    }
    const stack: string[] = [];
    for (const segment of path.split("/")) {
      if (segment === "" || segment === ".") continue;
      if (segment === "..") {
        if (stack.length === 0) {
          throw new InvalidPathError(
            "the path leads outside the served folder",
          );
        }
        stack.pop();
      } else {
        stack.push(segment);
      }
    }
    if (stack[0] === STAGING_DIR) {
      throw new InvalidPathError(`"${STAGING_DIR}" is reserved for fts`);
    }
    return stack;
  }

  /**
   * Resolves a remote path that must exist, following symlinks only while
   * they stay inside the root.
   */
  async resolveExisting(path: string): Promise<string> {
    const host = this.lexical(path);
    let real: string;
    try {
      real = await Deno.realPath(host);
    } catch (error) {
      await this.#assertNearestInside(host);
      throw mapFsError(error, path);
    }
    this.#assertInside(real);
    return host;
  }

  /**
   * Resolves a remote path that is about to be created or replaced: its parent
   * folder must exist inside the root. A symlink at the path itself is not
   * followed (it would be replaced, not written through).
   */
  async resolveNew(path: string): Promise<string> {
    const segments = this.segments(path);
    if (segments.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be replaced");
    }
    const host = join(this.root, ...segments);
    const parent = dirname(host);
    let real: string;
    try {
      real = await Deno.realPath(parent);
    } catch (error) {
      await this.#assertNearestInside(host);
      const parent = segments.slice(0, -1).join("/");
      if (error instanceof Deno.errors.NotFound) {
        throw new NotFoundError(
          `the folder "${parent}" does not exist on the server`,
        );
      }
      throw mapFsError(error, parent || ".");
    }
    this.#assertInside(real);
    const info = await Deno.stat(real);
    if (!info.isDirectory) {
      throw new WrongTypeError(
        `"${segments.slice(0, -1).join("/")}" is not a folder`,
      );
    }
    return host;
  }

  /**
   * Creates a folder and its missing parents, checking at each step that an
   * existing parent does not lead outside the root.
   */
  async mkdirs(path: string): Promise<void> {
    const segments = this.segments(path);
    let host = this.root;
    for (const segment of segments) {
      host = join(host, segment);
      try {
        const info = await Deno.lstat(host);
        if (info.isSymlink) {
          this.#assertInside(await Deno.realPath(host));
          if (!(await Deno.stat(host)).isDirectory) {
            throw new WrongTypeError(`"${segment}" is not a folder`);
          }
        } else if (!info.isDirectory) {
          throw new AlreadyExistsError(`"${segment}" exists and is a file`);
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          throw mapFsError(error, path);
        }
        await Deno.mkdir(host).catch((e) => {
          if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        });
      }
    }
  }

  /** Describes a host path as an {@linkcode Entry} without following links. */
  async entry(host: string, name: string): Promise<Entry> {
    const info = await Deno.lstat(host);
    return entryFromInfo(name, info);
  }

  /**
   * For a host path that cannot be resolved: refuses it anyway when its
   * nearest existing ancestor leads outside the root (through a symlink), so
   * that a "not found" never tells what exists outside.
   */
  async #assertNearestInside(host: string): Promise<void> {
    for (
      let dir = dirname(host);
      dir.startsWith(this.root);
      dir = dirname(dir)
    ) {
      let real: string;
      try {
        real = await Deno.realPath(dir);
      } catch {
        continue;
      }
      return this.#assertInside(real);
    }
  }

  #assertInside(real: string): void {
    if (
      real !== this.#realRoot && !real.startsWith(this.#realRoot + SEPARATOR)
    ) {
      throw new InvalidPathError(
        "the path leads outside the served folder (through a symlink)",
      );
    }
  }
}

/** Maps a file-system error to a typed fts error about remote `path`. */
export function mapFsError(error: unknown, path: string): FtsError {
  if (error instanceof FtsError) return error;
  if (error instanceof Deno.errors.NotFound) {
    return new NotFoundError(`no such file or folder on the server`);
  }
  if (error instanceof Deno.errors.AlreadyExists) {
    return new AlreadyExistsError(`"${path}" already exists`);
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new WrongTypeError(`a part of "${path}" is not a folder`);
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new WrongTypeError(`"${path}" is a folder`);
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new IoError(`the server may not access "${path}"`);
  }
  if (error instanceof Error && "code" in error && error.code === "ENOTEMPTY") {
    return new WrongTypeError(`the folder "${path}" is not empty`);
  }
  return error instanceof Error
    ? new IoError(error.message)
    : new IoError(String(error));
}
