/**
 * The delta algorithm alone, on files in a temp folder: a new version
 * rebuilt from the old one's chunks and the delta is byte-exact, and the
 * new bytes sent stay small for edits, inserts and appends, while unrelated
 * content and a file of one repeated block stay bounded.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { ProtocolError } from "../protocol/errors.ts";
import {
  applyDelta,
  type DeltaWatcher,
} from "../transfer/delta/delta_apply.ts";
import { encodeDelta } from "../transfer/delta/delta_encoder.ts";
import { type DeltaStats, emptyStats } from "../transfer/delta/delta_ops.ts";
import { chunkEnd, MAX_CHUNK, MIN_CHUNK } from "../transfer/delta/gear.ts";
import { GearWindow } from "../transfer/delta/gear_wasm.ts";
import { chunkHash } from "../transfer/delta/chunk_hash.ts";
import {
  ChunkIndex,
  chunkOffsets,
  type ChunkSummary,
  DerivedSummary,
  encodeHashes,
  summarize,
} from "../transfer/delta/summary.ts";
import { randomBytes } from "./helpers/cli.ts";
import { summaryOfBytes } from "./helpers/memory_summary.ts";
import { concat } from "@std/bytes/concat";
import { HeadStart } from "../transfer/delta/head_start.ts";

const MiB = 1024 * 1024;

/** Rebuilds `next` from `old` through a delta; returns what it cost. */
async function roundTrip(
  old: Uint8Array,
  next: Uint8Array,
  from = 0,
  watch?: (summary: ChunkSummary) => DeltaWatcher,
  headStart?: { stopAfter: number },
): Promise<{ sent: DeltaStats; received: DeltaStats; wire: number }> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(join(dir, "old"), old);
    await Deno.writeFile(join(dir, "new"), next);
    using oldFile = await Deno.open(join(dir, "old"));
    const summary = await summarize(oldFile);
    const index = ChunkIndex.fromWire(encodeHashes(summary));
    using newFile = await Deno.open(join(dir, "new"));
    const sent = emptyStats();
    const pieces: Uint8Array[] = [];
    const seen: Uint8Array[] = [next.subarray(0, from)];
    const onBytes = (bytes: Uint8Array) => void seen.push(bytes.slice());
    const head = headStart
      ? await startedHead(newFile, onBytes, headStart.stopAfter)
      : undefined;
    for await (
      const piece of encodeDelta(newFile, index, {
        stats: sent,
        from,
        onBytes,
        head,
      })
    ) {
      pieces.push(piece.slice());
    }
    // The checksum sees every byte once, in order.
    assertSameBytes(seen, next, "checksummed");
    const received = emptyStats();
    const out: Uint8Array[] = [next.subarray(0, from)];
    await applyDelta(
      (async function* () {
        yield* pieces;
      })(),
      oldFile,
      chunkOffsets(summary),
      (bytes) => Promise.resolve(void out.push(bytes.slice())),
      received,
      undefined,
      watch?.(summary),
    );
    assertSameBytes(out, next, "rebuilt");
    const wire = pieces.reduce((sum, piece) => sum + piece.byteLength, 0) +
      encodeHashes(summary).byteLength;
    return { sent, received, wire };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts that `parts`, joined, are exactly `expected`. */
function assertSameBytes(
  parts: Uint8Array[],
  expected: Uint8Array,
  what: string,
): void {
  const joined = concat(parts) as Uint8Array;
  assertEquals(joined.byteLength, expected.byteLength, `${what}: length`);
  assert(joined.every((byte, i) => byte === expected[i]), `${what} differs`);
}

/**
 * A head start on `file` stopped once it listed `stopAfter` chunks (or
 * reached the end): where it stops must not change the outcome.
 */
