/**
 * The {@linkcode Store} on the local disk: every operation resolves its path
 * through the {@linkcode ConfinedRoot} at the moment it acts, holds the
 * folder it acts in, and never follows a symlink with a write.
 *
 * @module
 */

import {
  newNameSegments,
  remoteSegments,
  STAGING_DIR,
} from "../remote_path.ts";
import {
  AlreadyExistsError,
  DiskFullError,
  type Entry,
  FtsError,
  InvalidPathError,
  IoError,
  WrongTypeError,
} from "../../../protocol/mod.ts";
import { closeFd, haveLibc } from "../../../transfer/libc.ts";
import { fileSystemSpace } from "./libc.ts";
import { entryFromInfo } from "../../../transfer/tree/entry.ts";
import { syncFolder } from "../../../transfer/durable/commit_files.ts";
import { readFull } from "../../../transfer/file_chunks.ts";
import { joinTree } from "../../../transfer/tree/tree_manifest.ts";
import { ConfinedRoot, type Folder } from "./confined_root.ts";
import { fsError } from "../fs_errors.ts";
import { LocalWatch } from "./local_watch.ts";
import type {
  ChangeWatching,
  CommitOptions,
  FolderListings,
  ReadHandle,
  SmallFile,
  SmallFileReads,
  Store,
  StoreCapabilities,
  TreeStaging,
  Upload,
  UploadOptions,
  WalkItem,
} from "../store.ts";
import { type StagedClaim, UploadStaging } from "./upload_staging.ts";
import { LocalFileRecords } from "./file_records.ts";
import { identityOf } from "../file_record.ts";
import { SmallFileReader } from "./small_file_reader.ts";
import { openStagingSink } from "./tree_staging_sink.ts";
import type { Placement } from "../../../transfer/durable/durable_batch.ts";

/**
 * Records checked for staleness per sweep (each a read of its head and an
 * lstat of its file: about 10 ms of work per 1,000), so a sweep stays short
 * however many records there are; the next sweep goes on from there.
 */
const RECORDS_PER_SWEEP = 1000;

/**
 * Folders a walk lists in one round trip to the worker: a folder and up to
 * this many more waiting after it. A round trip costs ~50 µs of posting
 * and waking on a loaded machine; one per folder was most of a 20,000-folder
 * tree's listing.
 */
const WALK_BATCH = 63;

/**
 * The mode of a new file whose client sent none: 0666 less the server's
 * umask, as any program's new file. Read once at start: reading it sets it
 * for a moment, which must not race with files being made.
 */
const DEFAULT_FILE_MODE = (() => {
  try {
    return 0o666 & ~Deno.umask();
  } catch {
    return 0o644; // no umask here (Windows): the usual 022's result
  }
})();

/** Options of {@linkcode LocalStore.open}. */
export interface LocalStoreOptions {
  /** Most bytes the staging area may hold (`--partial-limit`). */
  partialLimit?: number;
  /** Use the checked fallback even where the race-free core could run (tests). */
  noLibc?: boolean;
}

/** A served folder on the local disk. */
export class LocalStore implements Store {
  /** Folders are renamed atomically; modes and symlinks exist. */
  readonly capabilities: StoreCapabilities = {
    atomicFolderMove: true,
    modes: true,
    symlinks: true,
    emptyFolders: true,
  };
  /** The confined root every path is resolved under. */
  readonly root: ConfinedRoot;
  /** The staging area for uploads. */
  readonly staging: UploadStaging;
  /** Digests and chunk summaries, in `.fts/records`. */
  readonly records: LocalFileRecords;
  /** Small files are read in bulk by a worker thread ({@linkcode readSmall}). */
  readonly smallFileReads: SmallFileReads = this;
  /** Folders are listed many at a time by the same worker. */
  readonly folderListings: FolderListings = {
    listMany: (paths) => this.#listMany(paths),
  };
  /**
   * Tree uploads are staged in folders of their own and made durable in
   * batches (`tree_staging_sink.ts`).
   */
  readonly treeStaging: TreeStaging = {
    openTreeSink: (pool, options) => openStagingSink(this, pool, options),
  };
  /** Changes are seen with inotify (`local_watch.ts`), every writer's. */
  readonly changeWatching: ChangeWatching = {
    watchChanges: (path, emit, onFail) => {
      const segments = remoteSegments(path);
      const host = [this.root.hostRoot, ...segments].join("/");
      return LocalWatch.start(this.root.hostRoot, host, emit, onFail);
    },
  };
  #reader: SmallFileReader;
  #turn: Promise<void> = Promise.resolve();

