/**
 * A streaming, store-only (no compression) zip writer. Each file's CRC-32
 * and size follow its data in a data descriptor, so nothing is staged: bytes
 * go out as they are read. ZIP64 fields are used once a size or an offset no
 * longer fits in 32 bits, or there are more than 65,535 entries.
 *
 * @module
 */

import { crc32 } from "node:zlib";

const MAX32 = 0xffffffff;
const encoder = new TextEncoder();

interface CentralRecord {
  name: Uint8Array;
  crc: number;
  size: number;
  offset: number;
  dosTime: number;
  dosDate: number;
  folder: boolean;
  zip64: boolean;
}

/** MS-DOS date and time of `mtime` (local fields, as zip tools expect). */
function dosDateTime(mtime: number): { dosTime: number; dosDate: number } {
  const d = new Date(Math.max(mtime, Date.UTC(1980, 0, 2)));
  return {
    dosTime: (d.getHours() << 11) | (d.getMinutes() << 5) |
      (d.getSeconds() >> 1),
    dosDate: ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) |
      d.getDate(),
  };
}

/** Writes a zip archive to `out`, one entry at a time. */
export class ZipWriter {
  #out: WritableStreamDefaultWriter<Uint8Array>;
  #offset = 0;
  #records: CentralRecord[] = [];

  constructor(out: WritableStreamDefaultWriter<Uint8Array>) {
    this.#out = out;
  }

  async #emit(bytes: Uint8Array): Promise<void> {
    await this.#out.ready;
    await this.#out.write(bytes);
    this.#offset += bytes.byteLength;
  }

  /** Adds a folder entry (`name` without the trailing slash). */
  async addFolder(name: string, mtime: number): Promise<void> {
    await this.#entry(`${name}/`, mtime, true, null, false);
  }

  /**
   * Adds a file whose bytes come from `chunks`; `sizeHint` decides whether
   * ZIP64 fields are needed (a file that grows past 4 GiB while being read
   * without them is an error).
   */
  async addFile(
    name: string,
    mtime: number,
    sizeHint: number,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    await this.#entry(name, mtime, false, chunks, sizeHint >= MAX32);
  }

  async #entry(
    nameText: string,
    mtime: number,
    folder: boolean,
    chunks: AsyncIterable<Uint8Array> | null,
    zip64: boolean,
  ): Promise<void> {
    const name = encoder.encode(nameText);
    const { dosTime, dosDate } = dosDateTime(mtime);
    const offset = this.#offset;
    const extra = zip64 ? 20 : 0;
    const header = new Uint8Array(30 + name.byteLength + extra);
    const v = new DataView(header.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, zip64 ? 45 : 20, true);
    v.setUint16(6, 0x0808, true); // data descriptor follows; UTF-8 names
    v.setUint16(8, 0, true); // stored
    v.setUint16(10, dosTime, true);
    v.setUint16(12, dosDate, true);
    if (zip64) {
      v.setUint32(18, MAX32, true);
      v.setUint32(22, MAX32, true);
    }
    v.setUint16(26, name.byteLength, true);
    v.setUint16(28, extra, true);
    header.set(name, 30);
    if (zip64) {
      v.setUint16(30 + name.byteLength, 0x0001, true);
      v.setUint16(32 + name.byteLength, 16, true);
    }
    await this.#emit(header);
    let crc = 0;
    let size = 0;
    if (chunks) {
      for await (const chunk of chunks) {
        crc = crc32(chunk, crc);
        size += chunk.byteLength;
        await this.#emit(chunk);
      }
    }
    if (!zip64 && size >= MAX32) {
      throw new Error(`"${nameText}" grew past 4 GiB while being zipped`);
    }
    const descriptor = new Uint8Array(zip64 ? 24 : 16);
    const d = new DataView(descriptor.buffer);
    d.setUint32(0, 0x08074b50, true);
    d.setUint32(4, crc, true);
    if (zip64) {
      d.setBigUint64(8, BigInt(size), true);
      d.setBigUint64(16, BigInt(size), true);
    } else {
      d.setUint32(8, size, true);
      d.setUint32(12, size, true);
    }
    await this.#emit(descriptor);
    this.#records.push({
      name,
      crc,
      size,
      offset,
      dosTime,
      dosDate,
      folder,
      zip64: zip64 || offset >= MAX32,
    });
  }

  /** Writes the central directory and the end records, then closes `out`. */
  async finish(): Promise<void> {
    const start = this.#offset;
    for (const r of this.#records) {
      const extra = r.zip64 ? 28 : 0;
      const rec = new Uint8Array(46 + r.name.byteLength + extra);
      const v = new DataView(rec.buffer);
      v.setUint32(0, 0x02014b50, true);
      v.setUint16(4, (3 << 8) | 45, true); // made by Unix
      v.setUint16(6, r.zip64 ? 45 : 20, true);
      v.setUint16(8, 0x0808, true);
      v.setUint16(10, 0, true);
      v.setUint16(12, r.dosTime, true);
      v.setUint16(14, r.dosDate, true);
      v.setUint32(16, r.crc, true);
      v.setUint32(20, r.zip64 ? MAX32 : r.size, true);
      v.setUint32(24, r.zip64 ? MAX32 : r.size, true);
      v.setUint16(28, r.name.byteLength, true);
      v.setUint16(30, extra, true);
      const mode = r.folder ? 0o40755 : 0o100644;
      v.setUint32(38, ((mode << 16) | (r.folder ? 0x10 : 0)) >>> 0, true);
      v.setUint32(42, r.zip64 ? MAX32 : r.offset, true);
      rec.set(r.name, 46);
      if (r.zip64) {
        const at = 46 + r.name.byteLength;
        v.setUint16(at, 0x0001, true);
        v.setUint16(at + 2, 24, true);
        v.setBigUint64(at + 4, BigInt(r.size), true);
        v.setBigUint64(at + 12, BigInt(r.size), true);
        v.setBigUint64(at + 20, BigInt(r.offset), true);
      }
      await this.#emit(rec);
    }
    const end = this.#offset;
    const count = this.#records.length;
    const cdSize = end - start;
    const needs64 = count > 0xffff || start >= MAX32 || cdSize >= MAX32;
    if (needs64) {
      const z = new Uint8Array(56 + 20);
      const v = new DataView(z.buffer);
      v.setUint32(0, 0x06064b50, true);
      v.setBigUint64(4, 44n, true);
      v.setUint16(12, 45, true);
      v.setUint16(14, 45, true);
      v.setBigUint64(24, BigInt(count), true);
      v.setBigUint64(32, BigInt(count), true);
      v.setBigUint64(40, BigInt(cdSize), true);
      v.setBigUint64(48, BigInt(start), true);
      v.setUint32(56, 0x07064b50, true);
      v.setBigUint64(64, BigInt(end), true);
      v.setUint32(72, 1, true);
      await this.#emit(z);
    }
    const eocd = new Uint8Array(22);
    const v = new DataView(eocd.buffer);
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, Math.min(count, 0xffff), true);
    v.setUint16(10, Math.min(count, 0xffff), true);
    v.setUint32(12, Math.min(cdSize, MAX32), true);
    v.setUint32(16, Math.min(start, MAX32), true);
    await this.#emit(eocd);
    await this.#out.close();
  }
}
