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
import { STAGING_DIR } from "../remote_path.ts";

const SEGMENTS = [STAGING_DIR, "records"] as const;

/** Records kept in the served root's `.fts/records` folder. */
export class LocalFileRecords implements FileRecords {
  #root: ConfinedRoot;

  constructor(root: ConfinedRoot) {
    this.#root = root;
  }

  async load(identity: FileIdentity): Promise<FileRecord | null> {
    try {
      using folder = await this.#root.folder(SEGMENTS, { internal: true });
      const bytes = await Deno.readFile(`${folder.path}/${nameOf(identity)}`);
      const record = decode(bytes);
      return record && sameIdentity(record.identity, identity) ? record : null;
    } catch {
      return null;
    }
  }

  async save(record: FileRecord): Promise<void> {
    const old = await this.load(record.identity);
    const merged: FileRecord = {
      identity: record.identity,
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
