/**
 * The storage core's one interface: every front-end (the native protocol,
 * HTTP/WebDAV) reaches files only through a {@linkcode Store}, and every
 * backend (the local disk, an S3 bucket) implements it.
 *
 * Paths are remote paths: `/`-separated, relative to the served root, already
 * normalised by {@linkcode remoteSegments} (no `..`, no NUL, no backslash, no
 * reserved `.fts`). Confinement lives inside each operation at the moment it
 * acts, never in a check made earlier: a backend resolves the path again for
 * every call, and a caller never learns a host path.
 *
 * Errors are the typed errors of `protocol/errors.ts`, with reasons that name
 * remote paths only; the caller adds the action.
 *
 * Modelled on SFTPGo's `vfs.Fs` and rclone's `fs.Fs`: one small interface,
 * plus {@linkcode StoreCapabilities} for what a backend cannot do, and
 * optional abilities ({@linkcode SmallFileReads}, {@linkcode TreeStaging})
 * that a front-end asks for and replaces by the generic road through the
 * interface when a backend lacks them, like rclone's optional `Purger` and
 * `Copier`: no code outside a backend's folder tests for a concrete backend.
 *
 * @module
 */

import type { BufferPool } from "../../protocol/buffer_pool.ts";
import type { Entry } from "../../protocol/messages.ts";
import type { FileIdentity, FileRecords } from "./file_record.ts";
import type { TreeSink, TreeSinkOptions } from "./tree_sink.ts";
import type { Change } from "./watch/change.ts";

/** What a backend can and cannot do; front-ends adapt to it. */
export interface StoreCapabilities {
  /** A folder moves in one atomic step (false on S3: object by object). */
  atomicFolderMove: boolean;
  /** Permission bits are kept. */
  modes: boolean;
  /** Symlinks exist (they are listed, never followed out of the root). */
  symlinks: boolean;
  /** Empty folders exist on their own (S3 keeps a `dir/` marker object). */
  emptyFolders: boolean;
}

/** An open file to read from an offset, like `Deno.FsFile`'s read side. */
export interface ReadHandle {
  /** The file's entry at the moment it was opened. */
  readonly entry: Entry;
  /**
   * Reads into `buffer` from the current position; `null` at the end. Large
   * buffers are the caller's business (the hot path reads 1 MiB at a time).
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * The open file's descriptor, where the store has one (the local store
   * on Linux with libc): for `sendfile(2)`, which reads at its own offsets.
   * Valid until {@linkcode ReadHandle.close}.
   */
  readonly descriptor?: number;
  /** Releases the handle; reading after it is an error. */
  close(): void;
  /**
   * Moves the read position (a delta reads the old version's chunks out of
   * order); absent where the store cannot, and then no delta is offered.
   */
  seek?(offset: number, whence: Deno.SeekMode): Promise<number>;
  /**
   * The identity of the very file open (see `file_record.ts`); absent where
   * the store has none (S3).
   */
  identity?(): Promise<FileIdentity>;
}

/** Where an upload starts: what the store holds already of the same source. */
export interface UploadOptions {
  /** Size of the source, or null when unknown (never resumable then). */
  size: number | null;
  /** Modification time of the source (ms since the epoch); part of the resume key. */
  mtime: number;
  /** Continue bytes staged by an earlier, interrupted upload of the same source. */
  resume: boolean;
  /**
   * Permission bits known at the start, or null. S3 fixes an object's
   * metadata when the upload is created; giving them here saves a copy.
   */
  mode?: number | null;
  /**
   * The caller listed the target's folder moments ago and saw nothing of
   * this name there (a tree's quick check). A store may then skip its own
   * checks for a folder in the way and for older versions to clean up,
   * which on S3 are a round trip each per file.
   */
  fresh?: boolean;
}

/** How an upload replaces its target. */
export interface CommitOptions {
  /** Permission bits for the file, or null to keep the default. */
  mode: number | null;
  /** Modification time to give the file (ms since the epoch). */
  mtime: number;
  /** Refuse to replace an existing file (checked at the moment of the rename). */
  noClobber: boolean;
}

/**
 * A staged upload: bytes go to a hidden place, and only {@linkcode commit}
 * makes them visible under the target name, atomically. Nothing a failed or
 * aborted upload did is ever visible under the target.
 */
export interface Upload {
  /** Bytes already staged from an earlier attempt (0 when starting afresh). */
  readonly offset: number;
  /** Whether the staged bytes survive {@linkcode abort} for a later resume. */
  readonly resumable: boolean;
  /**
   * The caller's hash state after the first {@linkcode offset} bytes, as
   * handed to {@linkcode write} by the run that staged them; null when the
   * staged bytes can be read back with {@linkcode openStaged} instead. S3
   * cannot give back the bytes of an unfinished multipart upload, so it
   * keeps the state beside each part.
   */
  readonly hashState: Uint8Array | null;
  /**
   * Bytes between two points where {@linkcode write} keeps a hash state
   * (a resume can only start at one); 0 when the store needs none.
   */
  readonly checkpointInterval: number;
  /**
   * Opens the staged prefix (the first {@linkcode offset} bytes) to check
   * it. Fails when {@linkcode hashState} stands for it.
   */
  openStaged(): Promise<ReadHandle>;
  /** Drops staged bytes after `offset` (and from then on writes go there). */
  truncate(offset: number): Promise<void>;
  /**
   * Appends `chunk`; resolves once the store took it (backpressure). When the
   * bytes written reach a multiple of {@linkcode checkpointInterval} exactly
   * at the end of `chunk`, `hashState` (the caller's hash state after it) is
   * kept for a resume from there.
   */
  write(chunk: Uint8Array, hashState?: Uint8Array): Promise<void>;
  /** Makes the staged bytes durable and moves them under the target name. */
  commit(options: CommitOptions): Promise<void>;
  /**
   * Ends the upload without a commit. With `keep` (and a resumable upload)
   * the staged bytes wait for a resume; otherwise they are freed.
   */
  abort(keep: boolean): Promise<void>;
}