  private constructor(root: ConfinedRoot, partialLimit: number) {
    this.root = root;
    this.staging = new UploadStaging(root, partialLimit);
    this.records = new LocalFileRecords(root);
    this.#reader = new SmallFileReader(() => root.fd);
  }

  /** Opens (creating it if missing) the folder at host path `dir`. */
  static async open(
    dir: string,
    options: LocalStoreOptions = {},
  ): Promise<LocalStore> {
    const root = await ConfinedRoot.open(dir, !options.noLibc);
    return new LocalStore(root, options.partialLimit ?? Infinity);
  }

  /** Removes partial uploads untouched for `ttlMs` from the staging area. */
  async sweep(ttlMs: number): Promise<number> {
    const freed = await this.staging.sweep(ttlMs);
    // Records of files deleted or replaced since, a bounded number a sweep.
    await this.records.sweep(RECORDS_PER_SWEEP).catch(() => 0);
    return freed;
  }

  /**
   * Starts the store's worker thread now, as a server does at its start, so
   * the first tree transfer does not wait for it and its descriptors belong
   * to the server's baseline.
   */
  prepare(): void {
    this.#reader.start();
  }

  /** Whether resolution is race-free against local processes here. */
  get raceFree(): boolean {
    return this.root.raceFree;
  }

  async stat(path: string, options: { follow?: boolean } = {}): Promise<Entry> {
    const segments = remoteSegments(path);
    if (segments.length === 0) {
      using folder = await this.root.folder([]);
      return entryFromInfo(".", await Deno.stat(folder.path));
    }
    const { parent, name } = await this.root.locate(segments, {
      follow: options.follow,
    });
    using _ = parent;
    if (name === "") return entryFromInfo(".", await Deno.stat(parent.path));
    const info = await Deno.lstat(`${parent.path}/${name}`).catch((error) => {
      throw fsError(error, path);
    });
    return entryFromInfo(segments.at(-1)!, info);
  }

  async list(path: string): Promise<Entry[]> {
    const [listed] = await this.#listMany([path]);
    if (listed instanceof Error) throw listed;
    return listed;
  }

