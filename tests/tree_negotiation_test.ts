/**
 * Checksum and compression negotiation for trees (`put -r`, `get -r`) with
 * real peers: older servers (round 1, SHA-256 only; and the last build
 * before trees negotiated, which spoke XXH3-128 for single files only), a
 * client speaking the older tree messages to this server, and this client
 * and server together with `--checksum` and `-z`.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { createHash } from "node:crypto";
import { Connection } from "../client/connection.ts";
import type { Reporter } from "../client/reporter.ts";
import { downloadTree } from "../client/tree_download.ts";
import type { TreeOptions } from "../client/tree_progress.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { FrameReader } from "../protocol/frame_decoder.ts";
import { FrameType } from "../protocol/frame.ts";
import { MessageReader } from "../protocol/message_reader.ts";
import { MessageWriter } from "../protocol/message_writer.ts";
import type { Message, TreeItem } from "../protocol/messages.ts";
import { compression } from "../transfer/compression.ts";
import { Xxh128 } from "../transfer/hash/xxh128.ts";
import { randomBytes, startServe } from "./helpers/cli.ts";
import { ROUND_ONE, sourcesOf } from "./helpers/old_sources.ts";
import { startServer } from "./helpers/server.ts";
import { startRelay } from "./helpers/relay.ts";

/** The last commit before trees negotiated their checksum and compression. */
const BEFORE_TREES = "d9ea6fa";
const OPTIONS: TreeOptions = { resume: true, noClobber: false, verify: true };
const quiet: Reporter = { info: () => {}, progress: () => null };
const MiB = 1024 * 1024;

const sha256 = (data: Uint8Array) =>
  createHash("sha256").update(data).digest("hex");
const xxh128 = (data: Uint8Array) => new Xxh128().update(data).hex();

function textBytes(size: number): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode("trees negotiate too\n".repeat(size))
    .subarray(0, size);
}

/** A tree with small files of text and random bytes and a 3 MiB text file. */
async function makeTree(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>([
    ["a.txt", textBytes(5000)],
    ["r.bin", randomBytes(3000)],
    ["sub/big.txt", textBytes(3 * MiB + 17)],
    ["sub/empty", new Uint8Array(0)],
  ]);
  await Deno.mkdir(join(dir, "sub"), { recursive: true });
  for (const [path, data] of files) await Deno.writeFile(join(dir, path), data);
  return files;
}

async function assertTree(dir: string, files: Map<string, Uint8Array>) {
  for (const [path, data] of files) {
    assertEquals(await Deno.readFile(join(dir, path)), data, path);
  }
}