async function startedHead(
  file: Deno.FsFile,
  onBytes: (bytes: Uint8Array) => void,
  stopAfter: number,
): Promise<{ start: HeadStart; chunks: ChunkSummary }> {
  const size = (await file.stat()).size;
  const start = new HeadStart(file, onBytes);
  for (let i = 0; i < 100_000 && start.listed < stopAfter; i++) {
    if (start.reader.position >= size) break;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return { start, chunks: await start.stop() };
}

Deno.test("chunk sizes stay within their bounds and average near 11 KiB", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(join(dir, "f"), randomBytes(16 * MiB));
    using file = await Deno.open(join(dir, "f"));
    const summary = await summarize(file);
    const lengths = [...summary.lengths];
    assert(lengths.slice(0, -1).every((n) => n >= MIN_CHUNK && n <= MAX_CHUNK));
    const average = 16 * MiB / summary.count;
    assert(average > 9 * 1024 && average < 13 * 1024, `average ${average}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("100 scattered 4 KiB edits send about 20 KiB each", async () => {
  const old = randomBytes(32 * MiB);
  const next = old.slice();
  for (let i = 0; i < 100; i++) {
    next.set(randomBytes(4096), Math.floor((i + 0.5) * next.byteLength / 100));
  }
  const { sent, received, wire } = await roundTrip(old, next);
  assert(sent.literal < 100 * 40 * 1024, `literal ${sent.literal}`);
  assertEquals(received.literal, sent.literal);
  assertEquals(sent.literal + sent.reused, next.byteLength);
  assert(wire < 2.5 * MiB, `wire ${wire}`);
});

Deno.test("one byte inserted at the front sends one chunk's worth", async () => {
  const old = randomBytes(32 * MiB);
  const next = new Uint8Array(old.byteLength + 1);
  next.set(old, 1);
  const { sent } = await roundTrip(old, next);
  assert(sent.literal <= MAX_CHUNK + 1, `literal ${sent.literal}`);
});

Deno.test("appended bytes are sent and the rest reused", async () => {
  const old = randomBytes(8 * MiB);
  const next = new Uint8Array(old.byteLength + 2 * MiB);
  next.set(old);
  next.set(randomBytes(2 * MiB), old.byteLength);
  const { sent } = await roundTrip(old, next);
  assert(sent.literal < 2 * MiB + MAX_CHUNK, `literal ${sent.literal}`);
  assert(sent.reused > old.byteLength - MAX_CHUNK);
});

Deno.test("unrelated content gives up chunking and costs the file plus little", async () => {
  const old = randomBytes(24 * MiB);
  const next = randomBytes(24 * MiB);
  const { sent, wire } = await roundTrip(old, next);
  assertEquals(sent.reused, 0);
  assert(wire < next.byteLength * 1.01 + 64 * 1024, `wire ${wire}`);
});

Deno.test("a file of one repeated 64 KiB block costs a few bytes per chunk", async () => {
  const block = randomBytes(64 * 1024);
  const old = new Uint8Array(16 * MiB);
  for (let at = 0; at < old.byteLength; at += block.byteLength) {
    old.set(block, at);
  }
  const next = old.slice();
  next[5 * MiB] ^= 1;
  const { sent, wire } = await roundTrip(old, next);
  assert(sent.literal < 3 * MAX_CHUNK, `literal ${sent.literal}`);
  assert(wire < 64 * 1024, `wire ${wire}`);
});

Deno.test("a head start stopped anywhere gives the same edited file", async () => {
  const old = randomBytes(12 * MiB);
  const next = old.slice();
  for (let i = 0; i < 20; i++) {
    next.set(randomBytes(4096), Math.floor((i + 0.5) * next.byteLength / 20));
  }
  for (const stopAfter of [0, 300, Infinity]) {
    const { sent } = await roundTrip(old, next, 0, undefined, { stopAfter });
    assert(sent.literal < 20 * 40 * 1024, `literal ${sent.literal}`);
  }
});

Deno.test("a hopeless match with a head start sends the rest whole", async () => {
  // Judged after 16 MiB: inside the list (the head start ran to the end) or
  // after it (stopped early).
  const old = randomBytes(20 * MiB);
  const next = randomBytes(22 * MiB);
  for (const stopAfter of [0, 200, Infinity]) {
    const { sent } = await roundTrip(old, next, 0, undefined, { stopAfter });
    assertEquals(sent.reused, 0);
    assert(sent.overhead < 64 * 1024, `overhead ${sent.overhead}`);
  }
});

Deno.test("a resumed delta describes only the bytes after the resume point", async () => {
  const old = randomBytes(8 * MiB);
  const next = old.slice();
  next.set(randomBytes(4096), 6 * MiB);
  const { sent } = await roundTrip(old, next, 3 * MiB + 123);
  assertEquals(sent.literal + sent.reused, next.byteLength - (3 * MiB + 123));
});

Deno.test("a delta naming a chunk the summary lacks is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(join(dir, "old"), randomBytes(64 * 1024));
    using old = await Deno.open(join(dir, "old"));
    await assertRejects(
      () =>
        applyDelta(
          (async function* () {
            yield new Uint8Array([1, 50, 1]);
          })(),
          old,
          new Float64Array([0, 65536]),
          () => Promise.resolve(),
          emptyStats(),
        ),
      ProtocolError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the WebAssembly boundary finder cuts where the JavaScript one does", () => {
  const window = new GearWindow();
  const data = randomBytes(2 * MiB);
  window.bytes.set(data);
  for (const last of [true, false]) {
    let at = 0;
    let cuts = 0;
    while (at < data.byteLength) {
      const expected = chunkEnd(data, at, data.byteLength, last);
      assertEquals(window.cut(at, data.byteLength, last), expected);
      if (expected < 0) break;
      at = expected;
      cuts++;
    }
    assert(cuts > 100);
  }
});

Deno.test("chunk hashes are the low 48 bits of XXH64", () => {
  // Reference digests from hash-wasm's xxhash64 over the same bytes: every
  // path of the algorithm (under 32 bytes, stripes, 8-, 4- and 1-byte tails).
  const data = new Uint8Array(5000).map((_, i) =>
    (Math.imul(i, 2654435761) >>> 13) & 255
  );
  const expected: [number, string][] = [
    [0, "ef46db3751d8e999"],
    [1, "e934a84adb052768"],
    [5, "31fce8da85d2b801"],
    [7, "e2400cdea02ee3c5"],
    [31, "b74baa9042b94dee"],
    [32, "4e13111ced6f735d"],
    [63, "35f935e6044a08ad"],
    [4999, "f1c6dd571ada5927"],
  ];
  for (const [length, digest] of expected) {
    const low48 = Number(BigInt("0x" + digest) & 0xffffffffffffn);
    assertEquals(chunkHash(data.subarray(0, length)), low48, `${length} bytes`);
  }
});

Deno.test("one scan finds the chunks and hashes that cutting one by one does", () => {
  const window = new GearWindow();
  const data = randomBytes(3 * MiB + 12345);
  window.bytes.set(data);
  for (const last of [true, false]) {
    const found = window.scan(0, data.byteLength, last);
    let at = 0;
    for (let i = 0; i < found; i++) {
      const end = window.cut(at, data.byteLength, last);
      assertEquals(window.foundEnd(i), end);
      assertEquals(window.foundHash(i), chunkHash(data.subarray(at, end)));
      at = end;
    }
    // Stopped at the end, or where no boundary can be told yet.
    if (last) assertEquals(at, data.byteLength);
    else assertEquals(window.cut(at, data.byteLength, last), -1);
    assert(found > 200);
  }
});

Deno.test("the summary told from a delta's instructions equals the new file's own", async () => {
  const old = randomBytes(8 * MiB);
  const next = new Uint8Array(old.byteLength + 70000);
  next.set(randomBytes(70000));
  next.set(old, 70000);
  next.set(randomBytes(4096), 3 * MiB);
  let derived: DerivedSummary | undefined;
  await roundTrip(
    old,
    next,
    0,
    (summary) => derived = new DerivedSummary(summary),
  );
  const own = await summaryOfBytes(next);
  const told = derived!.finish();
  assertEquals(told?.lengths, own.lengths);
  assertEquals(told?.hashes, own.hashes);
});

Deno.test("an encoder given the chunks found earlier writes the same delta", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const old = randomBytes(6 * MiB);
    const next = old.slice();
    next.set(randomBytes(4096), 2 * MiB);
    await Deno.writeFile(join(dir, "old"), old);
    await Deno.writeFile(join(dir, "new"), next);
    using oldFile = await Deno.open(join(dir, "old"));
    const index = ChunkIndex.fromWire(encodeHashes(await summarize(oldFile)));
    const encode = async (cut?: ChunkSummary) => {
      using file = await Deno.open(join(dir, "new"));
      const pieces: Uint8Array[] = [];
      const stats = emptyStats();
      for await (const piece of encodeDelta(file, index, { stats, cut })) {
        pieces.push(piece);
      }
      return { pieces, stats };
    };
    using newFile = await Deno.open(join(dir, "new"));
    const cut = await summarize(newFile);
    const fresh = await encode();
    const given = await encode(cut);
    assertEquals(given.stats, fresh.stats);
    assertEquals(given.pieces, fresh.pieces);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