  /**
   * Lists `paths` on the plain road in the worker, in one round trip; links
   * and errors (and everything in the checked fallback, where no worker
   * runs) come through the confined root, one by one.
   */
  async #listMany(paths: readonly string[]): Promise<(Entry[] | Error)[]> {
    const segments = paths.map((path) => {
      try {
        return remoteSegments(path);
      } catch (error) {
        return error as Error;
      }
    });
    const plain = segments.filter((s): s is string[] => Array.isArray(s));
    const listed = plain.length > 0 ? await this.#reader.list(plain) : [];
    let next = 0;
    const results: (Entry[] | Error)[] = [];
    for (const [i, path] of paths.entries()) {
      const parts = segments[i];
      if (!Array.isArray(parts)) {
        results.push(fsError(parts, path));
        continue;
      }
      const found = listed[next++];
      if (found) {
        results.push(found);
        continue;
      }
      try {
        using folder = await this.root.folder(parts);
        results.push(await listFolder(folder, path));
      } catch (error) {
        results.push(fsError(error, path));
      }
    }
    return results;
  }

  async open(
    path: string,
    offset = 0,
    options: { follow?: boolean } = {},
  ): Promise<ReadHandle> {
    const segments = remoteSegments(path);
    const { parent, name } = await this.root.locate(segments, {
      follow: options.follow ?? true,
    });
    using _ = parent;
    if (name === "") throw new WrongTypeError(`"${path || "."}" is a folder`);
    const { file, fd } = await this.root.openFileKeeping(
      parent,
      name,
      {},
      path,
    );
    try {
      const info = await file.stat();
      if (!info.isFile) {
        throw new WrongTypeError(
          info.isDirectory
            ? `"${path}" is a folder, not a file`
            : `"${path}" is not a regular file`,
        );
      }
      if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
      return fileHandle(file, entryFromInfo(name, info), fd);
    } catch (error) {
      file.close();
      if (fd !== null) closeFd(fd);
      throw fsError(error, path);
    }
  }

  async beginUpload(path: string, options: UploadOptions): Promise<Upload> {
    const segments = newNameSegments(path);
    const target = segments.join("/");
    // The target's folder must exist; checked here for a clear error, and
    // again (by the rename itself) at the commit.
    {
      const { parent, name } = await this.root.locate(segments);
      using _ = parent;
      const there = await Deno.lstat(`${parent.path}/${name}`).catch(() =>
        null
      );
      if (there?.isDirectory) {
        throw new WrongTypeError(`"${target}" is a folder on the server`);
      }
    }
    const claim = this.staging.claim(target, options.size, options.mtime);
    let folder: Folder | undefined;
    try {
      folder = await this.staging.folder();
      let file: Deno.FsFile | null = null;
      let offset = 0;
      if (options.resume && claim.resumable) {
        file = await this.root.openFile(folder, claim.key, { write: true })
          .catch(() => null);
        if (file) {
          offset = (await file.stat()).size;
          if (options.size === null || offset > options.size) offset = 0;
        }
      }
      if (!file) {
        await Deno.remove(`${folder.path}/${claim.key}`).catch(() => {});
        file = await this.root.openFile(folder, claim.key, { createNew: true });
      }
      if (options.size !== null) {
        await this.staging.makeRoom(options.size - offset);
      }
      return new LocalUpload(this, segments, folder, claim, file, offset);
    } catch (error) {
      folder?.close();
      claim.release();
      throw fsError(error, target);
    }
  }

  /**
   * Runs `action`, which changes names in the store, alone. Where the
   * race-free core runs this is a no-op: held folders cannot be redirected.
   * In the checked fallback a resolved path stays true only while no other
   * request renames anything, so changes of names run one at a time there.
   */
  async serialized<T>(action: () => Promise<T>): Promise<T> {
    const release = await this.#acquire();
    try {
      return await action();
    } finally {
      release();
    }
  }

  /** Takes the fallback's one change-of-names turn; returns its release. */
  async #acquire(): Promise<() => void> {
    if (this.raceFree) return () => {};
    const { promise, resolve } = Promise.withResolvers<void>();
    const before = this.#turn;
    this.#turn = promise;
    await before;
    return resolve;
  }

  async mkdirp(path: string): Promise<void> {
    const segments = newNameSegments(path);
    await this.serialized(async () => {
      (await this.root.folder(segments, { create: true })).close();
    });
  }

  remove(
    path: string,
    options: { recursive?: boolean } = {},
  ): Promise<void> {
    return this.serialized(() => this.#remove(path, options));
  }

  async #remove(
    path: string,
    options: { recursive?: boolean },
  ): Promise<void> {
    const segments = remoteSegments(path);
    if (segments.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be removed");
    }
    const { parent, name } = await this.root.locate(segments);
    using _ = parent;
    const info = await Deno.lstat(`${parent.path}/${name}`).catch((error) => {
      throw fsError(error, path);
    });
    if (info.isDirectory && options.recursive) {
      if (this.raceFree) {
        // Through the held folder's descriptor; the kernel-side removal
        // (openat and unlinkat with O_NOFOLLOW, Rust's remove_dir_all)
        // never follows a link and is ~20x faster than one call per entry.
        return await Deno.remove(`${parent.path}/${name}`, { recursive: true })
          .catch((error) => {
            throw fsError(error, path);
          });
      }
      return await this.#removeTree(parent, name, path);
    }
    await Deno.remove(`${parent.path}/${name}`).catch((error) => {
      const code = (error as { code?: string }).code;
      if (info.isDirectory && code === "ENOTEMPTY") {
        throw new WrongTypeError(
          `"${path}" is a folder that is not empty (use rm -r)`,
        );
      }
      throw fsError(error, path);
    });
  }

  move(
    from: string,
    to: string,
    options: { noClobber?: boolean } = {},
  ): Promise<void> {
    return this.serialized(() => this.#move(from, to, options));
  }

  async #move(
    from: string,
    to: string,
    options: { noClobber?: boolean },
  ): Promise<void> {
    const fromSegments = remoteSegments(from);
    const toSegments = newNameSegments(to);
    if (fromSegments.length === 0 || toSegments.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be moved");
    }
    const source = await this.root.locate(fromSegments);
    using _ = source.parent;
    await Deno.lstat(`${source.parent.path}/${source.name}`).catch((error) => {
      throw fsError(error, from);
    });
    const target = await this.root.locate(toSegments);
    using __ = target.parent;
    const fromFull = [...source.parent.segments, source.name];
    const toFull = [...target.parent.segments, target.name];
    if (
      fromFull.length <= toFull.length &&
      fromFull.every((segment, i) => toFull[i] === segment)
    ) {
      if (fromFull.length === toFull.length) return; // onto itself: nothing to do
      throw new WrongTypeError(`"${from}" cannot be moved into itself`);
    }
    await this.root.rename(
      source.parent,
      source.name,
      target.parent,
      target.name,
      options.noClobber ?? false,
      to,
    );
  }

  async copy(
    from: string,
    to: string,
    options: { noClobber?: boolean } = {},
  ): Promise<void> {
    newNameSegments(to);
    const source = await this.stat(from, { follow: true });
    if (source.type === "file") {
      return await this.#copyFile(from, to, source, options.noClobber ?? false);
    }
    if (source.type !== "dir") {
      throw new WrongTypeError(`"${from}" is not a file or a folder`);
    }
    const toSegments = remoteSegments(to);
    const fromSegments = remoteSegments(from);
    // Compared as the folders really are (links inside the root resolved),
    // so no link can make a copy land inside what it copies.
    let fromReal: readonly string[];
    {
      using folder = await this.root.folder(fromSegments);
      fromReal = folder.segments;
    }
    const target = await this.root.locate(toSegments);
    const toReal = [...target.parent.segments, target.name];
    target.parent.close();
    if (
      fromReal.length <= toReal.length &&
      fromReal.every((segment, i) => toReal[i] === segment)
    ) {
      throw new WrongTypeError(`"${from}" cannot be copied into itself`);
    }
    if (options.noClobber) {
      const there = await this.stat(to).catch(() => null);
      if (there) throw new AlreadyExistsError(`"${to}" already exists`);
    }
    // The tree is listed first and copied after, so the copy never walks
    // into what it is making.
    const items: WalkItem[] = [];
    for await (const item of this.walk(from)) items.push(item);
    await this.mkdirp(to);
    for (const item of items) {
      if (item.error) throw item.error;
      const into = joinTree(toSegments.join("/"), item.path);
      if (item.entry.type === "dir") await this.mkdirp(into);
      else if (item.entry.type === "file") {
        await this.#copyFile(
          joinTree(fromSegments.join("/"), item.path),
          into,
          item.entry,
          false,
        );
      }
    }
  }

  /** `df`: what the file system holding the root can still take. */
  space(): Promise<{ free: number; total: number }> {
    if (!haveLibc()) {
      throw new IoError(
        "this server cannot read its free space (it needs libc through FFI)",
      );
    }
    try {
      return Promise.resolve(fileSystemSpace(this.root.hostRoot));
    } catch (error) {
      throw fsError(error, "");
    }
  }

  async setMeta(
    path: string,
    meta: { mode?: number; mtime?: number },
  ): Promise<void> {
    const segments = remoteSegments(path);
    if (segments.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be changed");
    }
    await this.serialized(() => this.#setMeta(segments, meta, path));
  }

  async #setMeta(
    segments: string[],
    meta: { mode?: number; mtime?: number },
    path: string,
  ): Promise<void> {
    const { parent, name } = await this.root.locate(segments);
    using _ = parent;
    await this.root.atInode(parent, name, async (inode) => {
      if (meta.mode !== undefined) await Deno.chmod(inode, meta.mode & 0o777);
      if (meta.mtime !== undefined) {
        await Deno.utime(inode, new Date(), new Date(meta.mtime));
      }
    }, path).catch((error) => {
      throw fsError(error, path);
    });
  }

  async *walk(path: string): AsyncIterable<WalkItem> {
    const base = remoteSegments(path).join("/");
    // Each folder is resolved afresh from the root when its turn comes; the
    // next ones waiting (its siblings, mostly) are listed with it, in one
    // round trip to the worker.
    const pending: string[] = [""];
    const listed = new Map<string, Entry[] | Error>();
    while (pending.length > 0) {
      const relative = pending.pop()!;
      if (!listed.has(relative)) {
        const batch = [relative];
        for (
          let i = pending.length - 1;
          i >= 0 && batch.length <= WALK_BATCH;
          i--
        ) {
          if (!listed.has(pending[i])) batch.push(pending[i]);
        }
        const results = await this.#listMany(
          batch.map((folder) => joinTree(base, folder)),
        );
        batch.forEach((folder, i) => listed.set(folder, results[i]));
      }
      const entries = listed.get(relative)!;
      listed.delete(relative);
      if (entries instanceof Error) {
        if (relative === "") throw fsError(entries, path);
        yield {
          path: relative,
          error: fsError(entries, joinTree(path, relative)),
        };
        continue;
      }
      const subfolders: string[] = [];
      for (const entry of entries) {
        const child = relative === ""
          ? entry.name
          : `${relative}/${entry.name}`;
        yield { path: child, entry };
        if (entry.type === "dir") subfolders.push(child);
      }
      pending.push(...subfolders.reverse());
    }
  }

  /**
   * Resolves where files go, now: for each remote path, a path in its held
   * parent folder. One handle per distinct folder; release them after use,
   * soon: in the checked fallback the placement holds the store's one turn
   * for changes of names (see {@linkcode serialized}).
   *
   * @throws the typed error of the first folder that cannot be resolved.
   */
  async place(paths: readonly string[]): Promise<Placement> {
    const held = new Map<string, Folder>();
    // In the fallback, no other request renames anything until the renames
    // into these folders are done (see serialized).
    const turn = await this.#acquire();
    const release = () => {
      for (const folder of held.values()) folder.close();
      turn();
    };
    try {
      const targets: string[] = [];
      for (const path of paths) {
        const segments = newNameSegments(path);
        const key = segments.slice(0, -1).join("/");
        let folder = held.get(key);
        if (!folder) {
          folder = await this.root.folder(segments.slice(0, -1));
          held.set(key, folder);
        }
        targets.push(`${folder.path}/${segments.at(-1)}`);
      }
      return {
        targets,
        folders: [...held.values()].map((folder) => folder.path),
        release,
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Reads small regular files in a worker thread, for tree downloads: one
   * file or `null` per remote path (null: serve it through {@linkcode open}).
   * Never follows a symlink; all `null` where the race-free core cannot run.
   */
  async readSmall(
    paths: readonly (string | null)[],
    limit: number,
  ): Promise<(SmallFile | null)[]> {
    const segments = paths.map((path) => {
      try {
        return path === null ? null : remoteSegments(path);
      } catch {
        return null;
      }
    });
    const asked = segments.filter((s): s is string[] =>
      s !== null && s.length > 0
    );
    if (asked.length === 0) return paths.map(() => null);
    const files = await this.#reader.read(asked, limit);
    let at = 0;
    return segments.map((s) =>
      s !== null && s.length > 0 ? files[at++] ?? null : null
    );
  }

  /** Removes `name` (a tree upload's staging folder) from the staging area. */
  async dropStaged(name: string): Promise<void> {
    using folder = await this.staging.folder();
    await this.#removeTree(folder, name, name);
  }

  close(): Promise<void> {
    this.#reader.close();
    this.root.close();
    return Promise.resolve();
  }

  async #removeTree(
    parent: Folder,
    name: string,
    shown: string,
  ): Promise<void> {
    {
      using folder = await this.root.child(parent, name, shown);
      for await (const item of Deno.readDir(folder.path)) {
        const info = await Deno.lstat(`${folder.path}/${item.name}`)
          .catch(() => null);
        if (!info) continue;
        const path = `${shown}/${item.name}`;
        if (info.isDirectory) await this.#removeTree(folder, item.name, path);
        else {
          await Deno.remove(`${folder.path}/${item.name}`).catch((error) => {
            if (!(error instanceof Deno.errors.NotFound)) {
              throw fsError(error, path);
            }
          });
        }
      }
    }
    await Deno.remove(`${parent.path}/${name}`).catch((error) => {
      throw fsError(error, shown);
    });
  }

  async #copyFile(
    from: string,
    to: string,
    source: Entry,
    noClobber: boolean,
  ): Promise<void> {
    const reader = await this.open(from);
    try {
      const upload = await this.beginUpload(to, {
        size: source.size,
        mtime: source.mtime,
        resume: false,
      });
      let ok = false;
      try {
        const buffer = new Uint8Array(1024 * 1024);
        while (true) {
          const n = await readFull(reader, buffer);
          if (n > 0) await upload.write(buffer.subarray(0, n));
          if (n < buffer.byteLength) break;
        }
        await upload.commit({
          mode: source.mode,
          mtime: source.mtime,
          noClobber,
        });
        ok = true;
      } finally {
        if (!ok) await upload.abort(false);
      }
    } finally {
      reader.close();
    }
  }
}

