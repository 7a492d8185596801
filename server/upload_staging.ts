/**
 * The hidden staging area where uploads are written before they are renamed
 * into place, and where interrupted uploads wait to be resumed.
 *
 * A partial upload is keyed by target path, size and modification time of its
 * source, so a changed source never resumes into an old partial. A key in use
 * by one session is locked; a second client uploading the same thing at the
 * same time gets a private, non-resumable file instead, so the two cannot
 * corrupt each other.
 *
 * @module
 */

import { join } from "@std/path";
import { createHash } from "node:crypto";
import { STAGING_DIR } from "./storage.ts";

/** One upload's file in the staging area. */
export interface StagedUpload {
  /** Host path of the partial file. */
  readonly path: string;
  /** Bytes already there from an earlier, interrupted attempt. */
  readonly existing: number;
  /** Whether the partial survives a failure for a later resume. */
  readonly resumable: boolean;
  /** Gives the key back; call when the upload ends, however it ends. */
  release(): void;
}

/** The staging area under a served root. */
export class UploadStaging {
  /** Host path of the staging folder. */
  readonly dir: string;
  #locked = new Set<string>();

  constructor(root: string) {
    this.dir = join(root, STAGING_DIR, "partial");
  }

  /**
   * Claims the partial file for an upload of `size` bytes with modification
   * time `mtime` to `target` (a normalised remote path).
   */
  async claim(
    target: string,
    size: number | null,
    mtime: number,
    resume: boolean,
  ): Promise<StagedUpload> {
    await Deno.mkdir(this.dir, { recursive: true });
    let key = createHash("sha256").update(`${target}\0${size}\0${mtime}`)
      .digest("hex").slice(0, 32);
    const resumable = size !== null && !this.#locked.has(key);
    if (!resumable) key += `-${crypto.randomUUID()}`;
    this.#locked.add(key);
    const path = join(this.dir, key);
    let existing = 0;
    if (resume && resumable) {
      try {
        existing = (await Deno.stat(path)).size;
      } catch {
        existing = 0;
      }
      if (size === null || existing > size) existing = 0;
    }
    return {
      path,
      existing,
      resumable,
      release: () => this.#locked.delete(key),
    };
  }

  /** Removes partial files not touched for `ttlMs`; returns how many. */
  async sweep(ttlMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        const path = join(this.dir, entry.name);
        const info = await Deno.stat(path).catch(() => null);
        const age = now - (info?.mtime?.getTime() ?? now);
        if (info && age > ttlMs && !this.#locked.has(entry.name)) {
          // Folders are a tree upload's staging, left by a crash.
          await Deno.remove(path, { recursive: info.isDirectory })
            .catch(() => {});
          removed++;
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return removed;
  }
}
