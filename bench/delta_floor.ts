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
 * steps on stderr (`FLOOR` lines). `cases_delta.ts` runs it as the "floor"
 * contender next to fts and rsync on the same shaped link.
 *
 * @module
 */

import {
  ChunkReader,
  type ChunkSource,
} from "../transfer/delta/chunk_reader.ts";
import { Xxh128 } from "../transfer/hash/xxh128.ts";
import type { Contender } from "./alternate.ts";
import { type FtsLauncher, runClient } from "./fts_runner.ts";
import { processCpuSeconds } from "./memory.ts";
import type { ShapedNetns } from "./netns.ts";
import { run, sleep, startBackground } from "./process.ts";

const started = performance.now();
const step = (what: string) =>
  console.error(
    `FLOOR ${Deno.args[0]} ${what} ${
      (performance.now() - started).toFixed(0)
    } ms`,
  );

/** Reads from memory, as a file would. */
function memorySource(bytes: Uint8Array): ChunkSource {
  let at = 0;
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      if (at >= bytes.byteLength) return Promise.resolve(null);
      const n = Math.min(buffer.byteLength, bytes.byteLength - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

/** Chunk lengths and 48-bit hashes of `bytes`. */
async function cut(
  bytes: Uint8Array,
): Promise<{ lengths: number[]; hashes: number[] }> {
  const reader = new ChunkReader(memorySource(bytes));
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

async function receive(oldPath: string, port: number): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log("listening");
  for await (const conn of listener) {
    const t0 = performance.now();
    const old = await Deno.readFile(oldPath);
    const { lengths, hashes } = await cut(old);
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
    const input = new Incoming(conn);
    const size = new DataView((await input.take(8)).slice().buffer).getFloat64(
      0,
    );
    const next = new Uint8Array(size);
    let at = 0;
    for (;;) {
      const head = new DataView((await input.take(9)).slice().buffer);
      const op = head.getUint8(0);
      if (op === 0) break;
      const a = head.getUint32(1);
      const b = head.getUint32(5);
      if (op === 1) {
        next.set(old.subarray(offsets[a], offsets[a + b]), at);
        at += offsets[a + b] - offsets[a];
      } else {
        next.set(await input.take(b), at);
        at += b;
      }
    }
    const digest = new TextDecoder().decode(await input.take(32));
    const hex = new Xxh128().update(next).hex();
    if (at !== size || hex !== digest) {
      throw new Error("floor: digest mismatch");
    }
    const temp = `${oldPath}.floor-tmp`;
    await Deno.writeFile(temp, next);
    await Deno.rename(temp, oldPath);
    await writeAll(conn, new Uint8Array([1]));
    conn.close();
    console.error(
      `FLOOR receive cut+summary ${cutMs.toFixed(0)} ms, all ${
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
    const count = new DataView((await input.take(4)).slice().buffer).getUint32(
      0,
    );
    const bytes = await input.take(6 * count);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const index = new Map<number, number>();
    for (let i = count - 1; i >= 0; i--) {
      index.set(view.getUint16(6 * i) * 2 ** 32 + view.getUint32(6 * i + 2), i);
    }
    return index;
  })();
  const bytes = await Deno.readFile(newPath);
  const digest = new Xxh128().update(bytes).hex();
  step("read+hashed");
  const { lengths, hashes } = await cut(bytes);
  step("cut");
  const index = await summaryIn;
  step("summary in");
  const out: Uint8Array[] = [];
  const size = new Uint8Array(8);
  new DataView(size.buffer).setFloat64(0, bytes.byteLength);
  out.push(size);
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
        out.push(bytes.subarray(offset, offset + lengths[i]));
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
  else {throw new Error(
      "usage: delta_floor.ts receive OLD PORT | send NEW PORT | steps FILE",
    );}
}

/** The unavoidable steps one at a time, in one process: cut, read+hash+write. */
async function steps(path: string): Promise<void> {
  step("started");
  const bytes = await Deno.readFile(path);
  step("read");
  await cut(bytes);
  step("cut (from memory)");
  new Xxh128().update(bytes).hex();
  step("xxh128");
  await Deno.writeFile(`${path}.floor-tmp`, bytes);
  step("written");
  await Deno.remove(`${path}.floor-tmp`);
}

/**
 * The floor as a contender of a shaped `put` case: a receiver holding
 * `oldAt` in namespace `ns` (started here, stopped by the returned `stop`)
 * and a sender of `next` per run, timed like fts's client (wall and CPU);
 * the receiver's CPU is counted as the server's.
 */
export async function floorContender(
  ns: ShapedNetns,
  next: string,
  oldAt: string,
  prepare: () => Promise<void>,
  verify: () => Promise<void>,
  timeoutMs: number,
): Promise<{ contender: Contender; stop: () => Promise<void> }> {
  const program = new URL(import.meta.url).pathname;
  const deno = Deno.execPath();
  const port = 40000 + (Deno.pid % 20000);
  const launcher: FtsLauncher = ns.wrap({
    description: `${deno} run -A ${program}`,
    command: deno,
    prefix: ["run", "-A", program],
    entryFile: program,
  });
  const receiver = startBackground(launcher.command, [
    ...launcher.prefix,
    "receive",
    oldAt,
    String(port),
  ], { timeoutMs: 3_600_000 });
  for (let i = 0; i < 300; i++) {
    const up = await run("ip", [
      "netns",
      "exec",
      ns.name,
      "sh",
      "-c",
      `ss -ltn | grep -q 127.0.0.1:${port}`,
    ], { timeoutMs: 5_000 }).catch(() => null);
    if (up?.success) break;
    await sleep(100);
  }
  const contender: Contender = {
    name: "floor (bench/delta_floor.ts)",
    fts: false,
    description:
      `${launcher.description} send ${next} (receiver: receive ${oldAt})`,
    prepare,
    run: async () => {
      const before = await processCpuSeconds(receiver.pid);
      const result = await runClient(
        launcher,
        ["send", next, String(port)],
        timeoutMs,
      );
      if (!result.success) throw new Error(result.stderr.trim());
      const after = await processCpuSeconds(receiver.pid);
      return {
        seconds: result.seconds,
        clientCpuSeconds: result.cpuSeconds,
        clientPeakKiB: result.peakKiB,
        serverCpuSeconds: before === null || after === null
          ? null
          : after - before,
      };
    },
    verify,
  };
  return { contender, stop: async () => void await receiver.stop() };
}
