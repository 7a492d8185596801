/**
 * zstd body pieces: round trips through a real writer and reader, raw
 * frames for data that does not shrink, checksums over the original bytes,
 * refusal of a frame that inflates past the limit, and the decisions of
 * `--compress=auto`.
 *
 * @module
 */

import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  compressPayload,
  decompressPayload,
} from "../protocol/frame_compression.ts";
import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { BufferPool } from "../protocol/buffer_pool.ts";
import { FrameReader } from "../protocol/frame_decoder.ts";
import { FRAME_HEADER_SIZE, FrameType } from "../protocol/frame.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { MessageReader } from "../protocol/message_reader.ts";
import {
  MessageWriter,
  type SendBodyOptions,
} from "../protocol/message_writer.ts";
import {
  AdaptiveLevel,
  AutoCompression,
  compression,
  levelLadder,
} from "../transfer/compression.ts";
import { Xxh128 } from "../transfer/hash/xxh128.ts";
import { randomBytes } from "./helpers/cli.ts";

const MiB = 1024 * 1024;

function textBytes(size: number): Uint8Array {
  const line =
    "2026-12-01 22:50:01 fts[4242]: put data/report.csv 1048576 ok\n";
  return new TextEncoder().encode(line.repeat(Math.ceil(size / line.length)))
    .subarray(0, size);
}

/** The pieces one after the other. */
function joined(pieces: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const piece of pieces) {
    whole.set(piece, (at += piece.byteLength) - piece.byteLength);
  }
  return whole;
}

/** Sends `pieces` as one body and returns the frame types on the wire. */
async function wireTypes(
  pieces: Uint8Array[],
  compress: boolean,
  options: SendBodyOptions = {},
): Promise<number[]> {
  return (await wireFrames(pieces, { compress: () => compress, ...options }))
    .map((frame) => frame.type);
}

/** Sends `pieces` as one body and returns the frames on the wire. */
async function wireFrames(
  pieces: Uint8Array[],
  options: SendBodyOptions,
): Promise<{ type: number; bytes: number }[]> {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const writer = new MessageWriter(pipe.writable);
  const sent = writer.sendBody(pieces, () => ({}), undefined, options)
    .then(() => writer.close());
  const frames = new FrameReader(pipe.readable);
  const seen: { type: number; bytes: number }[] = [];
  for (let frame; (frame = await frames.next()) !== null;) {
    seen.push({ type: frame.type, bytes: frame.payload.byteLength });
  }
  await sent;
  return seen;
}

/**
 * Sends `pieces` compressed and returns what a reader receives; with
 * `pool`, both ends take their buffers from it, as client and server do.
 */
async function roundTrip(
  pieces: Uint8Array[],
  pool?: BufferPool,
  options: SendBodyOptions = compression("on"),
): Promise<{ bytes: Uint8Array; digest?: string; own: string }> {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const writer = new MessageWriter(pipe.writable, { pool });
  const hash = new Xxh128();
  const sent = (async () => {
    await writer.send({ op: "data", offset: 0, size: null });
    await writer.sendBody(
      pieces,
      () => ({ xxh128: hash.hex() }),
      (chunk) => hash.update(chunk),
      options,
    );
  })();
  const reader = new MessageReader(pipe.readable, { pool });
  assertEquals((await reader.read())?.op, "data");
  const body = reader.body();
  const parts: Uint8Array[] = [];
  const received = new Xxh128();
  for await (const part of body.stream) {
    parts.push(part.slice());
    received.update(part);
    pool?.give(part);
  }
  await sent;
  const bytes = joined(parts);
  return { bytes, digest: (await body.trailer).xxh128, own: received.hex() };
}

Deno.test("text compressed per frame arrives byte for byte, checksummed over the original bytes", async () => {
  const data = textBytes(3 * MiB + 12_345);
  const pieces = [0, 1, 2, 3].map((i) => data.subarray(i * MiB, (i + 1) * MiB));
  const got = await roundTrip(pieces);
  assertEquals(got.bytes, data);
  assertEquals(got.digest, new Xxh128().update(data).hex());
  assertEquals(got.own, got.digest);
  const types = await wireTypes(pieces, true);
  assertEquals(types, [
    FrameType.Compressed,
    FrameType.Compressed,
    FrameType.Compressed,
    FrameType.Compressed,
    FrameType.End,
  ]);
});

