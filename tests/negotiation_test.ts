/**
 * Checksum and compression negotiation with real peers: a round-1 server
 * (this repository at c94384e, which speaks only SHA-256 and no
 * compression), a client speaking the round-1 wire format to this server,
 * and this client and server together with `--checksum` and `-z`.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { createHash } from "node:crypto";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import { type TransferOptions, upload } from "../client/upload.ts";
import { FrameReader } from "../protocol/frame_decoder.ts";
import { FrameType } from "../protocol/frame.ts";
import { MessageReader } from "../protocol/message_reader.ts";
import { MessageWriter } from "../protocol/message_writer.ts";
import { Xxh128 } from "../transfer/hash/xxh128.ts";
import { randomBytes, runFts, startServe } from "./helpers/cli.ts";
import { connectOlder, ROUND_ONE, sourcesOf } from "./helpers/old_sources.ts";
import { startServer } from "./helpers/server.ts";

const OPTIONS: TransferOptions = {
  resume: true,
  noClobber: false,
  verify: true,
};
const quiet: Reporter = { info: () => {}, progress: () => null };

const sha256 = (data: Uint8Array) =>
  createHash("sha256").update(data).digest("hex");

function textBytes(size: number): Uint8Array {
  return new TextEncoder().encode("fts negotiates per request\n".repeat(size))
    .subarray(0, size);
}

Deno.test("put and get with a round-1 server fall back to SHA-256 and no compression", async () => {
  const sources = await sourcesOf(ROUND_ONE);
  const root = await Deno.makeTempDir({ prefix: "fts-old-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const serve = await startServe(root, [], { main: join(sources, "main.ts") });
  try {
    const c = await Connection.open({
      hostname: "127.0.0.1",
      port: serve.port,
    });
    try {
      const data = textBytes(3 * 1024 * 1024 + 7);
      const local = join(work, "in.txt");
      await Deno.writeFile(local, data);
      const options: TransferOptions = { ...OPTIONS, compress: "on" };
      const sent = await upload(c, local, "old.txt", options, quiet);
      assertEquals(sent.checksum, "sha256");
      assertEquals(sent.digest, sha256(data));
      assertEquals(await Deno.readFile(join(root, "old.txt")), data);
      const back = join(work, "out.txt");
      const got = await download(c, "old.txt", back, options, quiet);
      assertEquals(got.checksum, "sha256");
      assertEquals(got.digest, sha256(data));
      assertEquals(await Deno.readFile(back), data);
    } finally {
      c.abort();
    }
  } finally {
    await serve.stop();
    for (const dir of [sources, root, work]) {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("a client that names no checksum gets SHA-256 and none of the new fields", async () => {
  const { port, root, cleanup } = await startServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const writer = new MessageWriter(conn.writable);
    const reader = new MessageReader(conn.readable);
    await writer.send({
      op: "hello",
      version: 1,
      agent: "fts/0.1.0",
      features: ["resume", "sha256"],
    });
    assertEquals((await reader.read())?.op, "welcome");
    const data = randomBytes(100_000);
    await writer.send({
      op: "put",
      path: "a.bin",
      size: data.byteLength,
      mtime: 0,
      mode: null,
      resume: true,
      noClobber: false,
      verify: true,
    });
    assertEquals(await reader.read(), { op: "ready", offset: 0 });
    await writer.send({ op: "data", offset: 0, size: data.byteLength });
    await writer.sendBody([data], () => ({ sha256: sha256(data) }));
    assertEquals(await reader.read(), {
      op: "done",
      bytes: data.byteLength,
      sha256: sha256(data),
    });
    await writer.send({ op: "get", path: "a.bin", offset: 0, verify: true });
    const header = await reader.read();
    assert(header?.op === "data" && header.checksum === undefined);
    const body = reader.body();
    const parts: Uint8Array<ArrayBuffer>[] = [];
    for await (const part of body.stream) parts.push(part.slice());
    assertEquals(await body.trailer, { sha256: sha256(data) });
    assertEquals(await new Blob(parts).bytes(), data);
    assertEquals(await Deno.readFile(join(root, "a.bin")), data);
  } finally {
    conn.close();
    await cleanup();
  }
});

Deno.test("get with compress sends text as zstd frames and random data raw, with the XXH3-128 of the original", async () => {
  const { port, root, cleanup } = await startServer();
  const text = textBytes(2 * 1024 * 1024 + 99);
  const random = randomBytes(1024 * 1024 + 5);
  await Deno.writeFile(join(root, "t.txt"), text);
  await Deno.writeFile(join(root, "r.bin"), random);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const writer = new MessageWriter(conn.writable);
    const frames = new FrameReader(conn.readable);
    const message = async () =>
      JSON.parse(new TextDecoder().decode((await frames.next())!.payload));
    await writer.send({
      op: "hello",
      version: 1,
      agent: "test",
      features: ["resume", "sha256", "xxh128", "zstd"],
    });
    assertEquals((await message()).op, "welcome");
    for (
      const [name, data, kind] of [
        ["t.txt", text, FrameType.Compressed],
        ["r.bin", random, FrameType.Data],
      ] as const
    ) {
      await writer.send({
        op: "get",
        path: name,
        offset: 0,
        verify: true,
        checksum: "xxh128",
        compress: "on",
      });
      assertEquals((await message()).checksum, "xxh128");
      const types = new Set<number>();
      let frame;
      while ((frame = await frames.next())!.type !== FrameType.End) {
        types.add(frame!.type);
      }
      assertEquals([...types], [kind]);
      assertEquals(
        JSON.parse(new TextDecoder().decode(frame!.payload)),
        { xxh128: new Xxh128().update(data).hex() },
      );
    }
  } finally {
    conn.close();
    await cleanup();
  }
});

Deno.test("put and get verify with XXH3-128 by default, SHA-256 on request, compressed or not", async () => {
  const { port, root, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    const data = new Uint8Array([
      ...textBytes(1024 * 1024),
      ...randomBytes(1024 * 1024),
      ...textBytes(500),
    ]);
    const local = join(work, "mixed");
    await Deno.writeFile(local, data);
    const cases: TransferOptions[] = [
      OPTIONS,
      { ...OPTIONS, compress: "on" },
      { ...OPTIONS, compress: "auto", checksum: "sha256" },
      { ...OPTIONS, checksum: "sha256" },
    ];
    for (const [i, options] of cases.entries()) {
      const expected = options.checksum === "sha256"
        ? sha256(data)
        : new Xxh128().update(data).hex();
      const sent = await upload(c, local, `m${i}`, options, quiet);
      assertEquals(sent.digest, expected);
      assertEquals(await Deno.readFile(join(root, `m${i}`)), data);
      const back = join(work, `back${i}`);
      const got = await download(c, `m${i}`, back, options, quiet);
      assertEquals(got.digest, expected);
      assertEquals(await Deno.readFile(back), data);
    }
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("fts put -z, get --compress=auto and hash --checksum xxh128 from the command line", async () => {
  const { port, root, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const host = `127.0.0.1:${port}`;
  try {
    const data = textBytes(3 * 1024 * 1024);
    await Deno.writeFile(join(work, "a.txt"), data);
    const put = await runFts(
      ["connect", host, "--quiet", "put", "-z", "a.txt", "a.txt"],
      { cwd: work },
    );
    assertEquals(put.code, 0, put.stderr);
    assertEquals(await Deno.readFile(join(root, "a.txt")), data);
    const get = await runFts(
      ["connect", host, "--quiet", "--compress=auto", "get", "a.txt", "b.txt"],
      { cwd: work },
    );
    assertEquals(get.code, 0, get.stderr);
    assertEquals(await Deno.readFile(join(work, "b.txt")), data);
    const plain = await runFts(["connect", host, "hash", "a.txt"]);
    assertEquals(plain.stdout.trim(), `${sha256(data)}  a.txt`);
    const fast = await runFts(
      ["connect", host, "hash", "--checksum", "xxh128", "a.txt"],
    );
    assertEquals(
      fast.stdout.trim(),
      `${new Xxh128().update(data).hex()}  a.txt`,
    );
    const bad = await runFts(["connect", host, "--checksum", "md5", "ls"]);
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, "--checksum takes xxh128 or sha256");
    const badCompress = await runFts([
      "connect",
      host,
      "--compress=gzip",
      "ls",
    ]);
    assertEquals(badCompress.code, 2);
    assertStringIncludes(
      badCompress.stderr,
      '--compress takes nothing or =auto, not "gzip"',
    );
  } finally {
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

/** The last commit of main before streamed zstd (`compressStream`). */
const BEFORE_STREAM = "c9e9cf2";

