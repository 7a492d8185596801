/**
 * The S3 backend: a {@linkcode Store} over one bucket and key prefix
 * (`fts serve s3://BUCKET/PREFIX`), for AWS S3 and S3-compatible stores
 * (Ceph RADOS Gateway, MinIO, Garage, R2).
 *
 * The model is the one rclone and s3fs use, so objects stay ordinary objects
 * any S3 tool can read and write:
 * - a file `docs/a.txt` is the object `PREFIX/docs/a.txt`;
 * - a folder is a key prefix `PREFIX/docs/`; `mkdir` writes a zero-byte
 *   marker object with that key so that empty folders exist;
 * - the modification time and permission bits travel in the object's
 *   metadata (`x-amz-meta-mtime`, seconds; `x-amz-meta-mode`, octal);
 * - fts's own records (unfinished uploads, and the stamps that let a listing
 *   show mtimes without a HEAD per file: `s3_stamps.ts`) live under
 *   `PREFIX/.fts/`, a name no remote path can reach.
 *
 * Confinement is lexical and complete: every key is built here from
 * `remoteSegments`, so it starts with PREFIX and holds no `.`, `..` or empty
 * segment. Keys other tools made with such segments (or a backslash or NUL)
 * cannot be named by any remote path: `list` leaves them out and `walk`
 * reports each one by name as an error item, so `get -r` says what it skipped.
 *
 * Not atomic on S3: moving or copying a folder (object by object, then the
 * sources deleted), `rm -r` (batches of 1,000), and `noClobber` (checked with
 * a HEAD just before, and sent as `If-None-Match: *` where the store honours
 * it). A single file's replacement is atomic for readers.
 *
 * @module
 */

import { pooledMap } from "../pooled_map.ts";
import {
  AlreadyExistsError,
  type Entry,
  type FtsError,
  InvalidPathError,
  NotFoundError,
  WrongTypeError,
} from "../../../protocol/mod.ts";
import {
  newNameSegments,
  remoteSegments,
  STAGING_DIR,
} from "../remote_path.ts";
import { deleteKeys, type ListedObject, listObjects } from "./bucket.ts";
import { DEFAULT_RETRY, type RetryPolicy, S3Client } from "./client.ts";
import { s3ConfigFrom, type S3ConfigOverrides } from "./config.ts";
import {
  entryFromHeaders,
  modeFromMeta,
  mtimeFromMeta,
  S3ReadHandle,
} from "./read_handle.ts";
import {
  DEFAULT_TUNING,
  metaHeaders,
  S3Upload,
  sweepUploads,
  type UploadTuning,
} from "./upload.ts";
import type {
  Store,
  StoreCapabilities,
  UploadOptions,
  WalkItem,
} from "../store.ts";
import { bareEtag, type ListedStamp, type Stamp, Stamps } from "./stamps.ts";
import {
  copyObject,
  type CopyTuning,
  DEFAULT_COPY,
  metadataOf,
} from "./copy.ts";

/** What `move` and `copy` may be told: not to replace an existing target. */
type Clobbering = { noClobber?: boolean };

/** How an {@linkcode S3Store} is opened. */
export interface S3StoreOptions extends S3ConfigOverrides {
  /** Part size and parallelism of uploads. */
  tuning?: UploadTuning;
  /** When copies (mv, cp, time and mode changes) go multipart. */
  copy?: CopyTuning;
  /** Retries and time limits of every request. */
  retry?: RetryPolicy;
  /** HEAD requests in flight while listing (one per file without a stamp). */
  headConcurrency?: number;
}

/** S3 keys are at most 1,024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;
/** Objects copied at the same time when a folder moves or is copied. */
const COPY_CONCURRENCY = 8;
const FOLDER_TYPE = "application/x-directory";
const encoder = new TextEncoder();

/** Whether a name another tool gave a key can be shown as an fts name. */
function safeName(name: string, atRoot: boolean): boolean {
  return name !== "" && name !== "." && name !== ".." &&
    !name.includes("\\") && !name.includes("\0") &&
    !(atRoot && name.toLowerCase() === STAGING_DIR);
}

function folderEntry(name: string, mtime: number, mode: number | null): Entry {
  return { name, type: "dir", size: 0, mtime, mode };
}

