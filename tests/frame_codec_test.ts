/**
 * Tests of the frame layer (protocol/frame_encoder.ts, frame_decoder.ts,
 * exact_reader.ts) and of how {@linkcode MessageReader} reads bodies.
 *
 * Frames must come out of the decoder identical however TCP splits or merges
 * the bytes, so one encoded sequence is fed one byte at a time, split at every
 * boundary, split at seeded random points and merged into one chunk, through
 * both the plain-stream and the BYOB (socket-like) read paths.
 *
 * @module
 */

import { compressPayload } from "../protocol/frame_compression.ts";
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import {
  ConnectionError,
  encodeMessage,
  encodeTrailer,
  IntegrityError,
  type Message,
  MessageReader,
  ProtocolError,
} from "../protocol/mod.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  type Frame,
  FRAME_HEADER_SIZE,
  frameHeader,
  FrameType,
} from "../protocol/frame.ts";
import { FrameDecoderStream, FrameReader } from "../protocol/frame_decoder.ts";
import { BufferPool } from "../protocol/buffer_pool.ts";
import {
  allocatePayload,
  encodeFrame,
  FrameEncoderStream,
} from "../protocol/frame_encoder.ts";

// ---------------------------------------------------------------------------
// Helpers

/** A small seeded PRNG (mulberry32), so random splits are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function patterned(size: number, seed: number): Uint8Array {
  const random = prng(seed);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Splits `bytes` at the given sorted cut positions (copies each piece). */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.byteLength]) {
    pieces.push(bytes.slice(start, cut));
    start = cut;
  }
  return pieces;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Asserts two frame lists are identical (types and payload bytes). */
function assertSameFrames(actual: Frame[], expected: Frame[], how: string) {
  assertEquals(actual.length, expected.length, `${how}: frame count`);
  for (let i = 0; i < expected.length; i++) {
    assertEquals(actual[i].type, expected[i].type, `${how}: type of #${i}`);
    assertEquals(
      actual[i].payload.byteLength,
      expected[i].payload.byteLength,
      `${how}: length of #${i}`,
    );
    assert(
      bytesEqual(actual[i].payload, expected[i].payload),
      `${how}: payload of frame #${i} differs`,
    );
  }
}

/** Decodes `chunks` with a FrameDecoderStream (the plain-stream path). */
function decodeChunks(
  chunks: Uint8Array[],
  maxFrameSize?: number,
): Promise<Frame[]> {
  return Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(
      new FrameDecoderStream({ maxFrameSize }),
    ),
  );
}

/** A byte stream (like a socket's) that hands out `chunks` one per pull. */
function byteStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      // Empty chunks may not be enqueued on a byte stream; skip them.
      while (next < chunks.length && chunks[next].byteLength === 0) next++;
      if (next < chunks.length) controller.enqueue(chunks[next++].slice());
      else {
        controller.close();
        controller.byobRequest?.respond(0);
      }
    },
  });
}

/**
 * A reader like `Deno.Conn`: each `read` returns at most the rest of the
 * current chunk (a TLS connection returns one record per read), counting
 * the calls it served.
 */
function chunkReader(
  chunks: Uint8Array[],
): { read(buffer: Uint8Array): Promise<number | null>; calls: number } {
  let next = 0;
  let rest: Uint8Array | undefined;
  return {
    calls: 0,
    read(buffer) {
      this.calls++;
      while (!rest?.byteLength && next < chunks.length) rest = chunks[next++];
      if (!rest?.byteLength) return Promise.resolve(null);
      const n = Math.min(buffer.byteLength, rest.byteLength);
      buffer.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return Promise.resolve(n);
    },
  };
}

/** Decodes `chunks` with a FrameReader on a byte stream (the BYOB path). */
function decodeByob(chunks: Uint8Array[]): Promise<Frame[]> {
  return decodeWith(new FrameReader(byteStream(chunks)));
}

