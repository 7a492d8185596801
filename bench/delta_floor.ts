/**
 * The floor of a delta put: the smallest Deno programs that do the job the
 * way fts must (no record of the old version, the whole new file verified),
 * with none of fts's protocol, sessions, staging or durability. Run as
 *
 *   deno run -A bench/delta_floor.ts receive OLD PORT   (keeps serving)
 *   deno run -A bench/delta_floor.ts send NEW PORT
 *
 * The receiver reads its old version and cuts it with the project's chunker
 * (`transfer/delta/chunk_reader.ts`), sends the 6-byte chunk hashes, then
 * assembles the new version in memory from the instructions (COPY index
 * count, LITERAL bytes), hashes it whole with the project's XXH3-128,
 * compares with the sender's digest, writes it beside the old one and
 * renames it over. The sender, meanwhile, reads and hashes its file whole
 * and cuts it, then answers the summary. Each side prints the time of its
 * steps on stderr (`FLOOR` lines). `cases_delta_floor.ts` runs it as the "floor"
 * contender next to fts and rsync on the same shaped link.
 *
 * @module
 */

import {
  ChunkReader,
  type ChunkSource,
} from "../transfer/delta/chunk_reader.ts";
import { Xxh128 } from "../transfer/hash/xxh128.ts";

const started = performance.now();
const step = (what: string) =>
  console.error(
    `FLOOR ${Deno.args[0]} ${what} ${
      (performance.now() - started).toFixed(0)
    } ms`,
  );

/**
 * Chunk lengths and 48-bit hashes of the file at `path`, read in the
 * chunker's 4 MiB windows; `onRead` sees every byte read, in order.
 */
async function cut(
  path: string,
  onRead?: (bytes: Uint8Array) => void,
): Promise<{ lengths: number[]; hashes: number[] }> {
  using file = await Deno.open(path);
  const source: ChunkSource = {
    async read(buffer: Uint8Array): Promise<number | null> {
      const n = await file.read(buffer);
      if (n) onRead?.(buffer.subarray(0, n));
      return n;
    },
  };
  const reader = new ChunkReader(source);
  const lengths: number[] = [];
  const hashes: number[] = [];
  for (let c = await reader.next(); c; c = await reader.next()) {
    lengths.push(c.bytes.byteLength);
    hashes.push(c.hash);
  }
  return { lengths, hashes };
}

/** Buffered reads from a connection. */
class Incoming {
  #conn: Deno.Conn;
  #buf = new Uint8Array(1 << 20);
  #start = 0;
  #end = 0;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  async take(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (this.#buf.byteLength - this.#start < n) {
        const grown = new Uint8Array(Math.max(this.#buf.byteLength, n * 2));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#end -= this.#start;
        this.#start = 0;
        this.#buf = grown;
      } else if (this.#buf.byteLength - this.#end < 65536) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.#conn.read(this.#buf.subarray(this.#end));
      if (got === null) throw new Error("connection closed");
      this.#end += got;
    }
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) {
    at += await conn.write(bytes.subarray(at));
  }
}

const PIECE = 4 * 1024 * 1024;