/**
 * A bucket and prefix served as a folder tree.
 *
 * @example
 * ```ts
 * const store = await S3Store.open("s3://team-files/fts");
 * await store.mkdirp("docs");
 * console.log(await store.list("docs"));
 * ```
 */
export class S3Store implements Store {
  readonly capabilities: StoreCapabilities = {
    atomicFolderMove: false,
    modes: true,
    symlinks: false,
    emptyFolders: true,
  };
  /** The client, for tests and tuning. */
  readonly client: S3Client;
  #prefix: string;
  #staging: string;
  #stamps: Stamps;
  #tuning: UploadTuning;
  #copy: CopyTuning;
  #headConcurrency: number;

  private constructor(
    client: S3Client,
    prefix: string,
    options: S3StoreOptions,
  ) {
    this.client = client;
    this.#prefix = prefix;
    this.#staging = `${prefix}${STAGING_DIR}/uploads/`;
    this.#stamps = new Stamps(client, `${prefix}${STAGING_DIR}/stamps/`);
    this.#tuning = options.tuning ?? DEFAULT_TUNING;
    this.#copy = options.copy ?? DEFAULT_COPY;
    this.#headConcurrency = options.headConcurrency ?? 16;
  }

  /**
   * Opens `s3://BUCKET[/PREFIX]` with credentials from the environment, and
   * checks at once that the bucket answers, so a wrong bucket or key fails
   * `fts serve` with one line instead of every later request.
   */
  static async open(
    target: string,
    options: S3StoreOptions = {},
  ): Promise<S3Store> {
    const config = s3ConfigFrom(target, options);
    const client = await S3Client.create(
      config,
      options.retry ?? DEFAULT_RETRY,
    );
    const store = new S3Store(client, config.prefix, options);
    for await (
      const _ of listObjects(client, config.prefix, { maxKeys: 1 })
    ) break;
    return store;
  }

  async stat(path: string): Promise<Entry> {
    const segments = remoteSegments(path);
    if (segments.length === 0) return folderEntry("", 0, null);
    const key = this.#keyOf(segments);
    const name = segments[segments.length - 1];
    const head = await this.client.send(
      { method: "HEAD", key, accept: [404] },
      path,
    );
    if (head.status !== 404) return entryFromHeaders(name, head.headers);
    const folder = await this.#folder(key + "/", name, path);
    if (folder) return folder;
    throw new NotFoundError("no such file or folder on the server");
  }