async function decodeWith(reader: FrameReader): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < 10_000; i++) {
    const frame = await reader.next();
    if (frame === null) return frames;
    frames.push(frame);
  }
  throw new Error("decoder did not end");
}

/** The frames every split test encodes and decodes. */
function sampleFrames(): Frame[] {
  const roomy = allocatePayload(3000);
  roomy.set(patterned(3000, 7));
  const roomyPrefix = allocatePayload(5000);
  roomyPrefix.set(patterned(5000, 8));
  return [
    {
      type: FrameType.Message,
      payload: encodeMessage({ op: "data", offset: 0, size: 139_000 }),
    },
    { type: FrameType.Data, payload: new Uint8Array(0) },
    { type: FrameType.Data, payload: patterned(1, 1) },
    { type: FrameType.Data, payload: patterned(1000, 2) },
    { type: FrameType.Data, payload: patterned(64 * 1024, 3) },
    { type: FrameType.Data, payload: patterned(64 * 1024 + 1, 4) },
    { type: FrameType.Data, payload: roomy },
    // A prefix of an allocatePayload buffer, as fileChunks sends a short tail.
    { type: FrameType.Data, payload: roomyPrefix.subarray(0, 1234) },
    {
      type: FrameType.End,
      payload: encodeTrailer({ sha256: "ab".repeat(32) }),
    },
    { type: FrameType.End, payload: new Uint8Array(0) },
    { type: FrameType.Message, payload: encodeMessage({ op: "ping" }) },
  ];
}

/** A deep copy of frames, taken before encoding writes headers in place. */
function copyFrames(frames: Frame[]): Frame[] {
  return frames.map(({ type, payload }) => ({
    type,
    payload: payload.slice(),
  }));
}

function encodeAll(frames: Frame[]): Uint8Array {
  return concat(frames.flatMap((frame) => encodeFrame(frame)));
}

// ---------------------------------------------------------------------------
// Encoding

Deno.test("encodeFrame and FrameEncoderStream produce the same bytes: a 5-byte header then the payload", async () => {
  const frames = sampleFrames();
  const expected = copyFrames(frames);
  const direct = encodeAll(frames);
  const streamed = concat(
    await Array.fromAsync(
      ReadableStream.from(frames).pipeThrough(new FrameEncoderStream()),
    ),
  );
  assert(bytesEqual(direct, streamed), "stream and function differ");
  let at = 0;
  for (const frame of expected) {
    assertEquals(direct[at], frame.type);
    const length = new DataView(direct.buffer, at + 1, 4).getUint32(0);
    assertEquals(length, frame.payload.byteLength);
    assert(
      bytesEqual(
        direct.subarray(
          at + FRAME_HEADER_SIZE,
          at + FRAME_HEADER_SIZE + length,
        ),
        frame.payload,
      ),
    );
    at += FRAME_HEADER_SIZE + length;
  }
  assertEquals(at, direct.byteLength);
});

Deno.test("encodeFrame frames an allocatePayload buffer in place, without a copy", () => {
  const payload = allocatePayload(100);
  payload.fill(9);
  const [whole, ...rest] = encodeFrame({
    type: FrameType.Data,
    payload: payload.subarray(0, 40),
  });
  assertEquals(rest.length, 0);
  assert(whole.buffer === payload.buffer, "the payload was copied");
  assertEquals(whole.byteLength, FRAME_HEADER_SIZE + 40);
  assertEquals(Array.from(whole.subarray(0, 5)), [FrameType.Data, 0, 0, 0, 40]);
});

Deno.test("encodeFrame sends a large foreign payload as header plus the payload itself", () => {
  const payload = patterned(64 * 1024 + 1, 5);
  const chunks = encodeFrame({ type: FrameType.Data, payload });
  assertEquals(chunks.length, 2);
  assertEquals(Array.from(chunks[0]), [2, 0, 1, 0, 1]);
  assert(chunks[1] === payload);
});

// ---------------------------------------------------------------------------
// Decoding under every kind of split