async function receive(oldPath: string, port: number): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log("listening");
  const buffer = new Uint8Array(PIECE);
  for await (const conn of listener) {
    const t0 = performance.now();
    const { lengths, hashes } = await cut(oldPath);
    const offsets = new Float64Array(lengths.length + 1);
    for (let i = 0; i < lengths.length; i++) {
      offsets[i + 1] = offsets[i] + lengths[i];
    }
    const summary = new Uint8Array(4 + 6 * hashes.length);
    const view = new DataView(summary.buffer);
    view.setUint32(0, hashes.length);
    hashes.forEach((h, i) => {
      view.setUint16(4 + 6 * i, Math.floor(h / 2 ** 32));
      view.setUint32(6 + 6 * i, h >>> 0);
    });
    await writeAll(conn, summary);
    const cutMs = performance.now() - t0;
    using old = await Deno.open(oldPath);
    const temp = `${oldPath}.floor-tmp`;
    using out = await Deno.open(temp, {
      write: true,
      create: true,
      truncate: true,
    });
    const hash = new Xxh128();
    const put = async (bytes: Uint8Array) => {
      hash.update(bytes);
      for (let at = 0; at < bytes.byteLength;) {
        at += await out.write(bytes.subarray(at));
      }
    };
    const input = new Incoming(conn);
    let filled = 0;
    let position = -1;
    let size = 0;
    for (;;) {
      const head = new DataView((await input.take(9)).slice().buffer);
      const op = head.getUint8(0);
      if (op === 0) break;
      const a = head.getUint32(1);
      const b = head.getUint32(5);
      if (op === 1) {
        let at = offsets[a];
        const end = offsets[a + b];
        if (at !== position) await old.seek(at, Deno.SeekMode.Start);
        while (at < end) {
          const n = Math.min(end - at, PIECE - filled);
          let got = 0;
          while (got < n) {
            got += (await old.read(buffer.subarray(filled + got, filled + n)))!;
          }
          filled += n;
          at += n;
          if (filled === PIECE) {
            await put(buffer);
            filled = 0;
          }
        }
        position = end;
        size += end - offsets[a];
      } else {
        if (filled) await put(buffer.subarray(0, filled));
        filled = 0;
        await put(await input.take(b));
        size += b;
      }
    }
    if (filled) await put(buffer.subarray(0, filled));
    const digest = new TextDecoder().decode(await input.take(32));
    if (hash.hex() !== digest) throw new Error("floor: digest mismatch");
    out.close();
    await Deno.rename(temp, oldPath);
    await writeAll(conn, new Uint8Array([1]));
    conn.close();
    console.error(
      `FLOOR receive ${size} bytes: cut+summary ${cutMs.toFixed(0)} ms, all ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );
  }
}

async function send(newPath: string, port: number): Promise<void> {
  step("started");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const input = new Incoming(conn);
  const summaryIn = (async () => {
    const count = new DataView((await input.take(4)).slice().buffer)
      .getUint32(0);
    const bytes = await input.take(6 * count);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const index = new Map<number, number>();
    for (let i = count - 1; i >= 0; i--) {
      index.set(view.getUint16(6 * i) * 2 ** 32 + view.getUint32(6 * i + 2), i);
    }
    return index;
  })();
  const hash = new Xxh128();
  const { lengths, hashes } = await cut(newPath, (bytes) => hash.update(bytes));
  const digest = hash.hex();
  step("read+hashed+cut");
  const index = await summaryIn;
  step("summary in");
  using file = await Deno.open(newPath);
  const out: Uint8Array[] = [];
  const op = (code: number, a: number, b: number) => {
    const head = new Uint8Array(9);
    const view = new DataView(head.buffer);
    view.setUint8(0, code);
    view.setUint32(1, a);
    view.setUint32(5, b);
    out.push(head);
  };
  let offset = 0;
  let runStart = -1;
  let runCount = 0;
  for (let i = 0; i < lengths.length; i++) {
    const found = index.get(hashes[i]);
    if (found !== undefined && found === runStart + runCount) {
      runCount++;
    } else {
      if (runCount) op(1, runStart, runCount);
      runCount = 0;
      if (found !== undefined) {
        runStart = found;
        runCount = 1;
      } else {
        op(2, 0, lengths[i]);
        const bytes = new Uint8Array(lengths[i]);
        await file.seek(offset, Deno.SeekMode.Start);
        for (let got = 0; got < bytes.byteLength;) {
          got += (await file.read(bytes.subarray(got)))!;
        }
        out.push(bytes);
      }
    }
    offset += lengths[i];
  }
  if (runCount) op(1, runStart, runCount);
  op(0, 0, 0);
  out.push(new TextEncoder().encode(digest));
  let total = 0;
  for (const part of out) total += part.byteLength;
  const body = new Uint8Array(total);
  total = 0;
  for (const part of out) {
    body.set(part, total);
    total += part.byteLength;
  }
  await writeAll(conn, body);
  step(`sent ${body.byteLength} bytes`);
  await input.take(1);
  step("done");
  conn.close();
}

if (import.meta.main) {
  const [mode, path, port] = Deno.args;
  if (mode === "receive") await receive(path, Number(port));
  else if (mode === "send") await send(path, Number(port));
  else if (mode === "steps") await steps(path);
  else if (mode === "start") step("started"); // start-up alone
  else {
    throw new Error(
      "usage: delta_floor.ts receive OLD PORT | send NEW PORT | steps FILE | start",
    );
  }
}

/**
 * The unavoidable steps one at a time, in one process: read and cut,
 * read and hash, read, hash and write (the receiver's assembly).
 */
async function steps(path: string): Promise<void> {
  step("started");
  await cut(path);
  step("read+cut");
  const hash = new Xxh128();
  await cut(path, (bytes) => hash.update(bytes));
  step("read+cut+xxh128");
  const buffer = new Uint8Array(PIECE);
  {
    using file = await Deno.open(path);
    using out = await Deno.open(`${path}.floor-tmp`, {
      write: true,
      create: true,
      truncate: true,
    });
    const copy = new Xxh128();
    for (let n = await file.read(buffer); n; n = await file.read(buffer)) {
      copy.update(buffer.subarray(0, n));
      await out.write(buffer.subarray(0, n));
    }
  }
  step("read+xxh128+write");
  await Deno.remove(`${path}.floor-tmp`);
}
