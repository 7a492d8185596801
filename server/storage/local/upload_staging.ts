/**
 * The hidden staging area (`.fts/partial` under the root) where uploads are
 * written before they are renamed into place, and where interrupted uploads
 * wait to be resumed.
 *
 * A partial upload is keyed by target path, size and modification time of its
 * source, so a changed source never resumes into an old partial. A key in use
 * by one session is locked; a second client uploading the same thing at the
 * same time gets a private, non-resumable file instead, so the two cannot
 * corrupt each other. Partials are opened through the confined root and never
 * through a symlink. The area's size can be capped (`--partial-limit`): the
 * oldest idle partials go first.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DiskFullError, NotFoundError } from "../../../protocol/errors.ts";
import type { ConfinedRoot, Folder } from "./confined_root.ts";
import { STAGING_DIR } from "../remote_path.ts";

/** The staging folder's segments under the root. */
export const PARTIAL_SEGMENTS = [STAGING_DIR, "partial"] as const;

/** One upload's claim on a partial file. */
export interface StagedClaim {
  /** The partial's name in the staging folder. */
  readonly key: string;
  /** Whether the partial survives a failure for a later resume. */
  readonly resumable: boolean;
  /** Gives the key back; call when the upload ends, however it ends. */
  release(): void;
}

/** The staging area under a served root. */
export class UploadStaging {
  #root: ConfinedRoot;
  #locked = new Set<string>();
  /** Most bytes the area may hold; Infinity for no cap. */
  readonly limit: number;

  constructor(root: ConfinedRoot, limit = Infinity) {
    this.#root = root;
    this.limit = limit;
  }

  /** Opens (making it if missing, unless `create` is false) the staging folder. */
  folder(create = true): Promise<Folder> {
    return this.#root.folder(PARTIAL_SEGMENTS, { create, internal: true });
  }

  /**
   * Claims the partial for an upload of `size` bytes with modification time
   * `mtime` to `target` (a normalised remote path).
   */
  claim(target: string, size: number | null, mtime: number): StagedClaim {
    let key = createHash("sha256").update(`${target}\0${size}\0${mtime}`)
      .digest("hex").slice(0, 32);
    const resumable = size !== null && !this.#locked.has(key);
    if (!resumable) key += `-${crypto.randomUUID()}`;
    this.#locked.add(key);
    return { key, resumable, release: () => this.#locked.delete(key) };
  }

  /** Whether a session holds `name` (a partial or a tree's staging folder). */
  isLocked(name: string): boolean {
    return this.#locked.has(name);
  }

  /** Locks a name (a tree upload's staging folder) until `release`. */
  lock(name: string): () => void {
    this.#locked.add(name);
    return () => this.#locked.delete(name);
  }

  /**
   * Makes room for `bytes` more under the cap by removing the oldest idle
   * partials.
   *
   * @throws {DiskFullError} when even an empty area could not hold them.
   */
  async makeRoom(bytes: number): Promise<void> {
    if (!Number.isFinite(this.limit)) return;
    if (bytes > this.limit) {
      throw new DiskFullError(
        "the upload is larger than the server's staging limit (--partial-limit)",
      );
    }
    using folder = await this.folder();
    const idle = await this.#entries(folder);
    let used = idle.reduce((sum, entry) => sum + entry.size, 0);
    idle.sort((a, b) => a.mtime - b.mtime);
    for (const entry of idle) {
      if (used + bytes <= this.limit) break;
      if (this.#locked.has(entry.name)) continue;
      await Deno.remove(`${folder.path}/${entry.name}`, { recursive: true })
        .catch(() => {});
      used -= entry.size;
    }
    if (used + bytes > this.limit) {
      throw new DiskFullError(
        "the server's staging area is full (--partial-limit); try again later",
      );
    }
  }

  /**
   * Removes partials not touched for `ttlMs`, and every tree upload's
   * staging folder that no live session holds (a crash left it: tree files
   * are never resumed from staging); returns how many went.
   */
  async sweep(ttlMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    // A served folder that never had an upload gets no .fts from a sweep.
    const folder = await this.folder(false).catch((error) => {
      if (error instanceof NotFoundError) return null;
      throw error;
    });
    if (!folder) return 0;
    using _ = folder;
    for (const entry of await this.#entries(folder)) {
      if (this.#locked.has(entry.name)) continue;
      const tree = entry.name.startsWith("tree-");
      if (tree || now - entry.mtime > ttlMs) {
        await Deno.remove(`${folder.path}/${entry.name}`, { recursive: true })
          .catch(() => {});
        removed++;
      }
    }
    return removed;
  }

  async #entries(
    folder: Folder,
  ): Promise<{ name: string; size: number; mtime: number }[]> {
    const out: { name: string; size: number; mtime: number }[] = [];
    for await (const item of Deno.readDir(folder.path)) {
      const info = await Deno.lstat(`${folder.path}/${item.name}`)
        .catch(() => null);
      if (!info) continue;
      out.push({
        name: item.name,
        size: info.isFile ? info.size : 0,
        mtime: info.mtime?.getTime() ?? 0,
      });
    }
    return out;
  }
}
