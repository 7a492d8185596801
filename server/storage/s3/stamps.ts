/**
 * Stamps: what fts knows about the files it wrote, readable from a listing
 * alone, so `ls`, `walk` and the tree quick check need no HEAD per file.
 *
 * ListObjectsV2 gives each object's size, ETag and LastModified, but not its
 * user metadata, where the file's own modification time and mode live. So at
 * every commit (and metadata change) fts also writes a zero-byte object
 *
 *     PREFIX/.fts/stamps/FOLDER/NAME~ETAG~MTIME~MODE
 *
 * whose key carries the object's ETag, its mtime in ms and its mode in octal
 * (`-` for none). Listing `PREFIX/.fts/stamps/FOLDER/` with the delimiter `/`
 * (one request per 1,000 files) gives every stamp of a folder. A stamp counts
 * only while its ETag is the object's current ETag: an object another tool
 * replaced (or one fts wrote before stamps) falls back to one HEAD, and
 * stale stamps are deleted when a listing meets them. Names hold no `/`, and
 * the three fields hold no `~`, so the key parses from the right.
 *
 * @module
 */

import { deleteKeys, listObjects } from "./bucket.ts";
import type { S3Client } from "./client.ts";

/** What a stamp records about one object. */
export interface Stamp {
  /** The object's ETag, without quotes. */
  etag: string;
  mtime: number;
  mode: number | null;
}

/** A stamp met in a listing, with its key (to delete it when stale). */
export interface ListedStamp extends Stamp {
  key: string;
}

const encoder = new TextEncoder();
/** How long cleanups of replaced stamps gather before one listing. */
const CLEANUP_DELAY_MS = 200;
/** Up to this many names of a folder are listed one by one, not the folder. */
const FEW_NAMES = 4;