Deno.test("-z between this build and one before streamed zstd falls back to pieces compressed alone, both ways", async () => {
  const sources = await sourcesOf(BEFORE_STREAM);
  const root = await Deno.makeTempDir({ prefix: "fts-stream-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-stream-work-" });
  const text = textBytes(3 * 1024 * 1024 + 17);
  await Deno.writeFile(join(work, "t.txt"), text);
  try {
    // This client, the older server.
    const older = await startServe(root, [], {
      main: join(sources, "main.ts"),
    });
    try {
      const c = await Connection.open({
        hostname: "127.0.0.1",
        port: older.port,
      });
      try {
        const options: TransferOptions = { ...OPTIONS, compress: "on" };
        await upload(c, join(work, "t.txt"), "up.txt", options, quiet);
        assertEquals(await Deno.readFile(join(root, "up.txt")), text);
        const back = join(work, "back.txt");
        await download(c, "up.txt", back, options, quiet);
        assertEquals(await Deno.readFile(back), text);
      } finally {
        c.abort();
      }
    } finally {
      await older.stop();
    }
    // The older client, this server.
    const serve = await startServe(root);
    try {
      const run = (args: string[]) =>
        connectOlder(sources, serve.address, ["--quiet", ...args], {
          cwd: work,
        });
      const put = await run(["put", "-z", "t.txt", "old.txt"]);
      assertEquals(put.code, 0, put.stderr);
      assertEquals(await Deno.readFile(join(root, "old.txt")), text);
      const get = await run(["get", "-z", "old.txt", "old-back.txt"]);
      assertEquals(get.code, 0, get.stderr);
      assertEquals(await Deno.readFile(join(work, "old-back.txt")), text);
    } finally {
      await serve.stop();
    }
  } finally {
    await Deno.remove(sources, { recursive: true });
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
});