Deno.test("FrameDecoderStream decodes frames fed one byte per chunk", async () => {
  const frames = sampleFrames();
  const expected = copyFrames(frames);
  const bytes = encodeAll(frames);
  const oneByOne = Array.from(
    { length: bytes.byteLength },
    (_, i) => bytes.subarray(i, i + 1),
  );
  assertSameFrames(await decodeChunks(oneByOne), expected, "one byte/chunk");
});

Deno.test("FrameDecoderStream decodes frames split at every possible single boundary", async () => {
  // Every boundary of a sequence that holds every frame kind and size class
  // but the two 64 KiB ones (which would make this quadratic test slow) ...
  const small = sampleFrames().filter((frame) =>
    frame.payload.byteLength < 64 * 1024
  );
  const expected = copyFrames(small);
  const bytes = encodeAll(small);
  for (let cut = 0; cut <= bytes.byteLength; cut++) {
    assertSameFrames(
      await decodeChunks(splitAt(bytes, [cut])),
      expected,
      `split at ${cut}`,
    );
  }
  // ... and, for the full sequence, every boundary within 16 bytes of the
  // start or end of any frame, and inside every header.
  const frames = sampleFrames();
  const all = copyFrames(frames);
  const full = encodeAll(frames);
  const cuts = new Set<number>();
  let start = 0;
  for (const frame of all) {
    const end = start + FRAME_HEADER_SIZE + frame.payload.byteLength;
    for (let d = -16; d <= 16 + FRAME_HEADER_SIZE; d++) cuts.add(start + d);
    for (let d = -16; d <= 16; d++) cuts.add(end + d);
    start = end;
  }
  let tried = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut < 0 || cut > full.byteLength) continue;
    assertSameFrames(
      await decodeChunks(splitAt(full, [cut])),
      all,
      `split at ${cut}`,
    );
    tried++;
  }
  assert(tried > 300, `only ${tried} boundaries tried`);
});

Deno.test("FrameDecoderStream decodes frames split at seeded random points", async () => {
  const frames = sampleFrames();
  const expected = copyFrames(frames);
  const bytes = encodeAll(frames);
  const random = prng(0x5eed);
  for (let round = 0; round < 60; round++) {
    const count = 1 + Math.floor(random() * (round < 30 ? 8 : 400));
    const cuts = Array.from(
      { length: count },
      () => Math.floor(random() * (bytes.byteLength + 1)),
    ).sort((a, b) => a - b);
    assertSameFrames(
      await decodeChunks(splitAt(bytes, cuts)),
      expected,
      `round ${round} (${count} cuts)`,
    );
  }
});

Deno.test("FrameDecoderStream decodes frames merged into one chunk", async () => {
  const frames = sampleFrames();
  const expected = copyFrames(frames);
  assertSameFrames(
    await decodeChunks([encodeAll(frames)]),
    expected,
    "one chunk",
  );
});

Deno.test("FrameReader on a byte stream (BYOB, as on a socket) decodes the same frames however the bytes are split", async () => {
  const frames = sampleFrames();
  const expected = copyFrames(frames);
  const bytes = encodeAll(frames);
  assertSameFrames(await decodeByob([bytes]), expected, "one chunk");
  assertSameFrames(
    await decodeByob(
      Array.from({ length: bytes.byteLength }, (_, i) => bytes.slice(i, i + 1)),
    ),
    expected,
    "one byte/chunk",
  );
  const random = prng(42);
  for (let round = 0; round < 30; round++) {
    const count = 1 + Math.floor(random() * 200);
    const cuts = Array.from(
      { length: count },
      () => Math.floor(random() * (bytes.byteLength + 1)),
    ).sort((a, b) => a - b);
    assertSameFrames(
      await decodeByob(splitAt(bytes, cuts)),
      expected,
      `byob round ${round}`,
    );
  }
});

