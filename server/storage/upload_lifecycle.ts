/**
 * One upload's life, the same for every front-end (native `put` and tree
 * uploads, HTTP PUT, tus, WebDAV LOCK): begin a staged {@linkcode Upload},
 * write to it (keeping the store's hash-state checkpoints), verify, then
 * commit, or abort on any error or disconnect, exactly once. A front-end
 * runs its part inside {@linkcode UploadLifecycle.run} and cannot leave an
 * upload open: whatever way the part ends without a commit, the upload is
 * aborted, keeping the staged bytes for a resume only where
 * {@linkcode UploadLifecycle.keep} says so.
 *
 * @module
 */

import type { BufferPool } from "../../protocol/buffer_pool.ts";
import type { Checksum } from "../../protocol/messages.ts";
import { type CommittedContent, recordCommitted } from "./committed_record.ts";
import {
  createHasher,
  type Hasher,
  resumeHasher,
} from "../../transfer/hash/hasher.ts";
import type {
  CommitOptions,
  ReadHandle,
  Store,
  Upload,
  UploadOptions,
} from "./store.ts";

/**
 * A staged upload with its ending owned: {@linkcode commit} or
 * {@linkcode abort} runs once, and {@linkcode run} makes sure one does.
 */
export class UploadLifecycle {
  /**
   * Whether ending without a commit keeps the staged bytes for a resume.
   * Starts as given to {@linkcode begin}; a front-end sets it to false once
   * it knows the staged bytes are bad (a size or checksum mismatch).
   */
  keep: boolean;
  #upload: Upload;
  #store: Store;
  #path: string;
  #ended = false;
  /** Bytes written by this run, after {@linkcode offset}. */
  #written = 0;

  private constructor(store: Store, path: string, upload: Upload) {
    this.#store = store;
    this.#path = path;
    this.#upload = upload;
    this.keep = upload.resumable;
  }

  /**
   * Begins (or resumes) the staged upload of `path`.
   *
   * @param keep whether an abort keeps the staged bytes; by default, what
   *   the store says of the upload ({@linkcode Upload.resumable}).
   */
  static async begin(
    store: Store,
    path: string,
    options: UploadOptions,
    keep?: boolean,
  ): Promise<UploadLifecycle> {
    const upload = await store.beginUpload(path, options);
    const lifecycle = new UploadLifecycle(store, path, upload);
    if (keep !== undefined) lifecycle.keep = keep;
    return lifecycle;
  }

  /** Bytes already staged by an earlier attempt (0 when starting afresh). */
  get offset(): number {
    return this.#upload.offset;
  }

  /** Whether the staged bytes can survive an abort for a later resume. */
  get resumable(): boolean {
    return this.#upload.resumable;
  }

  /** Whether the upload was committed or aborted already. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * A hasher holding the first {@linkcode offset} bytes an earlier run
   * staged: from the hash state the store kept (S3), or by reading them
   * back. Null when neither works (a state of another checksum), so the
   * upload starts afresh.
   */
  async stagedHasher(
    pool: BufferPool,
    checksum: Checksum,
  ): Promise<Hasher | null> {
    const upload = this.#upload;
    if (upload.hashState) {
      return resumeHasher(pool, checksum, upload.hashState);
    }
    const staged = await upload.openStaged();
    try {
      return await createHasher(pool, checksum, staged, upload.offset);
    } finally {
      staged.close();
    }
  }

  /** Opens the staged bytes to check them (see {@linkcode Upload.openStaged}). */
  openStaged(): Promise<ReadHandle> {
    return this.#upload.openStaged();
  }

  /** Drops staged bytes after `offset`; writes go there from now on. */
  async restartAt(offset: number): Promise<void> {
    await this.#upload.truncate(offset);
    this.#written = offset - this.#upload.offset;
  }

  /**
   * Appends `chunk`. With a `hasher`, the chunk is hashed too (its buffer
   * then goes back to `pool`), and a store that keeps hash states (S3) gets
   * one at each of its checkpoints, so a later run can resume from there.
   */
  async write(
    chunk: Uint8Array,
    hasher?: Hasher,
    pool?: BufferPool,
  ): Promise<void> {
    const upload = this.#upload;
    if (!hasher) {
      await upload.write(chunk);
      this.#written += chunk.byteLength;
      return;
    }
    const interval = upload.checkpointInterval;
    const position = () => upload.offset + this.#written;
    let at = 0;
    while (interval > 0) {
      const cut = interval - (position() % interval);
      if (cut > chunk.byteLength - at) break;
      const piece = chunk.subarray(at, at + cut);
      hasher.update(piece);
      await upload.write(piece, hasher.save() ?? undefined);
      at += cut;
      this.#written += cut;
    }
    if (at === 0) {
      await upload.write(chunk);
      this.#written += chunk.byteLength;
      hasher.update(chunk);
      return;
    }
    const rest = chunk.subarray(at);
    if (rest.byteLength > 0) {
      hasher.update(rest);
      await upload.write(rest);
      this.#written += rest.byteLength;
    }
    pool?.give(chunk);
  }

  /**
   * Makes the staged bytes durable and moves them under the target name.
   * When it fails, the upload is still open: {@linkcode run} aborts it.
   *
   * @param content what the front-end verified of the whole file (its
   *   digest): kept in the store's per-file record, so the file is not read
   *   again to hash or compare it while it stays unchanged.
   */
  async commit(
    options: CommitOptions,
    content?: CommittedContent,
  ): Promise<void> {
    if (this.#ended) throw new Error("the upload has ended already");
    await this.#upload.commit(options);
    this.#ended = true;
    if (content && this.#store.records) {
      await recordCommitted(this.#store, this.#path, {
        size: this.#upload.offset + this.#written,
        mtime: options.mtime,
      }, content);
    }
  }

  /**
   * Ends the upload without a commit, keeping the staged bytes for a resume
   * when `keep` (default {@linkcode keep}); does nothing once ended.
   */
  async abort(keep: boolean = this.keep): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#upload.abort(keep);
  }

  /**
   * Runs `work` on this upload. When it throws, the upload is aborted
   * (errors of the abort itself are dropped: the first error is the one to
   * report) and the error rethrown; when it returns without a commit, the
   * upload is aborted too.
   */
  async run<T>(work: (upload: this) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work(this);
    } catch (error) {
      await this.abort().catch(() => {});
      throw error;
    }
    await this.abort();
    return result;
  }
}