  async list(path: string): Promise<Entry[]> {
    const segments = remoteSegments(path);
    const dir = this.#dirOf(segments);
    const files = new Map<string, ListedObject>();
    const folders = new Set<string>();
    let exists = segments.length === 0;
    const stamps = this.#stamps.read(segments, false);
    stamps.catch(() => {}); // awaited below; an early listing error wins
    for await (
      const page of listObjects(this.client, dir, {
        delimiter: "/",
        what: path,
      })
    ) {
      for (const object of page.objects) {
        exists = true;
        const name = object.key.slice(dir.length);
        if (safeName(name, segments.length === 0)) files.set(name, object);
      }
      for (const prefix of page.prefixes) {
        exists = true;
        const name = prefix.slice(dir.length, -1);
        if (safeName(name, segments.length === 0)) folders.add(name);
      }
    }
    if (!exists) await this.#notAFolder(segments, path);
    const names = [...new Set([...files.keys(), ...folders])].sort();
    const known = await this.#matchStamps(
      await stamps.catch(() => new Map()),
      files,
    );
    const described = pooledMap(
      this.#headConcurrency,
      names,
      (name) =>
        files.has(name)
          ? this.#fileEntry(dir + name, name, files.get(name)!, path, known)
          : this.#markerEntry(dir + name + "/", name, path),
    );
    const entries: Entry[] = [];
    for await (const entry of described) if (entry) entries.push(entry);
    return entries;
  }

  async open(path: string, offset = 0): Promise<S3ReadHandle> {
    const segments = remoteSegments(path);
    if (segments.length === 0) throw new WrongTypeError(`"" is a folder`);
    const key = this.#keyOf(segments);
    try {
      return await S3ReadHandle.open(
        this.client,
        key,
        path,
        segments[segments.length - 1],
        offset,
      );
    } catch (error) {
      if (
        error instanceof NotFoundError &&
        await this.#folder(key + "/", "", path)
      ) {
        throw new WrongTypeError(`"${path}" is a folder`);
      }
      throw error;
    }
  }

  async beginUpload(path: string, options: UploadOptions): Promise<S3Upload> {
    const segments = newNameSegments(path);
    if (segments.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be replaced");
    }
    const key = this.#keyOf(segments);
    if (!options.fresh) {
      await this.#requireParent(segments);
      if (await this.#folder(key + "/", "", path)) {
        throw new WrongTypeError(`"${path}" is a folder`);
      }
    }
    return await S3Upload.begin({
      client: this.client,
      key,
      path,
      staging: this.#staging,
      tuning: this.#tuning,
      copy: this.#copy,
      onCommit: (stamp) =>
        this.#stamps.put(segments.slice(0, -1), segments.at(-1)!, stamp, {
          older: !options.fresh,
        }),
    }, options);
  }

  async mkdirp(path: string): Promise<void> {
    const segments = newNameSegments(path);
    for (let depth = 1; depth <= segments.length; depth++) {
      const key = this.#keyOf(segments.slice(0, depth));
      const what = segments.slice(0, depth).join("/");
      const marker = await this.client.send(
        { method: "HEAD", key: key + "/", accept: [404] },
        what,
      );
      if (marker.status !== 404) continue;
      const file = await this.client.send(
        { method: "HEAD", key, accept: [404] },
        what,
      );
      if (file.status !== 404) {
        throw new AlreadyExistsError(
          `"${segments[depth - 1]}" exists and is a file`,
        );
      }
      await this.#putMarker(key + "/", Date.now(), null, what);
    }
  }

  async remove(
    path: string,
    options: { recursive?: boolean } = {},
  ): Promise<void> {
    const segments = remoteSegments(path);
    if (segments.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be removed");
    }
    const key = this.#keyOf(segments);
    const head = await this.client.send(
      { method: "HEAD", key, accept: [404] },
      path,
    );
    const [parent, name] = [segments.slice(0, -1), segments.at(-1)!];
    if (head.status !== 404) {
      await this.client.send({ method: "DELETE", key }, path);
      await this.#stamps.dropPath(parent, name, false);
    } else {
      const dir = key + "/";
      let found = false;
      for await (const page of listObjects(this.client, dir, { what: path })) {
        const keys = page.objects.map((object) => object.key);
        if (keys.length === 0) continue;
        found = true;
        if (!options.recursive && keys.some((k) => k !== dir)) {
          throw new WrongTypeError(`the folder "${path}" is not empty`);
        }
        await deleteKeys(this.client, keys, path);
      }
      if (!found) {
        throw new NotFoundError("no such file or folder on the server");
      }
      await this.#stamps.dropPath(parent, name, true);
    }
    await this.#keepParent(segments);
  }

  async move(from: string, to: string, options: Clobbering = {}) {
    await this.#transfer(from, to, options.noClobber ?? false, true);
  }

  async copy(from: string, to: string, options: Clobbering = {}) {
    await this.#transfer(from, to, options.noClobber ?? false, false);
  }

  async setMeta(
    path: string,
    meta: { mode?: number; mtime?: number },
  ): Promise<void> {
    const segments = remoteSegments(path);
    if (segments.length === 0) return; // the root has no object to hold it
    const key = this.#keyOf(segments);
    const head = await this.client.send(
      { method: "HEAD", key, accept: [404] },
      path,
    );
    if (head.status !== 404) {
      const entry = entryFromHeaders("", head.headers);
      const mtime = meta.mtime ?? entry.mtime;
      const mode = meta.mode ?? entry.mode;
      const etag = await copyObject(this.client, {
        from: key,
        to: key,
        what: path,
        size: entry.size,
        meta: {
          ...metadataOf(head.headers),
          ...metaHeaders(mtime, mode),
        },
      }, this.#copy);
      await this.#stamps.put(segments.slice(0, -1), segments.at(-1)!, {
        etag,
        mtime,
        mode,
      });
      return;
    }
    const folder = await this.#folder(key + "/", "", path);
    if (!folder) {
      throw new NotFoundError("no such file or folder on the server");
    }
    await this.#putMarker(
      key + "/",
      meta.mtime ?? folder.mtime,
      meta.mode ?? folder.mode,
      path,
    );
  }

  /**
   * Walks the tree under folder `path`, depth first, names sorted; item paths
   * are relative to `path`. The keys come from one flat listing (1,000 a
   * request); each file and marker is then described with a HEAD, for its
   * metadata. A key no remote path can name is yielded as an error item.
   */
  async *walk(path: string): AsyncIterable<WalkItem> {
    const segments = remoteSegments(path);
    const dir = this.#dirOf(segments);
    if (segments.length > 0 && !(await this.#folder(dir, "", path))) {
      await this.#notAFolder(segments, path);
    }
    const stamps = this.#stamps.read(segments, true);
    stamps.catch(() => {}); // awaited below; an early listing error wins
    type Item = { path: string; parts: string[]; object?: ListedObject };
    const items = new Map<string, Item>();
    const refused: WalkItem[] = [];
    try {
      for await (const page of listObjects(this.client, dir, { what: path })) {
        for (const object of page.objects) {
          const rest = object.key.slice(dir.length);
          if (rest === "") continue; // the folder's own marker
          const parts = rest.split("/");
          const isMarker = parts[parts.length - 1] === "";
          if (isMarker) parts.pop();
          const atRoot = segments.length === 0;
          if (!parts.every((part, i) => safeName(part, atRoot && i === 0))) {
            if (!(atRoot && parts[0].toLowerCase() === STAGING_DIR)) {
              refused.push({
                path: rest,
                error: new InvalidPathError(
                  `the object key ${
                    JSON.stringify(rest)
                  } has no safe fts name; skipped`,
                ),
              });
            }
            continue;
          }
          for (let depth = 1; depth < parts.length; depth++) {
            const folder = parts.slice(0, depth).join("/");
            if (!items.has(folder)) {
              items.set(folder, { path: folder, parts: parts.slice(0, depth) });
            }
          }
          const itemPath = parts.join("/");
          const known = items.get(itemPath);
          if (isMarker) {
            if (!known) items.set(itemPath, { path: itemPath, parts });
          } else {
            // A file wins over a folder of the same name, as in list.
            items.set(itemPath, { path: itemPath, parts, object });
          }
        }
      }
    } catch (error) {
      yield { path: "", error: error as Error };
      return;
    }
    yield* refused;
    const files = new Map<string, ListedObject>();
    for (const item of items.values()) {
      if (item.object) files.set(item.path, item.object);
    }
    let known = new Map<string, Stamp>();
    try {
      known = await this.#matchStamps(await stamps, files);
    } catch {
      // Without stamps every file is asked with a HEAD.
    }
    const ordered = [...items.values()].sort((a, b) =>
      compareParts(a.parts, b.parts)
    );
    const described = pooledMap(
      this.#headConcurrency,
      ordered,
      async (item) => {
        const name = item.parts[item.parts.length - 1];
        const key = dir + item.path;
        try {
          const entry = item.object
            ? await this.#fileEntry(key, name, item.object, path, known)
            : await this.#markerEntry(key + "/", name, path);
          return entry ? { path: item.path, entry } : null;
        } catch (error) {
          return { path: item.path, error: error as Error };
        }
      },
    );
    for await (const item of described) if (item) yield item as WalkItem;
  }

  /**
   * Aborts fts's unfinished uploads older than `ttlMs` and deletes their
   * records (the S3 side of `--partial-ttl`).
   *
   * @returns how many uploads were aborted.
   */
  async sweep(ttlMs: number): Promise<number> {
    return await sweepUploads(this.client, this.#prefix, this.#staging, ttlMs);
  }

  /** Waits for background work (the cleanup of replaced stamps). */
  async flush(): Promise<void> {
    await this.#stamps.flush();
  }

  /** Nothing to release but background work: waits for it. */
  async close(): Promise<void> {
    await this.flush();
  }

  /** The key of a path's segments (already normalised). */
  #keyOf(segments: string[]): string {
    const key = this.#prefix + segments.join("/");
    if (encoder.encode(key).length >= MAX_KEY_BYTES) {
      throw new InvalidPathError(
        "the path is too long for the object store (keys hold 1,024 bytes)",
      );
    }
    return key;
  }

  /** The key prefix of a folder's contents (`PREFIX/` itself for the root). */
  #dirOf(segments: string[]): string {
    return segments.length ? this.#keyOf(segments) + "/" : this.#prefix;
  }

  /** A folder's entry if anything is under `dir` (its marker or objects). */
  async #folder(
    dir: string,
    name: string,
    what: string,
  ): Promise<Entry | null> {
    for await (
      const page of listObjects(this.client, dir, { maxKeys: 1, what })
    ) {
      const [first] = page.objects;
      if (!first) return null;
      if (first.key === dir) {
        return await this.#markerEntry(dir, name, what) ??
          folderEntry(name, first.lastModified, null);
      }
      return folderEntry(name, first.lastModified, null);
    }
    return null;
  }

  /** Whether nothing but its marker is under folder prefix `dir`. */
  async #emptyFolder(dir: string, what: string): Promise<boolean> {
    for await (
      const page of listObjects(this.client, dir, { maxKeys: 2, what })
    ) return page.objects.every((object) => object.key === dir);
    return true;
  }

  /** Why a path with nothing under it cannot be listed. */
  async #notAFolder(segments: string[], path: string): Promise<never> {
    if (segments.length > 0) {
      const head = await this.client.send(
        { method: "HEAD", key: this.#keyOf(segments), accept: [404] },
        path,
      );
      if (head.status !== 404) {
        throw new WrongTypeError(`"${path}" is not a folder`);
      }
    }
    throw new NotFoundError("no such file or folder on the server");
  }

  /**
   * A file's entry: from its stamp when `known` has one for this key,
   * otherwise from a HEAD (its metadata); null if it went away.
   */
  async #fileEntry(
    key: string,
    name: string,
    listed: ListedObject,
    what: string,
    known: Map<string, Stamp>,
  ): Promise<Entry | null> {
    const stamp = known.get(listed.key);
    if (stamp) {
      return {
        name,
        type: "file",
        size: listed.size,
        mtime: stamp.mtime,
        mode: stamp.mode,
      };
    }
    const head = await this.client.send(
      { method: "HEAD", key, accept: [404] },
      what,
    );
    if (head.status === 404) return null;
    const entry = entryFromHeaders(name, head.headers);
    return { ...entry, size: entry.size || listed.size };
  }

  /**
   * Pairs listed files with their stamps (same relative path, same ETag,
   * and no disagreeing twin), by key, and deletes the stamps that no longer
   * match their object.
   */
  async #matchStamps(
    stamps: Map<string, ListedStamp[]>,
    files: Map<string, ListedObject>,
  ): Promise<Map<string, Stamp>> {
    const known = new Map<string, Stamp>();
    const stale: string[] = [];
    for (const [path, list] of stamps) {
      const object = files.get(path);
      const matching = list.filter((stamp) =>
        object && bareEtag(object.etag) === stamp.etag
      );
      stale.push(
        ...list.filter((stamp) => !matching.includes(stamp)).map((s) => s.key),
      );
      // Two stamps for the same content (a commit not done cleaning up):
      // trust neither, ask the object.
      const [first] = matching;
      if (
        object && first &&
        matching.every((stamp) =>
          stamp.mtime === first.mtime && stamp.mode === first.mode
        )
      ) known.set(object.key, first);
    }
    await this.#stamps.drop(stale);
    return known;
  }

  /** A folder's entry from its marker's metadata (a bare prefix: time 0). */
  async #markerEntry(
    marker: string,
    name: string,
    what: string,
  ): Promise<Entry> {
    const head = await this.client.send(
      { method: "HEAD", key: marker, accept: [404] },
      what,
    );
    if (head.status === 404) return folderEntry(name, 0, null);
    return folderEntry(
      name,
      mtimeFromMeta(head.headers.get("x-amz-meta-mtime")) ??
        (Date.parse(head.headers.get("last-modified") ?? "") || 0),
      modeFromMeta(head.headers.get("x-amz-meta-mode")),
    );
  }

  async #putMarker(
    marker: string,
    mtime: number,
    mode: number | null,
    what: string,
  ): Promise<void> {
    await this.client.send({
      method: "PUT",
      key: marker,
      body: new Uint8Array(0),
      headers: {
        "content-type": FOLDER_TYPE,
        ...metaHeaders(mtime, mode, true),
      },
    }, what);
  }

  /** The parent of a new path must be a folder (the root always is). */
  async #requireParent(segments: string[]): Promise<void> {
    const parent = segments.slice(0, -1);
    if (parent.length === 0) return;
    const what = parent.join("/");
    const marker = this.#keyOf(parent) + "/";
    // A marker answers with a HEAD (fast); a bare prefix needs a listing.
    const head = await this.client.send(
      { method: "HEAD", key: marker, accept: [404] },
      what,
    );
    if (head.status === 404 && !(await this.#folder(marker, "", what))) {
      await this.#notAFolder(parent, what).catch((error: FtsError) => {
        throw error instanceof NotFoundError
          ? new NotFoundError(
            `the folder "${what}" does not exist on the server`,
          )
          : error;
      });
    }
  }

  /**
   * After its last entry went away, a folder with no marker would vanish
   * too; give it a marker, as a local folder stays when emptied.
   */
  async #keepParent(segments: string[]): Promise<void> {
    const parent = segments.slice(0, -1);
    if (parent.length === 0) return;
    const what = parent.join("/");
    const marker = this.#keyOf(parent) + "/";
    if (!(await this.#folder(marker, "", what))) {
      await this.#putMarker(marker, Date.now(), null, what);
    }
  }

  /** Copies (and with `remove`, moves) a file or folder. */
  async #transfer(
    from: string,
    to: string,
    noClobber: boolean,
    remove: boolean,
  ): Promise<void> {
    const source = remoteSegments(from);
    const target = newNameSegments(to);
    if (source.length === 0 || target.length === 0) {
      throw new InvalidPathError("the served folder itself cannot be moved");
    }
    const fromKey = this.#keyOf(source);
    const toKey = this.#keyOf(target);
    if (fromKey === toKey) return;
    if (toKey.startsWith(fromKey + "/")) {
      throw new InvalidPathError("a folder cannot go inside itself");
    }
    await this.#requireParent(target);
    const head = await this.client.send(
      { method: "HEAD", key: fromKey, accept: [404] },
      from,
    );
    const targetFile = await this.client.send(
      { method: "HEAD", key: toKey, accept: [404] },
      to,
    );
    const targetFolder = await this.#folder(toKey + "/", "", to);
    if (noClobber && (targetFile.status !== 404 || targetFolder)) {
      throw new AlreadyExistsError(`"${to}" already exists`);
    }
    if (head.status !== 404) {
      if (targetFolder) throw new WrongTypeError(`"${to}" is a folder`);
      const entry = entryFromHeaders("", head.headers);
      const etag = await copyObject(
        this.client,
        { from: fromKey, to: toKey, what: to, size: entry.size },
        this.#copy,
      );
      await this.#stamps.put(target.slice(0, -1), target.at(-1)!, {
        etag,
        mtime: entry.mtime,
        mode: entry.mode,
      });
      if (remove) {
        await this.client.send({ method: "DELETE", key: fromKey }, from);
        await this.#stamps.dropPath(source.slice(0, -1), source.at(-1)!, false);
      }
    } else {
      if (targetFile.status !== 404) {
        throw new WrongTypeError(`"${to}" is not a folder`);
      }
      // As rename(2): a folder may replace an empty folder, never merge
      // into a full one.
      if (targetFolder && !(await this.#emptyFolder(toKey + "/", to))) {
        throw new WrongTypeError(`the folder "${to}" is not empty`);
      }
      const dir = fromKey + "/";
      const objects: ListedObject[] = [];
      for await (const page of listObjects(this.client, dir, { what: from })) {
        objects.push(...page.objects);
      }
      if (objects.length === 0) {
        throw new NotFoundError("no such file or folder on the server");
      }
      const copies = pooledMap(COPY_CONCURRENCY, objects, async (object) => {
        try {
          await copyObject(this.client, {
            from: object.key,
            to: toKey + "/" + object.key.slice(dir.length),
            what: to,
            size: object.size,
          }, this.#copy);
        } catch (error) {
          return error as Error;
        }
      });
      for await (const failed of copies) if (failed) throw failed;
      if (remove) {
        await deleteKeys(this.client, objects.map((o) => o.key), from);
        await this.#stamps.dropPath(source.slice(0, -1), source.at(-1)!, true);
      }
    }
    if (remove) await this.#keepParent(source);
  }
}

/** Orders paths depth first: by segment, so `a/b` comes before `a.b`. */
function compareParts(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}