Deno.test("FrameReader on a reader (conn.read, as the server and client use) decodes the same frames however the bytes are split", async () => {
  const frames = sampleFrames();
  const expected = copyFrames(frames);
  const bytes = encodeAll(frames);
  const decode = (chunks: Uint8Array[]) =>
    decodeWith(new FrameReader(chunkReader(chunks)));
  assertSameFrames(await decode([bytes]), expected, "one chunk");
  assertSameFrames(
    await decode(
      Array.from({ length: bytes.byteLength }, (_, i) => bytes.slice(i, i + 1)),
    ),
    expected,
    "one byte/read",
  );
  // 16 KiB per read, as a TLS connection hands out its records.
  const records = Array.from(
    { length: Math.ceil(bytes.byteLength / 16384) },
    (_, i) => bytes.slice(i * 16384, (i + 1) * 16384),
  );
  assertSameFrames(await decode(records), expected, "16 KiB records");
  const random = prng(43);
  for (let round = 0; round < 30; round++) {
    const cuts = Array.from(
      { length: 1 + Math.floor(random() * 200) },
      () => Math.floor(random() * (bytes.byteLength + 1)),
    ).sort((a, b) => a - b);
    assertSameFrames(
      await decode(splitAt(bytes, cuts)),
      expected,
      `reader round ${round}`,
    );
  }
});

Deno.test("FrameReader on a reader serves a run of small frames from one read-ahead", async () => {
  const frames = Array.from({ length: 100 }, (_, i) => ({
    type: FrameType.Message,
    payload: encodeMessage({ op: "stat", path: `f${i}` }),
  }));
  const source = chunkReader([encodeAll(copyFrames(frames))]);
  assertSameFrames(
    await decodeWith(new FrameReader(source)),
    frames,
    "small frames",
  );
  // One read for all of them (they fit the read-ahead) and one for the end.
  assertEquals(source.calls, 2);
});

Deno.test("FrameReader on a reader reports a reader that ends inside a frame as a ProtocolError", async () => {
  const bytes = encodeAll([{
    type: FrameType.Data,
    payload: patterned(200_000, 5),
  }]);
  for (const cut of [3, 5, 6, 100_000, bytes.byteLength - 1]) {
    const reader = new FrameReader(chunkReader([bytes.slice(0, cut)]));
    await assertRejects(() => reader.next(), ProtocolError);
  }
});

Deno.test("FrameReader with a BufferPool decodes the same frames while each DATA buffer is given back and reused", async () => {
  const frames = sampleFrames();
  const expected = copyFrames(frames);
  const bytes = encodeAll(frames);
  const random = prng(7);
  for (const source of ["byob", "stream", "reader"]) {
    // Room for every DATA payload, so all of them land in pooled buffers.
    const pool = new BufferPool(64 * 1024 + 1, 2);
    for (let round = 0; round < 10; round++) {
      const cuts = Array.from(
        { length: 1 + Math.floor(random() * 100) },
        () => Math.floor(random() * (bytes.byteLength + 1)),
      ).sort((a, b) => a - b);
      const chunks = splitAt(bytes, cuts);
      const reader = new FrameReader(
        source === "byob"
          ? byteStream(chunks)
          : source === "reader"
          ? chunkReader(chunks)
          : ReadableStream.from(chunks),
        { pool },
      );
      const decoded: Frame[] = [];
      for (let i = 0; i < 100; i++) {
        const frame = await reader.next();
        if (frame === null) break;
        // Keep a copy, then hand the buffer back so the next frame reuses it.
        decoded.push({ type: frame.type, payload: frame.payload.slice() });
        if (frame.type === FrameType.Data && frame.payload.byteLength > 0) {
          assertEquals(frame.payload.byteOffset, FRAME_HEADER_SIZE);
        }
        pool.give(frame.payload);
      }
      assertSameFrames(decoded, expected, `${source}, round ${round}`);
    }
  }
});