/** A staged upload into the local staging area. */
class LocalUpload implements Upload {
  readonly offset: number;
  readonly resumable: boolean;
  /** The staged prefix is read back instead. */
  readonly hashState = null;
  readonly checkpointInterval = 0;
  #store: LocalStore;
  #target: readonly string[];
  #staging: Folder;
  #claim: StagedClaim;
  #file: Deno.FsFile | null;
  #full = false;

  constructor(
    store: LocalStore,
    target: readonly string[],
    staging: Folder,
    claim: StagedClaim,
    file: Deno.FsFile,
    offset: number,
  ) {
    this.#store = store;
    this.#target = target;
    this.#staging = staging;
    this.#claim = claim;
    this.#file = file;
    this.offset = offset;
    this.resumable = claim.resumable;
  }

  async openStaged(): Promise<ReadHandle> {
    const file = await this.#store.root.openFile(
      this.#staging,
      this.#claim.key,
    );
    return fileHandle(file, entryFromInfo(this.#claim.key, await file.stat()));
  }

  async truncate(offset: number): Promise<void> {
    const file = this.#open();
    await file.truncate(offset);
    await file.seek(offset, Deno.SeekMode.Start);
  }

  async write(chunk: Uint8Array): Promise<void> {
    const file = this.#open();
    try {
      let written = 0;
      while (written < chunk.byteLength) {
        written += await file.write(chunk.subarray(written));
      }
    } catch (error) {
      const typed = fsError(error, this.#target.join("/"));
      // A full disk must not stay full because of this upload's leftovers.
      if (typed instanceof DiskFullError) this.#full = true;
      throw typed;
    }
  }

  async commit(options: CommitOptions): Promise<void> {
    const file = this.#open();
    const shown = this.#target.join("/");
    const root = this.#store.root;
    try {
      await file.syncData();
    } catch (error) {
      const typed = fsError(error, shown);
      if (typed instanceof DiskFullError) this.#full = true;
      throw typed;
    }
    file.close();
    this.#file = null;
    await root.atInode(this.#staging, this.#claim.key, async (inode) => {
      if (options.mode !== null) await Deno.chmod(inode, options.mode & 0o777);
      await Deno.utime(inode, new Date(), new Date(options.mtime));
    });
    // The target's folder is resolved again now, at the moment of the rename.
    await this.#store.serialized(async () => {
      const { parent, name } = await root.locate(this.#target);
      using _ = parent;
      const there = await Deno.lstat(`${parent.path}/${name}`)
        .catch(() => null);
      if (there?.isDirectory) {
        throw new WrongTypeError(`"${shown}" is a folder on the server`);
      }
      if (options.mode === null) {
        // No mode sent (stdin, HTTP): a replaced file keeps its own, a new
        // one gets what the server's umask gives, not staging's 0600.
        const mode = there?.isFile && there.mode !== null
          ? there.mode & 0o777
          : DEFAULT_FILE_MODE;
        await root.atInode(
          this.#staging,
          this.#claim.key,
          (inode) => Deno.chmod(inode, mode),
        );
      }
      await root.rename(
        this.#staging,
        this.#claim.key,
        parent,
        name,
        options.noClobber,
        shown,
      );
      await syncFolder(parent.path);
    });
    this.#done();
  }

