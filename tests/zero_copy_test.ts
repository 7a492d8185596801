/**
 * Zero-copy sends: file bytes moved by sendfile(2) as ordinary DATA frames,
 * over real TCP connections on 127.0.0.1. The frames decode like buffered
 * ones, a full socket is waited for (a receiver slower than the sender), a
 * file shorter than announced keeps the connection in step, and gets the
 * server need not hash arrive byte for byte through the real server.
 *
 * @module
 */

import { assertEquals, assertInstanceOf } from "@std/assert";
import { IntegrityError } from "../protocol/errors.ts";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import type { TransferOptions } from "../client/options.ts";
import { upload } from "../client/upload.ts";
import { FrameReader } from "../protocol/frame_decoder.ts";
import { FrameType } from "../protocol/frame.ts";
import { closeFd, haveLibc, O_RDONLY, openAt } from "../transfer/libc.ts";
import { sendFileFrames } from "../server/net/sendfile_body.ts";
import { duplicate, findSocket } from "../server/net/socket_descriptor.ts";
import { randomBytes } from "./helpers/cli.ts";
import { concat, HELLO, messageBytes, RawPeer } from "./helpers/raw_peer.ts";
import { startServer } from "./helpers/server.ts";

const noLibc = !haveLibc();
const quiet: Reporter = { info: () => {}, progress: () => null };

/** A connected pair on 127.0.0.1: the accepted end and the client end. */
async function pair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const accepted = await listener.accept();
  return [accepted, await client];
}