for (
  const [name, commit] of [["round-1", ROUND_ONE], ["pre-tree", BEFORE_TREES]]
) {
  Deno.test(`put -r and get -r with -z against a ${name} server fall back to SHA-256 (seen on the wire) and arrive intact`, async () => {
    const sources = await sourcesOf(commit);
    const root = await Deno.makeTempDir({ prefix: "fts-old-root-" });
    const work = await Deno.makeTempDir({ prefix: "fts-work-" });
    const serve = await startServe(root, [], {
      main: join(sources, "main.ts"),
    });
    try {
      const files = await makeTree(join(work, "src"));
      // Through a relay that records the wire: the trailers must be SHA-256.
      await using relay = startRelay(serve.port);
      const c = await Connection.open({
        hostname: "127.0.0.1",
        port: relay.port,
      });
      try {
        // An XXH3-128 trailer to a server expecting SHA-256 would fail every
        // file, so an intact tree proves the fallback.
        const options: TreeOptions = { ...OPTIONS, compress: "on" };
        const sent = await uploadTree(
          c,
          join(work, "src"),
          "up",
          options,
          quiet,
        );
        assertEquals([sent.files, sent.failed], [files.size, 0]);
        await assertTree(join(root, "up"), files);
        const got = await downloadTree(
          c,
          "up",
          join(work, "back"),
          options,
          quiet,
        );
        assertEquals([got.files, got.failed], [files.size, 0]);
        await assertTree(join(work, "back"), files);
        const wire = relay.captured();
        for (const [path, data] of files) {
          assertStringIncludes(wire, sha256(data), `${path}'s SHA-256`);
        }
        // The client still names xxh128 in its request; no digest is one.
        assert(!/"xxh128":"/.test(wire), "no XXH3-128 digest on the wire");
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
}

/** A raw connection speaking frames to this server, after `hello`. */
async function rawClient(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const writer = new MessageWriter(conn.writable);
  const frames = new FrameReader(conn);
  const next = async () => (await frames.next())!;
  const message = async (): Promise<Message> =>
    JSON.parse(new TextDecoder().decode((await next()).payload));
  await writer.send({
    op: "hello",
    version: 1,
    agent: "test",
    features: ["resume", "sha256"],
  });
  assertEquals((await message()).op, "welcome");
  /** Reads one body: the frame types seen, the bytes (inflated) and trailer. */
  const body = async () => {
    const types: number[] = [];
    for (let frame = await next();; frame = await next()) {
      if (frame.type === FrameType.End) {
        return {
          types,
          trailer: JSON.parse(new TextDecoder().decode(frame.payload)),
        };
      }
      types.push(frame.type);
    }
  };
  return { conn, writer, message, body };
}

Deno.test("tree-want naming no checksum gets SHA-256 trailers, raw frames and no checksum in its file messages", async () => {
  const { port, root, cleanup } = await startServer();
  const files = await makeTree(root);
  const client = await rawClient(port);
  try {
    await client.writer.send({ op: "tree-want", path: "", verify: true });
    await client.writer.sendBody([
      new TextEncoder().encode('"a.txt"\n"sub/big.txt"\n'),
    ]);
    for (const path of ["a.txt", "sub/big.txt"]) {
      const file = await client.message();
      if (file.op !== "file") throw new Error(`"${file.op}" instead of a file`);
      assertEquals(file.path, path);
      assertEquals(file.checksum, undefined);
      const { types, trailer } = await client.body();
      assert(types.every((type) => type === FrameType.Data));
      assertEquals(trailer, { sha256: sha256(files.get(path)!) });
    }
    assertEquals((await client.message()).op, "tree-end");
  } finally {
    client.conn.close();
    await cleanup();
  }
});

Deno.test("tree-want naming xxh128 with compress gets XXH3-128 trailers, named in each file message, and zstd frames for text", async () => {
  const { port, root, cleanup } = await startServer();
  const files = await makeTree(root);
  const client = await rawClient(port);
  try {
    await client.writer.send({
      op: "tree-want",
      path: "",
      verify: true,
      checksum: "xxh128",
      compress: "on",
    });
    await client.writer.sendBody([
      new TextEncoder().encode('"a.txt"\n"r.bin"\n"sub/big.txt"\n'),
    ]);
    const kinds: Record<string, number[]> = {};
    for (const path of ["a.txt", "r.bin", "sub/big.txt"]) {
      const file = await client.message();
      if (file.op !== "file") throw new Error(`"${file.op}" instead of a file`);
      assertEquals(file.path, path);
      assertEquals(file.checksum, "xxh128");
      const { types, trailer } = await client.body();
      kinds[path] = [...new Set(types)];
      assertEquals(trailer, { xxh128: xxh128(files.get(path)!) });
    }
    assertEquals(kinds, {
      "a.txt": [FrameType.Compressed],
      "r.bin": [FrameType.Data],
      // Three 1 MiB pieces shrink; the 17-byte tail does not.
      "sub/big.txt": [FrameType.Compressed, FrameType.Data],
    });
    assertEquals((await client.message()).op, "tree-end");
  } finally {
    client.conn.close();
    await cleanup();
  }
});

/** Sends a tree-put of `data` as `f.txt` with the given extra request fields. */
async function putOne(
  port: number,
  data: Uint8Array,
  fields: { checksum?: string; compress?: boolean },
  trailer: Record<string, string>,
): Promise<{ need: Message; acks: Message[] }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const writer = new MessageWriter(conn.writable);
    const reader = new MessageReader(conn);
    await writer.send({
      op: "hello",
      version: 1,
      agent: "test",
      features: ["resume", "sha256"],
    });
    assertEquals((await reader.read())?.op, "welcome");
    await writer.send({ op: "tree-put", path: "up", verify: true, ...fields });
    const item: TreeItem = {
      path: "f.txt",
      type: "file",
      size: data.byteLength,
      mtime: 1_700_000_000_000,
      mode: 0o644,
    };
    await writer.sendBody([
      new TextEncoder().encode(JSON.stringify(item) + "\n"),
    ]);
    const need = (await reader.read())!;
    for await (const _ of reader.body().stream);
    await writer.send({
      op: "file",
      path: "f.txt",
      size: data.byteLength,
      mtime: item.mtime,
      mode: item.mode,
    });
    await writer.sendBody(
      [data],
      () => trailer,
      undefined,
      compression(fields.compress ? "on" : undefined),
    );
    await writer.send({ op: "tree-end" });
    const acks: Message[] = [];
    for (let reply; (reply = await reader.read())?.op !== "tree-done";) {
      acks.push(reply!);
    }
    return { need, acks };
  } finally {
    conn.close();
  }
}

Deno.test("tree-put naming no checksum is answered without the new fields and checked with SHA-256", async () => {
  const { port, root, cleanup } = await startServer();
  try {
    const data = textBytes(2 * MiB);
    const { need, acks } = await putOne(port, data, {}, {
      sha256: sha256(data),
    });
    assertEquals(need, { op: "tree-need", files: 1 });
    assert(acks.every((ack) => ack.op === "tree-ack" && !ack.failed.length));
    assertEquals(await Deno.readFile(join(root, "up", "f.txt")), data);
  } finally {
    await cleanup();
  }
});

Deno.test("tree-put naming xxh128 and compress is agreed in tree-need, and zstd frames with an XXH3-128 trailer arrive intact", async () => {
  const { port, root, cleanup } = await startServer();
  try {
    const data = textBytes(2 * MiB + 5);
    const { need, acks } = await putOne(
      port,
      data,
      { checksum: "xxh128", compress: true },
      { xxh128: xxh128(data) },
    );
    assertEquals(need, {
      op: "tree-need",
      files: 1,
      checksum: "xxh128",
      compress: true,
    });
    assert(acks.every((ack) => ack.op === "tree-ack" && !ack.failed.length));
    assertEquals(await Deno.readFile(join(root, "up", "f.txt")), data);
    // A SHA-256 trailer where XXH3-128 was agreed is a damaged file.
    const bad = await putOne(
      port,
      textBytes(1000),
      { checksum: "xxh128" },
      { sha256: sha256(textBytes(1000)) },
    );
    const failed = bad.acks.flatMap((ack) =>
      ack.op === "tree-ack" ? ack.failed : []
    );
    assertEquals(failed.map((f) => [f.path, f.code]), [["f.txt", "integrity"]]);
  } finally {
    await cleanup();
  }
});

Deno.test("put -r and get -r verify with XXH3-128 by default and SHA-256 on request, with -z, --compress=auto and without", async () => {
  const { port, root, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    const files = await makeTree(join(work, "src"));
    const cases: TreeOptions[] = [
      OPTIONS,
      { ...OPTIONS, compress: "on" },
      { ...OPTIONS, compress: "auto", checksum: "sha256" },
      { ...OPTIONS, compress: "on", checksum: "sha256", parallel: 2 },
    ];
    for (const [i, options] of cases.entries()) {
      const sent = await uploadTree(
        c,
        join(work, "src"),
        `t${i}`,
        options,
        quiet,
        () => Connection.open({ hostname: "127.0.0.1", port }),
      );
      assertEquals([sent.files, sent.failed], [files.size, 0], `put ${i}`);
      await assertTree(join(root, `t${i}`), files);
      const back = join(work, `back${i}`);
      const got = await downloadTree(
        c,
        `t${i}`,
        back,
        options,
        quiet,
        () => Connection.open({ hostname: "127.0.0.1", port }),
      );
      assertEquals([got.files, got.failed], [files.size, 0], `get ${i}`);
      await assertTree(back, files);
    }
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

/** `count` log-like text files of `size` bytes each, in folders of 500. */
async function makeTextTree(
  dir: string,
  count: number,
  size: number,
): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  let seed = 11;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let i = 0; i < count; i++) {
    let text = "";
    while (text.length < size) {
      text += `2026-12-07 host${next() % 13} put dir${next() % 101}/f${
        next() % 7919
      } ${next()} bytes ok\n`;
    }
    files.set(
      `d${Math.floor(i / 500)}/f${i}.log`,
      new TextEncoder().encode(text.slice(0, size)),
    );
  }
  for (const [path, data] of files) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeFile(join(dir, path), data);
  }
  return files;
}

Deno.test("put -r and get -r with --compress=auto compress a tree of small text files once the slow link is the bound", async () => {
  const { port, root, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const raw = 3000 * 12288;
  try {
    const files = await makeTextTree(join(work, "src"), 3000, 12288);
    const options: TreeOptions = { ...OPTIONS, compress: "auto" };
    for (const direction of ["put", "get"]) {
      // 6 MB/s each way: the link, not the CPU, is the bound.
      await using relay = startRelay(port, { rate: 6_000_000 });
      const c = await Connection.open({
        hostname: "127.0.0.1",
        port: relay.port,
      });
      try {
        const result = direction === "put"
          ? await uploadTree(c, join(work, "src"), "t", options, quiet)
          : await downloadTree(c, "t", join(work, "back"), options, quiet);
        assertEquals([result.files, result.failed], [files.size, 0]);
      } finally {
        c.abort();
      }
      await assertTree(
        join(
          direction === "put" ? root : work,
          direction === "put" ? "t" : "back",
        ),
        files,
      );
      // Before, auto measured large files only and sent these all raw.
      assert(
        relay.bytes() < raw * 0.85,
        `${direction}: ${relay.bytes()} bytes crossed for ${raw}`,
      );
    }
  } finally {
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});