Deno.test("BufferPool takes back only the views it lent", () => {
  const pool = new BufferPool(16, 4);
  const first = pool.take();
  assertEquals(first.byteLength, 16);
  // A view that was never lent (or a slice of one) does not return the buffer.
  pool.give(first.subarray(0, 8));
  const second = pool.take();
  assert(second.buffer !== first.buffer);
  const lent = pool.lend(second.subarray(0, 8));
  pool.give(lent.subarray(0, 4));
  assert(pool.take().buffer !== second.buffer);
  pool.give(lent);
  assert(pool.take().buffer === second.buffer, "the lent buffer was reused");
  // Giving the same view twice returns it once.
  const third = pool.lend(pool.take());
  pool.give(third);
  pool.give(third);
  assert(pool.take().buffer === third.buffer);
  assert(pool.take().buffer !== third.buffer);
});

// ---------------------------------------------------------------------------
// Decoding bad input

Deno.test("FrameDecoder rejects an oversized frame length from its header alone", async () => {
  const { readable, writable } = new FrameDecoderStream();
  const writer = writable.getWriter();
  // Only the header: the decoder must not wait for (or buffer) 4 GiB.
  writer.write(frameHeader(FrameType.Data, 0xffff_ffff)).catch(() => {});
  const error = await assertRejects(
    () => readable.getReader().read(),
    ProtocolError,
    "exceeds the limit",
  );
  assertInstanceOf(error, ProtocolError);
  await writer.abort().catch(() => {});
});

Deno.test("FrameDecoder accepts a frame of exactly maxFrameSize and rejects one byte more", async () => {
  const at = [FrameType.Data, 0, 0, 0, 16];
  const ok = await decodeChunks([
    new Uint8Array([...at, ...new Uint8Array(16)]),
  ], 16);
  assertEquals(ok.length, 1);
  assertEquals(ok[0].payload.byteLength, 16);
  await assertRejects(
    () => decodeChunks([frameHeader(FrameType.Data, 17)], 16),
    ProtocolError,
    "exceeds the limit of 16",
  );
  await assertRejects(
    () =>
      decodeChunks([frameHeader(FrameType.Data, DEFAULT_MAX_FRAME_SIZE + 1)]),
    ProtocolError,
    "exceeds the limit",
  );
});

Deno.test("FrameDecoder rejects an unknown frame type", async () => {
  for (const type of [0, 6, 0x47, 0xff]) {
    const header = new Uint8Array([type, 0, 0, 0, 1, 0]);
    await assertRejects(
      () => decodeChunks([header]),
      ProtocolError,
      `unknown frame type 0x${type.toString(16).padStart(2, "0")}`,
    );
  }
});

Deno.test("FrameDecoder reports a stream that ends inside a frame header as a ProtocolError", async () => {
  const good = encodeAll([{
    type: FrameType.Message,
    payload: encodeMessage({ op: "ping" }),
  }]);
  for (let partial = 1; partial < FRAME_HEADER_SIZE; partial++) {
    const header = frameHeader(FrameType.Data, 10).subarray(0, partial);
    await assertRejects(
      () => decodeChunks([good, header]),
      ProtocolError,
      "ended inside a frame",
    );
    await assertRejects(
      () => decodeByob([good, header]),
      ProtocolError,
      "ended inside a frame",
    );
  }
});

Deno.test("FrameDecoder reports a stream that ends inside a frame payload as a ProtocolError", async () => {
  const header = frameHeader(FrameType.Data, 10);
  // No payload byte at all, then some payload bytes.
  await assertRejects(() => decodeChunks([header]), ProtocolError);
  await assertRejects(
    () => decodeChunks([header, new Uint8Array(9)]),
    ProtocolError,
    "9 of 10 bytes",
  );
  await assertRejects(() => decodeByob([header]), ProtocolError);
  await assertRejects(
    () => decodeByob([header, new Uint8Array(3), new Uint8Array(3)]),
    ProtocolError,
    "6 of 10 bytes",
  );
});