Deno.test("pieces are compressed into the pool's buffers and decompressed into them, byte for byte, while the buffers are reused", async () => {
  const pool = new BufferPool(MiB, 4);
  const data = textBytes(4 * MiB);
  // Whole pool-sized pieces, a short one, a random one sent raw between.
  const pieces = [
    data.subarray(0, MiB),
    randomBytes(MiB),
    data.subarray(MiB, 2 * MiB),
    data.subarray(2 * MiB, 2 * MiB + 777),
    data.subarray(3 * MiB),
  ];
  for (let round = 0; round < 3; round++) {
    const got = await roundTrip(pieces, pool);
    assertEquals(got.bytes, joined(pieces));
    assertEquals(got.digest, got.own);
  }
  // The writer and the reader gave every buffer back.
  const idle = [pool.take(), pool.take(), pool.take(), pool.take()];
  assertEquals(new Set(idle.map((view) => view.buffer)).size, 4);
});

Deno.test("compressPayload writes into the buffer it is given, framed in place, and each piece is a zstd frame of its own at level 1", () => {
  const pool = new BufferPool(MiB, 2);
  const text = textBytes(MiB);
  // An incompressible attempt first: the context must start clean after it.
  assertEquals(compressPayload(randomBytes(MiB), pool.take()), null);
  const target = pool.take();
  const packed = compressPayload(text.subarray(1), target)!;
  assert(packed.buffer === target.buffer, "written into the given buffer");
  assertEquals(packed.byteOffset, FRAME_HEADER_SIZE);
  const oneShot = zstdCompressSync(text.subarray(1), {
    params: { [constants.ZSTD_c_compressionLevel]: 1 },
  });
  assertEquals(packed, new Uint8Array(oneShot));
  assertEquals(new Uint8Array(zstdDecompressSync(packed)), text.subarray(1));
  // Without a buffer (or with one too small) it makes its own.
  const own = compressPayload(text, new Uint8Array(10))!;
  assertEquals(new Uint8Array(zstdDecompressSync(own)), text);
});

Deno.test("decompressPayload fills a pool buffer when the piece fits one, and a new buffer when it is larger", () => {
  const pool = new BufferPool(MiB, 2);
  const exact = textBytes(MiB);
  const packed = compressPayload(exact)!;
  const piece = decompressPayload(packed, 16 * MiB, pool);
  assertEquals(piece, exact);
  assertEquals(piece.byteOffset, FRAME_HEADER_SIZE, "a pooled buffer");
  pool.give(piece);
  // Twice the pool's size: the one-shot path, same bytes.
  const large = textBytes(2 * MiB);
  const big = decompressPayload(compressPayload(large)!, 16 * MiB, pool);
  assertEquals(new Uint8Array(big), large);
  assertThrows(
    () => decompressPayload(compressPayload(large)!, MiB, pool),
    ProtocolError,
    "holds more",
  );
  assertThrows(
    () => decompressPayload(new Uint8Array([1, 2, 3, 4, 5]), MiB, pool),
    ProtocolError,
    "not valid zstd",
  );
  // The context is still good after the failures.
  assertEquals(decompressPayload(packed, 16 * MiB, pool), exact);
});

Deno.test("random data is sent in raw frames even with compression on", async () => {
  const data = randomBytes(2 * MiB);
  const pieces = [data.subarray(0, MiB), data.subarray(MiB)];
  assertEquals(compressPayload(pieces[0]), null);
  assertEquals(await wireTypes(pieces, true), [
    FrameType.Data,
    FrameType.Data,
    FrameType.End,
  ]);
  const mixed = [textBytes(MiB), pieces[0], textBytes(1000)];
  assertEquals(await wireTypes(mixed, true), [
    FrameType.Compressed,
    FrameType.Data,
    FrameType.Compressed,
    FrameType.End,
  ]);
  const got = await roundTrip(mixed);
  assertEquals(got.bytes.subarray(MiB, 2 * MiB), pieces[0]);
  assertEquals(got.digest, got.own);
});

Deno.test("without compression every piece is a plain DATA frame", async () => {
  assertEquals(await wireTypes([textBytes(MiB)], false), [
    FrameType.Data,
    FrameType.End,
  ]);
});

Deno.test("a compressed frame that inflates past the frame limit is a protocol error", async () => {
  const packed = compressPayload(new Uint8Array(4 * MiB))!;
  assert(packed.byteLength < 1024);
  assertThrows(
    () => decompressPayload(packed, MiB),
    ProtocolError,
    "holds more",
  );
  assertThrows(
    () => decompressPayload(new Uint8Array([1, 2, 3, 4, 5]), MiB),
    ProtocolError,
    "not valid zstd",
  );
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const writer = new MessageWriter(pipe.writable);
  const reader = new MessageReader(pipe.readable, { maxFrameSize: MiB });
  const sent = (async () => {
    await writer.send({ op: "data", offset: 0, size: null });
    await writer.sendBody([new Uint8Array(4 * MiB)], () => ({}), undefined, {
      compress: () => true,
    }).catch(() => {});
  })();
  await reader.read();
  await assertRejects(
    () => reader.body().stream.pipeTo(new WritableStream()),
    ProtocolError,
    "holds more",
  );
  await reader.cancel();
  await sent;
});