/** One entry met by {@linkcode Store.walk}, or why a folder could not be read. */
export type WalkItem =
  | { path: string; entry: Entry; error?: undefined }
  | { path: string; entry?: undefined; error: Error };

/** A small file as read whole: its bytes and what a tree listing tells of it. */
export interface SmallFile {
  data: Uint8Array;
  mtime: number;
  mode: number | null;
}

/**
 * Optional ability: reads many small files at once (the local disk does it
 * in a worker thread). Without it, `small_file_reads.ts` reads them through
 * {@linkcode Store.open}.
 */
export interface SmallFileReads {
  /**
   * One file or `null` per remote path: `null` for a path that is not a
   * regular file of at most `limit` bytes or cannot be read this way, which
   * the caller then serves (or refuses) one by one through
   * {@linkcode Store.open}. Never follows a symlink.
   */
  readSmall(
    paths: readonly (string | null)[],
    limit: number,
  ): Promise<(SmallFile | null)[]>;
}

/**
 * Optional ability: lists many folders at once (the local disk, in one
 * worker round trip). Without it, callers list folder by folder through
 * {@linkcode Store.list}.
 */
export interface FolderListings {
  /**
   * The sorted entries of each folder in `paths` (`.fts` left out at the
   * root), or the typed error that listing it met, in order.
   */
  listMany(paths: readonly string[]): Promise<(Entry[] | Error)[]>;
}

/**
 * Optional ability: a tree upload's files are staged and made durable in
 * batches by the backend itself (the local disk). Without it, each file is
 * one {@linkcode Upload} (`tree_upload_sink.ts`).
 */
export interface TreeStaging {
  /** Opens the sink of one tree upload. */
  openTreeSink(pool: BufferPool, options: TreeSinkOptions): Promise<TreeSink>;
}

/**
 * Optional ability: reports every change under a folder as it happens,
 * whoever makes it (the local disk, with inotify). Without it, a watch
 * scans periodically or hears only of changes made through this server
 * (`watch/tree_watch.ts`).
 */
export interface ChangeWatching {
  /**
   * Watches folder `path`, calling `emit` with each change (paths relative
   * to `path`) and `onFail` once if the watch breaks later.
   *
   * @throws when the folder cannot be watched (out of inotify watches).
   */
  watchChanges(
    path: string,
    emit: (change: Change) => void,
    onFail: (error: unknown) => void,
  ): { close(): void };
}

/** The storage core's interface. Every method resolves its path afresh. */
export interface Store {
  /** What this backend can do. */
  readonly capabilities: StoreCapabilities;
  /** Digests and chunk summaries of stored files, where the store keeps them. */
  readonly records?: FileRecords;
  /**
   * Describes `path` (the root is `""`). Symlinks inside the root are
   * followed when `follow` is set (reads); otherwise described as links.
   */
  stat(path: string, options?: { follow?: boolean }): Promise<Entry>;
  /** The entries of folder `path`, sorted by name, `.fts` left out. */
  list(path: string): Promise<Entry[]>;
  /**
   * Opens file `path` for reading from `offset`. Symlinks inside the root
   * are followed unless `follow` is false (trees never send a link).
   */
  open(
    path: string,
    offset?: number,
    options?: { follow?: boolean },
  ): Promise<ReadHandle>;
  /** Starts (or resumes) a staged upload to file `path`. */
  beginUpload(path: string, options: UploadOptions): Promise<Upload>;
  /** Creates folder `path` and its missing parents. */
  mkdirp(path: string): Promise<void>;
  /** Removes file or link `path`, or folder `path` (with `recursive`, and all in it). */
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Renames `from` to `to`; `to`'s parent must exist. */
  move(
    from: string,
    to: string,
    options?: { noClobber?: boolean },
  ): Promise<void>;
  /** Copies file or folder `from` to `to` (WebDAV COPY). */
  copy(
    from: string,
    to: string,
    options?: { noClobber?: boolean },
  ): Promise<void>;
  /** Sets the permission bits and/or modification time of `path`. */
  setMeta(path: string, meta: { mode?: number; mtime?: number }): Promise<void>;
  /**
   * Bytes that may still be written and the size of what holds the files
   * (`df`); absent where there is no such limit to tell (a bucket).
   */
  space?(): Promise<{ free: number; total: number }>;
  /**
   * Walks the tree under folder `path` depth first, names sorted, without
   * following symlinks. A folder that cannot be read is yielded as an error
   * item and skipped; the walk goes on.
   */
  walk(path: string): AsyncIterable<WalkItem>;
  /**
   * Frees what unfinished uploads untouched for `ttlMs` left behind
   * (`--partial-ttl`).
   *
   * @returns how many were freed.
   */
  sweep(ttlMs: number): Promise<number>;
  /** Releases what the store holds (handles, connections). */
  close(): Promise<void>;
  /**
   * Optional: starts now what the store would start on first use (a worker
   * thread), as a server does once it listens, so the first transfer does
   * not wait for it.
   */
  prepare?(): void;
  /** Optional ability: bulk reads of small files. */
  readonly smallFileReads?: SmallFileReads;
  /** Optional ability: many folders listed at once. */
  readonly folderListings?: FolderListings;
  /** Optional ability: batched staging of tree uploads. */
  readonly treeStaging?: TreeStaging;
  /** Optional ability: changes reported as they happen, by every writer. */
  readonly changeWatching?: ChangeWatching;
}
