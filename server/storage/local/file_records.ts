/**
 * The local store's per-file records (see `../file_record.ts`): one small
 * file per stored file in `.fts/records`, named by device and inode, so a
 * rename keeps its record and a lookup needs no path. Each holds a JSON
 * line (identity, digests, chunk count) and then the chunk lengths (4 bytes
 * each) and hashes (6 bytes each). About 10 bytes per 11 KiB of file: 230 KB
 * for 256 MiB.
 *
 * A record is written to a temporary name and renamed, so a reader never
 * sees half of one; a damaged or foreign file reads as no record.
 *
 * @module
 */

import {
  CHUNK_HASH_BYTES,
  readHash,
  writeHash,
} from "../../../transfer/delta/chunk_hash.ts";
import {
  type FileIdentity,
  type FileRecord,
  type FileRecords,
  sameIdentity,
} from "../file_record.ts";
import type { ConfinedRoot } from "./confined_root.ts";
import { remoteSegments, STAGING_DIR } from "../remote_path.ts";

const SEGMENTS = [STAGING_DIR, "records"] as const;

/** A temporary record older than this was left by a crash. */
const TEMPORARY_TTL_MS = 3600_000;

/** Enough of a record's head for its JSON line (identity, path, digests). */
const HEAD_BYTES = 16 * 1024;

/** Records kept in the served root's `.fts/records` folder. */
export class LocalFileRecords implements FileRecords {
  #root: ConfinedRoot;
  /** The last record name the previous sweep checked ("" to start over). */
  #cursor = "";

  constructor(root: ConfinedRoot) {
    this.#root = root;
  }

  async load(identity: FileIdentity): Promise<FileRecord | null> {
    try {
      using folder = await this.#root.folder(SEGMENTS, { internal: true });
      const path = `${folder.path}/${nameOf(identity)}`;
      const record = decode(await Deno.readFile(path));
      if (record && sameIdentity(record.identity, identity)) return record;
      // The inode now holds a newer version than the record's: the record
      // can never match again. (One newer than `identity` is kept: it was
      // written after this file was opened.)
      if (!record || record.identity.ctime <= identity.ctime) {
        await Deno.remove(path).catch(() => {});
      }
      return null;
    } catch {
      return null;
    }
  }

  async sweep(limit: number): Promise<number> {
    let folder;
    try {
      folder = await this.#root.folder(SEGMENTS, { internal: true });
    } catch {
      return 0;
    }
    using _ = folder;
    const names: string[] = [];
    for await (const item of Deno.readDir(folder.path)) {
      if (item.isFile) names.push(item.name);
    }
    names.sort();
    const found = names.findIndex((name) => name > this.#cursor);
    const start = found < 0 ? 0 : found;
    const batch = names.slice(start, start + limit);
    this.#cursor = start + limit < names.length ? batch[batch.length - 1] : "";
    let removed = 0;
    for (const name of batch) {
      const path = `${folder.path}/${name}`;
      if (await this.#stale(path, name)) {
        await Deno.remove(path).then(() => removed++, () => {});
      }
    }
    return removed;
  }

  /**
   * Whether record file `path` is of no use any more: damaged, a crashed
   * save's temporary, or of a file that is gone, replaced or changed since
   * (looked up at the path it was recorded for). A file renamed since loses
   * its record too: it is hashed again when next asked for.
   */
  async #stale(path: string, name: string): Promise<boolean> {
    try {
      if (name.includes(".")) {
        const info = await Deno.lstat(path);
        return Date.now() - (info.mtime?.getTime() ?? 0) > TEMPORARY_TTL_MS;
      }
      const record = await readHead(path);
      if (!record) return true;
      if (record.path === undefined) return false;
      const { parent, name: last } = await this.#root.locate(
        remoteSegments(record.path),
      );
      using _ = parent;
      const info = await Deno.lstat(`${parent.path}/${last}`);
      return !info.isFile || !sameIdentity(record.identity, {
        dev: info.dev ?? 0,
        ino: info.ino ?? 0,
        size: info.size,
        mtime: info.mtime?.getTime() ?? 0,
        ctime: info.ctime?.getTime() ?? 0,
      });
    } catch (error) {
      return error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotADirectory;
    }
  }

  async save(record: FileRecord): Promise<void> {
    const old = await this.load(record.identity);
    const merged: FileRecord = {
      identity: record.identity,
      path: record.path ?? old?.path,
      digests: { ...old?.digests, ...record.digests },
      summary: record.summary ?? old?.summary,
    };
    using folder = await this.#root.folder(SEGMENTS, {
      create: true,
      internal: true,
    });
    const name = nameOf(record.identity);
    const temporary = `${folder.path}/${name}.${crypto.randomUUID()}`;
    try {
      await Deno.writeFile(temporary, encode(merged), { mode: 0o600 });
      await Deno.rename(temporary, `${folder.path}/${name}`);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
  }

  async drop(identity: FileIdentity): Promise<void> {
    try {
      using folder = await this.#root.folder(SEGMENTS, { internal: true });
      await Deno.remove(`${folder.path}/${nameOf(identity)}`);
    } catch {
      // No record: nothing to forget.
    }
  }
}

