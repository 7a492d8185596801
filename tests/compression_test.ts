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
import { MessageWriter } from "../protocol/message_writer.ts";
import { AutoCompression, compression } from "../transfer/compression.ts";
import { Xxh128 } from "../transfer/hash/xxh128.ts";
import { randomBytes } from "./helpers/cli.ts";

const MiB = 1024 * 1024;

function textBytes(size: number): Uint8Array {
  const line =
    "2026-12-01 22:50:01 fts[4242]: put data/report.csv 1048576 ok\n";
  return new TextEncoder().encode(line.repeat(Math.ceil(size / line.length)))
    .subarray(0, size);
}

/** Sends `pieces` as one body and returns the frame types on the wire. */
async function wireTypes(
  pieces: Uint8Array[],
  compress: boolean,
): Promise<number[]> {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const writer = new MessageWriter(pipe.writable);
  const sent = writer.sendBody(pieces, () => ({}), undefined, {
    compress: () => compress,
  }).then(() => writer.close());
  const frames = new FrameReader(pipe.readable);
  const types: number[] = [];
  for (let frame; (frame = await frames.next()) !== null;) {
    types.push(frame.type);
  }
  await sent;
  return types;
}

/**
 * Sends `pieces` compressed and returns what a reader receives; with
 * `pool`, both ends take their buffers from it, as client and server do.
 */
async function roundTrip(
  pieces: Uint8Array[],
  pool?: BufferPool,
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
      compression("on"),
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
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, (at += part.byteLength) - part.byteLength);
  }
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
    const whole = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const piece of pieces) {
      whole.set(piece, (at += piece.byteLength) - piece.byteLength);
    }
    assertEquals(got.bytes, whole);
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