Deno.test("auto compression turns on when the link is the bound, stays off when the sender is, and backs off from incompressible data", () => {
  // A fast link: 1 MiB per millisecond and no waiting for the socket.
  const fast = new AutoCompression();
  let now = 0;
  for (let i = 0; i < 40; i++) assertEquals(fast.next(MiB, now += 1), false);
  // A slow link (1 MiB per 80 ms, about 100 Mbit/s): the first 8 MiB fill
  // the socket buffers without waiting, then the sender waits on each piece.
  const slow = new AutoCompression();
  now = 0;
  const decisions: boolean[] = [];
  for (let i = 0; i < 30; i++) {
    const filling = i < 8;
    const packing = slow.next(MiB, now += filling ? 1 : 80);
    if (!filling) slow.waited(packing ? 10 : 75);
    decisions.push(packing);
    if (packing) slow.measured(MiB, MiB / 4, 2);
  }
  assertEquals(decisions.slice(0, 16), Array(16).fill(false));
  assert(decisions.slice(17).every((packing) => packing));
  // Incompressible data on the slow link: packed a window, then raw again.
  const random = new AutoCompression();
  now = 0;
  const tries: boolean[] = [];
  for (let i = 0; i < 60; i++) {
    const packing = random.next(MiB, now += 80);
    random.waited(70);
    tries.push(packing);
    if (packing) random.measured(MiB, MiB, 0.4);
  }
  assert(tries.includes(true));
  const first = tries.indexOf(true);
  // One window of 8 pieces packed, then raw for the back-off of 4 windows.
  assertEquals(tries.slice(first, first + 8), Array(8).fill(true));
  assertEquals(tries.slice(first + 8, first + 8 + 32), Array(32).fill(false));
  // A compressor that is the bound (no waiting while packed) goes back raw.
  const bound = new AutoCompression();
  now = 0;
  let packedAt = -1;
  let rawAgain = -1;
  for (let i = 0; i < 40; i++) {
    const packing = bound.next(MiB, now += 80);
    if (packing && packedAt < 0) packedAt = i;
    if (!packing && packedAt >= 0 && rawAgain < 0) rawAgain = i;
    bound.waited(packing ? 0 : 70);
    if (packing) bound.measured(MiB, MiB / 4, 70);
  }
  assert(packedAt > 0 && rawAgain > packedAt);
});

/** Log-like lines that vary, so that matches across pieces count. */
function logBytes(size: number): Uint8Array {
  let text = "";
  for (let i = 0; text.length < size; i++) {
    text += `2026-12-01T${i % 24}:${i % 60}Z host${i % 13} put dir${
      i % 101
    }/file${(i * 7919) % 10007}.bin ${(i * 1103515245) % 2147483647} ok\n`;
  }
  return new TextEncoder().encode(text).subarray(0, size);
}

Deno.test("a streamed body arrives byte for byte and smaller than pieces compressed alone", async () => {
  const pool = new BufferPool(MiB, 4);
  // A block of varied lines, repeated: only a stream sees the repeats
  // that cross pieces.
  const block = logBytes(700 * 1024);
  const data = new Uint8Array(4 * MiB + 999);
  for (let at = 0; at < data.byteLength; at += block.byteLength) {
    data.set(block.subarray(0, data.byteLength - at), at);
  }
  const pieces = [0, 1, 2, 3, 4].map((i) =>
    data.subarray(i * MiB, (i + 1) * MiB)
  );
  for (let round = 0; round < 2; round++) {
    const got = await roundTrip(pieces, pool, compression("on", true));
    assertEquals(got.bytes, data);
    assertEquals(got.digest, got.own);
  }
  const streamed = await wireFrames(pieces, compression("on", true));
  assertEquals(
    streamed.map((frame) => frame.type),
    [...pieces.map(() => FrameType.CompressedStream), FrameType.End],
  );
  const alone = await wireFrames(pieces, compression("on"));
  const size = (frames: { bytes: number }[]) =>
    frames.reduce((n, frame) => n + frame.bytes, 0);
  assert(size(streamed) < size(alone), `${size(streamed)} < ${size(alone)}`);
});