/** The identity and path in a record's JSON line; null when damaged. */
async function readHead(
  path: string,
): Promise<Pick<FileRecord, "identity" | "path"> | null> {
  using file = await Deno.open(path);
  const head = new Uint8Array(HEAD_BYTES);
  const n = await file.read(head) ?? 0;
  const end = head.subarray(0, n).indexOf(0x0a);
  if (end < 0) return null;
  try {
    const header = JSON.parse(decoder.decode(head.subarray(0, end)));
    if (typeof header.identity !== "object" || header.identity === null) {
      return null;
    }
    return {
      identity: header.identity,
      path: typeof header.path === "string" ? header.path : undefined,
    };
  } catch {
    return null;
  }
}

function nameOf(identity: FileIdentity): string {
  return `${identity.dev}-${identity.ino}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encode(record: FileRecord): Uint8Array {
  const chunks = record.summary?.chunks;
  const header = encoder.encode(
    JSON.stringify({
      identity: record.identity,
      path: record.path,
      digests: record.digests,
      chunking: record.summary?.chunking,
      count: chunks?.count ?? 0,
    }) + "\n",
  );
  const count = chunks?.count ?? 0;
  const bytes = new Uint8Array(
    header.byteLength + count * (4 + CHUNK_HASH_BYTES),
  );
  bytes.set(header);
  const view = new DataView(bytes.buffer);
  let at = header.byteLength;
  for (let i = 0; i < count; i++, at += 4) {
    view.setUint32(at, chunks!.lengths[i], true);
  }
  for (let i = 0; i < count; i++, at += CHUNK_HASH_BYTES) {
    writeHash(bytes, at, chunks!.hashes[i]);
  }
  return bytes;
}

function decode(bytes: Uint8Array): FileRecord | null {
  const end = bytes.indexOf(0x0a);
  if (end < 0) return null;
  const header = JSON.parse(decoder.decode(bytes.subarray(0, end)));
  const count: number = header.count;
  let at = end + 1;
  if (bytes.byteLength !== at + count * (4 + CHUNK_HASH_BYTES)) return null;
  const record: FileRecord = {
    identity: header.identity,
    digests: header.digests ?? {},
  };
  if (typeof header.path === "string") record.path = header.path;
  if (typeof header.chunking === "string") {
    const lengths = new Uint32Array(count);
    const hashes = new Float64Array(count);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let i = 0; i < count; i++, at += 4) {
      lengths[i] = view.getUint32(at, true);
    }
    for (let i = 0; i < count; i++, at += CHUNK_HASH_BYTES) {
      hashes[i] = readHash(bytes, at);
    }
    record.summary = {
      chunking: header.chunking,
      chunks: { count, lengths, hashes },
    };
  }
  return record;
}