Deno.test("FrameDecoder returns a clean end when the stream ends between frames", async () => {
  assertEquals(await decodeChunks([]), []);
  assertEquals(await decodeByob([]), []);
  const bytes = encodeAll([
    { type: FrameType.Message, payload: encodeMessage({ op: "ok" }) },
    { type: FrameType.End, payload: new Uint8Array(0) },
  ]);
  assertEquals((await decodeChunks([bytes])).length, 2);
  const reader = new FrameReader(ReadableStream.from([bytes]));
  assertEquals((await reader.next())?.type, FrameType.Message);
  assertEquals((await reader.next())?.type, FrameType.End);
  assertEquals(await reader.next(), null);
  assertEquals(await reader.next(), null);
});

// ---------------------------------------------------------------------------
// MessageReader and bodies

function message(m: Message): Frame {
  return { type: FrameType.Message, payload: encodeMessage(m) };
}
function data(payload: Uint8Array): Frame {
  return { type: FrameType.Data, payload };
}
function end(trailer: Parameters<typeof encodeTrailer>[0] = {}): Frame {
  return { type: FrameType.End, payload: encodeTrailer(trailer) };
}

/** A MessageReader over `frames`, encoded and split into odd-sized chunks. */
function readerOf(
  frames: Frame[],
  options: ConstructorParameters<typeof MessageReader>[1] = {},
): MessageReader {
  const bytes = encodeAll(frames);
  const cuts: number[] = [];
  for (let at = 7; at < bytes.byteLength; at += 13) cuts.push(at);
  return new MessageReader(ReadableStream.from(splitAt(bytes, cuts)), options);
}

async function readBody(reader: MessageReader): Promise<Uint8Array> {
  return concat(await Array.fromAsync(reader.body().stream));
}

Deno.test("MessageReader delivers a notice in the middle of a body to onNotice and keeps the body bytes intact", async () => {
  const parts = [patterned(100, 1), patterned(70_000, 2), patterned(5, 3)];
  const notices: string[] = [];
  const reader = readerOf([
    message({ op: "data", offset: 0, size: 70_105 }),
    data(parts[0]),
    message({ op: "notice", message: "server going down soon" }),
    data(parts[1]),
    message({ op: "ping" }),
    data(parts[2]),
    message({ op: "notice", message: "second", shutdown: true }),
    end({ sha256: "cd".repeat(32) }),
    message({ op: "ok" }),
  ], { onNotice: (notice) => notices.push(notice.message) });
  const header = await reader.read();
  assertEquals(header?.op, "data");
  const body = reader.body();
  const bytes = concat(await Array.fromAsync(body.stream));
  assert(bytesEqual(bytes, concat(parts)), "body bytes differ");
  assertEquals((await body.trailer).sha256, "cd".repeat(32));
  assertEquals(notices, ["server going down soon", "second"]);
  assertEquals(await reader.read(), { op: "ok" });
  assertEquals(await reader.read(), null);
});

Deno.test("MessageReader: cancelling a body part-way skips to its END so the next message reads correctly", async () => {
  const reader = readerOf([
    message({ op: "data", offset: 0, size: 10 * 1000 }),
    ...Array.from({ length: 10 }, (_, i) => data(patterned(1000, i))),
    end({ sha256: "ef".repeat(32) }),
    message({ op: "done", bytes: 7 }),
  ]);
  assertEquals((await reader.read())?.op, "data");
  const body = reader.body();
  const chunks = body.stream.getReader();
  const first = await chunks.read();
  assert(bytesEqual(first.value!, patterned(1000, 0)));
  await chunks.cancel();
  assertEquals(await reader.read(), { op: "done", bytes: 7 });
  assertEquals(await reader.read(), null);
});

Deno.test("MessageReader: cancelling a body before reading it skips to its END", async () => {
  const reader = readerOf([
    message({ op: "listing", path: "" }),
    data(patterned(100, 1)),
    data(patterned(100, 2)),
    data(patterned(100, 3)),
    data(patterned(100, 4)),
    end(),
    message({ op: "ok" }),
  ]);
  assertEquals((await reader.read())?.op, "listing");
  await reader.body().stream.cancel();
  assertEquals(await reader.read(), { op: "ok" });
});