Deno.test("a streamed body survives level changes, random pieces and raw pieces between", async () => {
  const pool = new BufferPool(MiB, 4);
  const text = logBytes(3 * MiB);
  const noise = randomBytes(MiB);
  const pieces = [
    text.subarray(0, MiB),
    noise,
    text.subarray(MiB, 2 * MiB),
    new Uint8Array(10),
    text.subarray(2 * MiB),
    text.subarray(0, 5000),
  ];
  const levels = [1, 1, 6, 2, 2, 9];
  let next = 0;
  const options: SendBodyOptions = {
    // The empty piece is skipped and the fourth goes raw.
    compress: (chunk) => chunk.byteLength !== 10,
    streamLevel: () => levels[next++],
  };
  const got = await roundTrip(pieces, pool, options);
  assertEquals(got.bytes, joined(pieces));
  assertEquals(got.digest, got.own);
});

Deno.test("the stream's level rises while the sender waits on the link and falls while compressing bounds it", () => {
  const level = new AdaptiveLevel();
  let now = 0;
  const start = level.next(now);
  assertEquals(start, 3);
  // Link-bound windows: half of each spent waiting.
  for (let i = 0; i < 3; i++) {
    level.compressed(16 * MiB, 20);
    level.waited(50);
    now += 100;
    level.next(now);
  }
  assertEquals(level.next(now), 6);
  // CPU-bound windows: compressing all the time, no waiting; one alone
  // does not count.
  level.compressed(16 * MiB, 100);
  now += 100;
  assertEquals(level.next(now), 6);
  level.compressed(16 * MiB, 10);
  level.waited(10);
  now += 100;
  level.next(now);
  for (let i = 0; i < 10; i++) {
    level.compressed(16 * MiB, 100);
    now += 100;
    level.next(now);
  }
  assertEquals(level.next(now), 1);
  // Waits while nothing is compressed (auto sending raw) do not count.
  level.waited(10_000);
  now += 10_000;
  level.next(now);
  level.compressed(16 * MiB, 100);
  now += 100;
  assertEquals(level.next(now), 1);
});

/** Log-like lines whose numbers come from a fixed pseudo-random sequence. */
function logText(size: number): Uint8Array {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  let text = "";
  for (let i = 0; text.length < size; i++) {
    text += `2026-12-01T${i % 24}:${i % 60}Z host${i % 13} fts[${
      1000 + i % 977
    }]: put dir${i % 101}/file${i % 7919}.bin ${next()} bytes in 0.${
      next() % 10000
    }s\n`;
  }
  return new TextEncoder().encode(text).subarray(0, size);
}

Deno.test("the levels a stream climbs through are those that compress its first piece better than every lower one", () => {
  const text = logText(MiB);
  const ladder = levelLadder(text).map((trial) => trial.level);
  assertEquals(ladder[0], 1);
  let last = Infinity;
  for (const level of ladder) {
    const size = zstdCompressSync(text, {
      params: { [constants.ZSTD_c_compressionLevel]: level },
    }).byteLength;
    assert(size < last, `level ${level} compresses better than those below`);
    last = size;
  }
  // Random data compresses alike at every level: level 1 alone is worth it.
  assertEquals(levelLadder(randomBytes(MiB)).map((t) => t.level), [1]);
});

Deno.test("a stream whose first piece is incompressible stays at level 1 however long it waits on the link", () => {
  const level = new AdaptiveLevel();
  let now = 0;
  assertEquals(level.next(now, randomBytes(MiB)), 1);
  for (let i = 0; i < 5; i++) {
    level.compressed(16 * MiB, 20);
    level.waited(50);
    now += 100;
    assertEquals(level.next(now, randomBytes(16)), 1);
  }
  // A first piece under 1 MiB says too little: every level, from 3.
  assertEquals(new AdaptiveLevel().next(0, logText(1000)), 3);
});

Deno.test("a CPU-bound stream steps down only to a level that was clearly faster on its first piece", () => {
  const cpuBound = (level: AdaptiveLevel) => {
    let now = 0;
    level.next(now);
    for (let i = 0; i < 6; i++) {
      level.compressed(16 * MiB, 100);
      now += 100;
      level.next(now);
    }
    return level.next(now);
  };
  // Level 1 compressed the piece worse and no faster: no use going there.
  assertEquals(
    cpuBound(
      new AdaptiveLevel([
        { level: 1, bytes: 200, ms: 10 },
        { level: 2, bytes: 140, ms: 9 },
      ]),
    ),
    2,
  );
  assertEquals(
    cpuBound(
      new AdaptiveLevel([
        { level: 1, bytes: 200, ms: 4 },
        { level: 2, bytes: 140, ms: 9 },
      ]),
    ),
    1,
  );
});