/** Reads DATA frames until `bytes` payload bytes arrived; answers them joined. */
async function readFrames(
  conn: Deno.Conn,
  bytes: number,
  slowly = false,
): Promise<{ data: Uint8Array; frames: number }> {
  const reader = new FrameReader(conn);
  const data = new Uint8Array(bytes);
  let at = 0;
  let frames = 0;
  while (at < bytes) {
    const frame = await reader.next();
    if (frame === null) throw new Error("the connection ended early");
    assertEquals(frame.type, FrameType.Data);
    data.set(frame.payload, at);
    at += frame.payload.byteLength;
    frames++;
    // Let the sender fill the socket and wait for room.
    if (slowly) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { data, frames };
}

/**
 * Runs `fn` with a file of `size` random bytes opened as a descriptor, the
 * descriptor of an accepted socket, and the client end of that connection.
 */
async function withSocketAndFile(
  size: number,
  fn: (ctx: {
    content: Uint8Array;
    file: number;
    socket: number;
    client: Deno.Conn;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fts-zero-copy-" });
  const [server, client] = await pair();
  try {
    const content = randomBytes(size);
    const path = join(dir, "file");
    await Deno.writeFile(path, content);
    const found = findSocket(server);
    if (found === null) throw new Error("the accepted socket is not found");
    const file = openAt(-100, path, O_RDONLY);
    const socket = duplicate(found)!;
    try {
      await fn({ content, file, socket, client });
    } finally {
      closeFd(socket);
      closeFd(file);
    }
  } finally {
    server.close();
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "sendfile frames decode like buffered ones, also past a full socket" +
    (noLibc ? " (ignored: libc is out of reach by FFI here)" : ""),
  ignore: noLibc,
  fn: () =>
    withSocketAndFile(24 * 1024 * 1024 + 777, async (ctx) => {
      const { content, file, socket, client } = ctx;
      const offset = 12345;
      const length = content.byteLength - offset;
      const received = readFrames(client, length, true);
      const sent = await sendFileFrames(socket, file, offset, length);
      assertEquals(sent, { bytes: length, shortened: false });
      const { data, frames } = await received;
      assertEquals(frames, Math.ceil(length / (1024 * 1024)));
      assertEquals(data, content.subarray(offset));
    }),
});

Deno.test({
  name: "a file shorter than announced is padded to whole frames and said so" +
    (noLibc ? " (ignored: libc is out of reach by FFI here)" : ""),
  ignore: noLibc,
  fn: () =>
    withSocketAndFile(1024 * 1024 + 10, async (ctx) => {
      const { content, file, socket, client } = ctx;
      const announced = 3 * 1024 * 1024;
      const received = readFrames(client, 2 * 1024 * 1024);
      const sent = await sendFileFrames(socket, file, 0, announced);
      assertEquals(sent, { bytes: content.byteLength, shortened: true });
      const { data, frames } = await received;
      // The second frame was begun, so it is completed with zeros.
      assertEquals(frames, 2);
      assertEquals(data.subarray(0, content.byteLength), content);
      assertEquals(
        data.subarray(content.byteLength).every((b) => b === 0),
        true,
      );
    }),
});

/** Runs `fn` with a real server, its root, a work folder and a client. */
async function withClient(
  fn: (ctx: { root: string; work: string; c: Connection }) => Promise<void>,
): Promise<void> {
  const { root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    await fn({ root, work, c });
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
}

const VERIFIED: TransferOptions = {
  resume: true,
  noClobber: false,
  verify: true,
};
const UNVERIFIED: TransferOptions = {
  ...VERIFIED,
  resume: false,
  verify: false,
};

Deno.test("gets the server need not hash arrive byte for byte, of every awkward size", async () => {
  await withClient(async ({ root, work, c }) => {
    const mib = 1024 * 1024;
    for (const size of [0, 1, mib - 1, mib, mib + 1, 5 * mib + 12345]) {
      const data = randomBytes(size);
      await Deno.writeFile(join(root, `f-${size}`), data);
      const back = join(work, `out-${size}`);
      const got = await download(c, `f-${size}`, back, UNVERIFIED, quiet);
      assertEquals(got.bytes, size);
      assertEquals(await Deno.readFile(back), data);
    }
    // The session goes on in step after them.
    assertEquals((await c.list("")).length, 6);
  });
});

Deno.test("a verified get answered from the recorded digest arrives byte for byte and verified", async () => {
  await withClient(async ({ root, work, c }) => {
    const data = randomBytes(3 * 1024 * 1024 + 4321);
    const local = join(work, "in");
    await Deno.writeFile(local, data);
    // The put records the digest; the gets after it need not hash.
    const sent = await upload(c, local, "f", VERIFIED, quiet);
    for (let round = 0; round < 2; round++) {
      const back = join(work, `out-${round}`);
      const got = await download(c, "f", back, VERIFIED, quiet);
      assertEquals(got.digest, sent.digest);
      assertEquals(await Deno.readFile(back), data);
    }
    // Rewritten in place with the same size and times. Deno gives the
    // change time in whole seconds, so within the same second the record
    // may still look valid: then the client's own hash refuses the bytes.
    // Never are wrong bytes kept under the target name.
    const stored = await Deno.readFile(join(root, "f"));
    const { mtime } = await Deno.stat(join(root, "f"));
    stored[77] ^= 0xff;
    await Deno.writeFile(join(root, "f"), stored);
    await Deno.utime(join(root, "f"), mtime!, mtime!);
    const again = join(work, "out-changed");
    const outcome = await download(c, "f", again, VERIFIED, quiet).then(
      () => null,
      (error: unknown) => error,
    );
    if (outcome === null) {
      assertEquals(await Deno.readFile(again), stored);
    } else {
      assertInstanceOf(outcome, IntegrityError);
      assertEquals(await Deno.stat(again).catch(() => null), null);
    }
  });
});

Deno.test("a verified get of a file without a record records its digest, and the next get is answered from it", async () => {
  await withClient(async ({ root, work, c }) => {
    const records = async () => {
      const names: string[] = [];
      try {
        for await (const entry of Deno.readDir(join(root, ".fts", "records"))) {
          names.push(entry.name);
        }
      } catch {
        // No folder yet: no records.
      }
      return names;
    };
    const data = randomBytes(2 * 1024 * 1024 + 99);
    // Placed by hand, as by another program: no record.
    await Deno.writeFile(join(root, "f"), data);
    assertEquals(await records(), []);
    const first = await download(c, "f", join(work, "a"), VERIFIED, quiet);
    assertEquals((await records()).length, 1);
    const second = await download(c, "f", join(work, "b"), VERIFIED, quiet);
    assertEquals(second.digest, first.digest);
    assertEquals(await Deno.readFile(join(work, "b")), data);
  });
});

/**
 * Sends hello and an unverified `get` of `path` (with `maxData` when given)
 * on a raw socket; answers the DATA payload sizes and the bytes joined.
 */
async function rawGet(
  port: number,
  path: string,
  maxData?: number,
): Promise<{ sizes: number[]; data: Uint8Array }> {
  const peer = await RawPeer.connect(port);
  try {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    await peer.send(messageBytes({
      op: "get",
      path,
      offset: 0,
      verify: false,
      maxData,
    }));
    assertEquals((await peer.message()).op, "data");
    const sizes: number[] = [];
    const parts: Uint8Array[] = [];
    for (;;) {
      const frame = await peer.frames.next();
      if (frame === null) throw new Error("the connection ended early");
      if (frame.type === FrameType.End) break;
      assertEquals(frame.type, FrameType.Data);
      sizes.push(frame.payload.byteLength);
      parts.push(frame.payload.slice());
    }
    return { sizes, data: concat(parts) };
  } finally {
    peer.close();
  }
}

Deno.test({
  name:
    "a client that takes large frames gets the file by sendfile in frames of up to 16 MiB; one that does not say gets 1 MiB frames" +
    (noLibc ? " (ignored: libc is out of reach by FFI here)" : ""),
  ignore: noLibc,
  fn: async () => {
    const { root, port, cleanup } = await startServer();
    try {
      const mib = 1024 * 1024;
      const data = randomBytes(36 * mib + 5);
      await Deno.writeFile(join(root, "f"), data);
      const large = await rawGet(port, "f", 64 * mib);
      assertEquals(large.sizes, [16 * mib, 16 * mib, 4 * mib + 5]);
      assertEquals(large.data, data);
      const asked = await rawGet(port, "f", 4 * mib);
      assertEquals(asked.sizes.length, 10);
      assertEquals(asked.sizes[0], 4 * mib);
      const older = await rawGet(port, "f");
      assertEquals(older.sizes.length, 37);
      assertEquals(Math.max(...older.sizes), mib);
      assertEquals(older.data, data);
    } finally {
      await cleanup();
    }
  },
});

Deno.test("a get through the client's large buffers arrives byte for byte, from a sendfile and a buffered server alike, and the session goes on", async () => {
  await withClient(async ({ root, work, c }) => {
    const mib = 1024 * 1024;
    // Sizes around the client's buffers (4 MiB) and the server's frames.
    for (const size of [4 * mib - 1, 4 * mib, 9 * mib + 3, 17 * mib + 1]) {
      const data = randomBytes(size);
      await Deno.writeFile(join(root, `g-${size}`), data);
      for (const options of [VERIFIED, UNVERIFIED]) {
        const back = join(work, `g-${size}-${options.verify}`);
        const got = await download(c, `g-${size}`, back, options, quiet);
        assertEquals(got.bytes, size);
        assertEquals(await Deno.readFile(back), data);
      }
    }
    assertEquals((await c.list("")).length, 4);
  });
});