Deno.test("MessageReader: cancelling a short body whose END was already read ahead does not eat the next message", async () => {
  for (const dataFrames of [0, 1, 2]) {
    const reader = readerOf([
      message({ op: "listing", path: "" }),
      ...Array.from({ length: dataFrames }, (_, i) => data(patterned(10, i))),
      end(),
      message({ op: "ok" }),
    ]);
    assertEquals((await reader.read())?.op, "listing");
    const body = reader.body();
    // Give the stream time to read ahead up to its high-water mark, which
    // reaches the END frame of a body of no (or few) DATA frames.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await body.stream.cancel();
    assertEquals(
      await reader.read(),
      { op: "ok" },
      `with ${dataFrames} DATA frames`,
    );
  }
});

Deno.test("MessageReader: cancelling a body while a read-ahead is waiting for bytes keeps the frames in step", async () => {
  const frames = [
    message({ op: "data", offset: 0, size: 4 * 3000 }),
    ...Array.from({ length: 4 }, (_, i) => data(patterned(3000, i))),
    end(),
    message({ op: "done", bytes: 1 }),
  ];
  // Headers and payloads in separate chunks, each arriving a few milliseconds
  // after it is asked for, so the body's read-ahead is still waiting when it
  // is cancelled.
  const chunks = frames.flatMap((frame) => {
    const bytes = concat(encodeFrame(frame));
    return splitAt(bytes, [FRAME_HEADER_SIZE]);
  });
  let index = 0;
  const slow = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (index < chunks.length) controller.enqueue(chunks[index++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  const reader = new MessageReader(slow);
  assertEquals((await reader.read())?.op, "data");
  const body = reader.body();
  const chunkReader = body.stream.getReader();
  const first = await chunkReader.read();
  assert(bytesEqual(first.value!, patterned(3000, 0)));
  // Let the read-ahead start waiting for the next frame, then cancel.
  await new Promise((resolve) => setTimeout(resolve, 2));
  await chunkReader.cancel();
  assertEquals(await reader.read(), { op: "done", bytes: 1 });
});

Deno.test("MessageReader: a body whose END carries an error rejects with that typed error, and the next message still reads", async () => {
  const reader = readerOf([
    message({ op: "data", offset: 0, size: 2000 }),
    data(patterned(1000, 1)),
    end({ error: { code: "integrity", reason: "the disk returned bad data" } }),
    message({ op: "ok" }),
  ]);
  assertEquals((await reader.read())?.op, "data");
  const body = reader.body();
  const error = await assertRejects(
    () => Array.fromAsync(body.stream),
    IntegrityError,
    "cannot finish transfer: the disk returned bad data",
  );
  assertEquals((error as IntegrityError).code, "integrity");
  assertEquals((await body.trailer).error?.code, "integrity");
  assertEquals(await reader.read(), { op: "ok" });
});

Deno.test("MessageReader: a body cut off by the end of the stream rejects with a ConnectionError", async () => {
  const reader = readerOf([
    message({ op: "data", offset: 0, size: 2000 }),
    data(patterned(1000, 1)),
  ]);
  assertEquals((await reader.read())?.op, "data");
  const body = reader.body();
  await assertRejects(() => Array.fromAsync(body.stream), ConnectionError);
  await assertRejects(() => body.trailer, ConnectionError);
});

Deno.test("MessageReader refuses a DATA frame where a message was expected and a message inside a body", async () => {
  await assertRejects(
    () => readerOf([data(patterned(3, 1))]).read(),
    ProtocolError,
    "data arrived where a message was expected",
  );
  const reader = readerOf([
    message({ op: "listing", path: "" }),
    data(patterned(3, 1)),
    message({ op: "ok" }),
    end(),
  ]);
  await reader.read();
  await assertRejects(
    () => readBody(reader),
    ProtocolError,
    'message "ok" inside a body',
  );
});

/** A sink gathering into buffers of `size` bytes, failing after `failAfter` fills. */
function gatherSink(size: number, failAfter = Infinity) {
  const parts: Uint8Array[] = [];
  let buffer = new Uint8Array(size);
  let fill = 0;
  let fills = 0;
  return {
    parts,
    room: () => buffer.subarray(fill),
    filled(n: number) {
      if (++fills > failAfter) throw new Error("the disk is full");
      fill += n;
      if (fill === size) {
        parts.push(buffer);
        buffer = new Uint8Array(size);
        fill = 0;
      }
    },
    bytes: () => concat([...parts, buffer.subarray(0, fill)]),
  };
}

Deno.test("MessageReader.bodyInto puts DATA payloads of any size and decompressed pieces into the sink's buffers, from a stream and from a reader alike", async () => {
  const parts = [
    patterned(3 * 65536 + 7, 1),
    patterned(1, 2),
    patterned(0, 3),
    patterned(200_000, 4),
    new Uint8Array(150_000).fill(9),
  ];
  const packed = compressPayload(parts[4]);
  if (packed === null) throw new Error("zeros did not compress");
  const frames = [
    message({ op: "data", offset: 0, size: 550_008 }),
    data(parts[0]),
    message({ op: "ping" }),
    data(parts[1]),
    data(parts[2]),
    message({ op: "notice", message: "hello" }),
    data(parts[3]),
    { type: FrameType.Compressed, payload: packed },
    end({ xxh128: "ab".repeat(16) }),
    message({ op: "ok" }),
  ];
  const bytes = encodeAll(frames);
  const cuts: number[] = [];
  for (let at = 3; at < bytes.byteLength; at += 4099) cuts.push(at);
  const inputs = [
    ReadableStream.from(splitAt(bytes, cuts)),
    chunkReader(splitAt(bytes, cuts)),
  ];
  for (const input of inputs) {
    const notices: string[] = [];
    const reader = new MessageReader(input, {
      onNotice: (notice) => notices.push(notice.message),
    });
    assertEquals((await reader.read())?.op, "data");
    const sink = gatherSink(100_000);
    const trailer = await reader.bodyInto(sink);
    assertEquals(trailer.xxh128, "ab".repeat(16));
    assert(bytesEqual(sink.bytes(), concat(parts)), "body bytes differ");
    assertEquals(notices, ["hello"]);
    assertEquals(await reader.read(), { op: "ok" });
  }
});

Deno.test("MessageReader.bodyInto: a sink that fails part-way gets no more bytes, the rest of the body is read, its error is thrown, and the next message still reads", async () => {
  const reader = readerOf([
    message({ op: "data", offset: 0, size: 50_000 }),
    ...Array.from({ length: 5 }, (_, i) => data(patterned(10_000, i))),
    end(),
    message({ op: "done", bytes: 1 }),
  ]);
  assertEquals((await reader.read())?.op, "data");
  const sink = gatherSink(1 << 20, 2);
  await assertRejects(() => reader.bodyInto(sink), Error, "the disk is full");
  assert(sink.bytes().byteLength < 50_000);
  assertEquals(await reader.read(), { op: "done", bytes: 1 });
});

Deno.test("MessageReader.bodyInto rejects with the sender's typed error from an error trailer, and with a ConnectionError when the stream ends inside the body", async () => {
  const failing = readerOf([
    message({ op: "data", offset: 0, size: 2000 }),
    data(patterned(1000, 1)),
    end({ error: { code: "integrity", reason: "the disk returned bad data" } }),
    message({ op: "ok" }),
  ]);
  await failing.read();
  await assertRejects(
    () => failing.bodyInto(gatherSink(4096)),
    IntegrityError,
    "cannot finish transfer: the disk returned bad data",
  );
  assertEquals(await failing.read(), { op: "ok" });
  const cut = readerOf([
    message({ op: "data", offset: 0, size: 2000 }),
    data(patterned(1000, 1)),
  ]);
  await cut.read();
  await assertRejects(() => cut.bodyInto(gatherSink(4096)), ConnectionError);
});