  async abort(keep: boolean): Promise<void> {
    try {
      this.#file?.close();
    } catch {
      // Closed already.
    }
    this.#file = null;
    if (!keep || !this.resumable || this.#full) {
      await Deno.remove(`${this.#staging.path}/${this.#claim.key}`)
        .catch(() => {});
    }
    this.#done();
  }

  #open(): Deno.FsFile {
    if (!this.#file) throw new FtsError("the upload is over");
    return this.#file;
  }

  #done(): void {
    this.#claim.release();
    this.#staging.close();
  }
}

/** The sorted entries of a held folder, `.fts` left out at the root. */
async function listFolder(folder: Folder, shown: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  const atRoot = folder.segments.length === 0;
  try {
    for await (const item of Deno.readDir(folder.path)) {
      if (atRoot && item.name.toLowerCase() === STAGING_DIR) continue;
      const info = await Deno.lstat(`${folder.path}/${item.name}`)
        .catch(() => null);
      if (info) entries.push(entryFromInfo(item.name, info));
    }
  } catch (error) {
    throw fsError(error, shown);
  }
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return entries;
}

function fileHandle(
  file: Deno.FsFile,
  entry: Entry,
  fd: number | null = null,
): ReadHandle {
  return {
    entry,
    descriptor: fd ?? undefined,
    read: (buffer) => file.read(buffer),
    seek: (offset, whence) => file.seek(offset, whence),
    identity: () => identityOf(file),
    close: () => {
      // Once: the number may belong to another file after.
      if (fd !== null) closeFd(fd);
      fd = null;
      try {
        file.close();
      } catch {
        // Closed already.
      }
    },
  };
}