/** An ETag without its quotes, as stamps keep it. */
export function bareEtag(etag: string): string {
  return etag.replace(/"/g, "");
}

/** The stamps of one store, kept under `root` (`PREFIX/.fts/stamps/`). */
export class Stamps {
  #client: S3Client;
  #root: string;
  #pending = new Set<Promise<void>>();
  /** The newest stamp this store wrote, by folder key and name, until cleaned. */
  #latest = new Map<string, string>();
  /** Names whose older stamps are to go, by folder key. */
  #queued = new Map<string, Set<string>>();

  constructor(client: S3Client, root: string) {
    this.#client = client;
    this.#root = root;
  }

  /** The key prefix of the stamps of folder `dir` (segments). */
  folderKey(dir: string[]): string {
    return this.#root + (dir.length ? dir.join("/") + "/" : "");
  }

  /**
   * Writes a stamp for file `name` in folder `dir`. Best effort: without it
   * a listing asks the object itself, so a failure here fails nothing.
   * Without `older` (a file the caller knows was new) no older stamps are
   * looked for; one left over from a deleted file is ignored by listings,
   * its ETag being another, and deleted when a listing meets it.
   */
  async put(
    dir: string[],
    name: string,
    stamp: Stamp,
    options: { older?: boolean } = {},
  ): Promise<void> {
    const key = `${this.folderKey(dir)}${name}~${bareEtag(stamp.etag)}~${
      Math.round(stamp.mtime)
    }~${stamp.mode === null ? "-" : stamp.mode.toString(8)}`;
    if (encoder.encode(key).length >= 1024) return;
    const folder = this.folderKey(dir);
    // Before the PUT, so that no cleanup running meanwhile takes it for old
    // (a new file's stamp only if a cleanup of its name is pending).
    if (options.older !== false || this.#latest.has(folder + name)) {
      this.#latest.set(folder + name, key);
    }
    try {
      await this.#client.send({ method: "PUT", key, body: new Uint8Array(0) });
    } catch {
      return; // best effort, as said
    }
    if (options.older === false) return;
    // Then the older stamps of the name go, in the background and gathered
    // per folder: a listing costs ~1.2-1.5 ms of the local gateway's CPU,
    // as much as the PUT itself, and a tree upload commits many files of a
    // folder at once. Same content stamped again has the same ETag; until
    // the old stamp is gone, a listing sees two stamps that disagree and
    // asks the object itself.
    const queued = this.#queued.get(folder);
    if (queued) {
      queued.add(name);
      return;
    }
    this.#queued.set(folder, new Set([name]));
    const cleanup = new Promise((resolve) =>
      setTimeout(resolve, CLEANUP_DELAY_MS)
    )
      .then(() => {
        const names = this.#queued.get(folder)!;
        this.#queued.delete(folder);
        return this.#dropOlder(folder, names);
      })
      .catch(() => {})
      .finally(() => this.#pending.delete(cleanup));
    this.#pending.add(cleanup);
  }

  /** Waits for the background cleanups started so far. */
  async flush(): Promise<void> {
    while (this.#pending.size) await Promise.all(this.#pending);
  }

  /**
   * Deletes the stamps of `names` in `folder` but the newest this store
   * wrote: one listing of the folder for a batch, one per name for a few.
   */
  async #dropOlder(folder: string, names: Set<string>): Promise<void> {
    const prefixes = names.size > FEW_NAMES
      ? [folder]
      : [...names].map((name) => `${folder}${name}~`);
    const stale: string[] = [];
    for (const prefix of prefixes) {
      for await (
        const page of listObjects(this.#client, prefix, { delimiter: "/" })
      ) {
        for (const object of page.objects) {
          const name = parseStamp(object.key.slice(folder.length))?.[0];
          if (
            name !== undefined && names.has(name) &&
            this.#latest.get(folder + name) !== object.key
          ) stale.push(object.key);
        }
      }
    }
    await this.drop(stale);
    for (const name of names) {
      // Kept while a later batch still needs to know which stamp is new.
      if (!this.#queued.get(folder)?.has(name)) {
        this.#latest.delete(folder + name);
      }
    }
  }

  /** The keys of every stamp of file `name` in folder `dir`. */
  async #keysOf(dir: string[], name: string): Promise<string[]> {
    const folder = this.folderKey(dir);
    const keys: string[] = [];
    for await (
      const page of listObjects(this.#client, `${folder}${name}~`, {
        delimiter: "/",
      })
    ) {
      for (const object of page.objects) {
        if (parseStamp(object.key.slice(folder.length))?.[0] === name) {
          keys.push(object.key);
        }
      }
    }
    return keys;
  }

  /**
   * The stamps under folder `dir`, by path relative to it: one level
   * (`deep` false, names only) or the whole subtree.
   */
  async read(
    dir: string[],
    deep: boolean,
  ): Promise<Map<string, ListedStamp[]>> {
    const prefix = this.folderKey(dir);
    const stamps = new Map<string, ListedStamp[]>();
    const options = deep ? {} : { delimiter: "/" };
    for await (const page of listObjects(this.#client, prefix, options)) {
      for (const object of page.objects) {
        const parsed = parseStamp(object.key.slice(prefix.length));
        if (!parsed) continue;
        const [path, stamp] = parsed;
        const list = stamps.get(path) ?? [];
        list.push({ ...stamp, key: object.key });
        stamps.set(path, list);
      }
    }
    return stamps;
  }

  /** Deletes stamps (best effort: a stale stamp is ignored anyway). */
  async drop(keys: string[]): Promise<void> {
    if (keys.length) await deleteKeys(this.#client, keys).catch(() => {});
  }

  /** Deletes every stamp of file `name` in folder `dir`, or under a folder. */
  async dropPath(dir: string[], name: string, folder: boolean): Promise<void> {
    const keys: string[] = [];
    try {
      if (folder) {
        const prefix = `${this.folderKey(dir)}${name}/`;
        for await (const page of listObjects(this.#client, prefix)) {
          keys.push(...page.objects.map((object) => object.key));
        }
      } else {
        keys.push(...await this.#keysOf(dir, name));
      }
    } catch {
      return;
    }
    await this.drop(keys);
  }
}

/** Splits `PATH~ETAG~MTIME~MODE` from the right; null for anything else. */
function parseStamp(rest: string): [string, Stamp] | null {
  const fields = rest.split("~");
  if (fields.length < 4) return null;
  const [etag, mtime, mode] = fields.slice(-3);
  const path = fields.slice(0, -3).join("~");
  if (!path || !/^\d+$/.test(mtime) || !/^([0-7]{1,6}|-)$/.test(mode)) {
    return null;
  }
  return [path, {
    etag,
    mtime: Number(mtime),
    mode: mode === "-" ? null : parseInt(mode, 8),
  }];
}
