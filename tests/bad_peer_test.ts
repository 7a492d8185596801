/**
 * Tests that a misbehaving peer ends only its own session. Each test starts a
 * real server, opens a well-behaved client {@linkcode Connection} first, then
 * lets a raw `Deno.connect` socket break the protocol: garbage, an unknown
 * message, an oversized frame, a truncated frame, an upload abandoned
 * half-way. The server answers with a `protocol` error where it can and
 * closes that socket, while the good connection keeps working. Also covers
 * the connection limit and the idle timeout.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import { upload } from "../client/upload.ts";
import {
  BusyError,
  ConnectionError,
  frameHeader,
  FrameType,
  type Message,
} from "../protocol/mod.ts";
import { STAGING_DIR } from "../server/storage/remote_path.ts";
import {
  frameBytes,
  HELLO,
  HOST,
  messageBytes,
  RawPeer,
  startAbandonedUpload,
  waitFor,
} from "./helpers/raw_peer.ts";
import { startServer, type TestServer } from "./helpers/server.ts";

// ---------------------------------------------------------------------------
// Helpers

const silent: Reporter = { info() {}, progress: () => null };
const transfer = { resume: false, noClobber: false, verify: true };
/** Asserts `messages` is exactly one `protocol` error mentioning `reason`. */
function assertProtocolError(messages: Message[], reason: string): void {
  assertEquals(messages.length, 1, JSON.stringify(messages));
  const [error] = messages;
  if (error.op !== "error") throw new Error(`expected an error: ${error.op}`);
  assertEquals(error.code, "protocol");
  assertStringIncludes(error.reason, reason);
}

/**
 * Runs `misbehave` with a raw socket while a good connection, opened first,
 * stays open; then proves the bad session ended alone and the good one still
 * lists, uploads and downloads. What `misbehave` returns runs once the bad
 * session has ended.
 */
async function withBadPeer(
  misbehave: (
    peer: RawPeer,
    context: TestServer,
  ) => Promise<void | (() => Promise<void>)>,
): Promise<void> {
  const context = await startServer();
  const { server, root, port, cleanup } = context;
  const local = await Deno.makeTempDir({ prefix: "fts-bad-peer-local-" });
  let good: Connection | undefined;
  let peer: RawPeer | undefined;
  try {
    await Deno.writeTextFile(join(root, "existing.txt"), "existing");
    good = await Connection.open({ hostname: HOST, port });
    peer = await RawPeer.connect(port);
    await waitFor("both sessions to start", () => server.connections === 2);

    const after = await misbehave(peer, context);

    peer.close();
    await waitFor("the bad session to end", () => server.connections === 1);
    await after?.();
    assert(!good.closed);
    const names = (await good.list("")).map((entry) => entry.name);
    assert(names.includes("existing.txt"), names.join());
    assert(!names.includes(STAGING_DIR), names.join());

    const source = join(local, "after.bin");
    const bytes = crypto.getRandomValues(new Uint8Array(50_000));
    await Deno.writeFile(source, bytes);
    await upload(good, source, "after.bin", transfer, silent);
    assertEquals(await Deno.readFile(join(root, "after.bin")), bytes);
    const back = join(local, "back.bin");
    await download(good, "after.bin", back, transfer, silent);
    assertEquals(await Deno.readFile(back), bytes);
    await waitFor(
      "only the good session to remain",
      () => server.connections === 1,
    );
  } finally {
    peer?.close();
    await good?.close();
    await cleanup();
    await Deno.remove(local, { recursive: true });
  }
}

// ---------------------------------------------------------------------------
// Bad peers

Deno.test("a peer sending garbage bytes gets a protocol error and only its session ends", async () => {
  await withBadPeer(async (peer) => {
    await peer.send(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: example\r\n\r\n"),
    );
    assertProtocolError(await peer.untilClosed(), "unknown frame type 0x47");
  });
});

Deno.test("a peer sending a well-framed payload that is not JSON gets a protocol error", async () => {
  await withBadPeer(async (peer) => {
    const junk = new TextEncoder().encode("\x01\x02 not json at all");
    await peer.send(frameBytes({ type: FrameType.Message, payload: junk }));
    assertProtocolError(await peer.untilClosed(), "valid JSON");
  });
});

Deno.test("a peer sending a valid frame with an unknown message op gets a protocol error and only its session ends", async () => {
  await withBadPeer(async (peer) => {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    const unknown = new TextEncoder().encode(
      JSON.stringify({ op: "launch", path: "x" }),
    );
    await peer.send(frameBytes({ type: FrameType.Message, payload: unknown }));
    assertProtocolError(
      await peer.untilClosed(),
      'unknown message type "launch"',
    );
  });
});

Deno.test("a peer sending a known message that is not a request gets a protocol error", async () => {
  await withBadPeer(async (peer) => {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    await peer.send(messageBytes({ op: "ready", offset: 0 }));
    assertProtocolError(await peer.untilClosed(), '"ready" is not a request');
  });
});

Deno.test("a peer skipping hello gets a protocol error", async () => {
  await withBadPeer(async (peer) => {
    await peer.send(messageBytes({ op: "ls", path: "" }));
    assertProtocolError(await peer.untilClosed(), 'expected "hello"');
  });
});

Deno.test("a peer sending an oversized frame length header gets a protocol error and only its session ends", async () => {
  await withBadPeer(async (peer) => {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    // Only the header: the server must refuse it without waiting for 4 GiB.
    await peer.send(frameHeader(FrameType.Data, 0xffff_ffff));
    assertProtocolError(await peer.untilClosed(), "exceeds the limit");
  });
});

// A peer that half-closes its socket inside a frame still reads: it is told
// where the frame was cut, then its session ends alone.

Deno.test("a peer that stops inside a frame header and closes is told so and ends only its session", async () => {
  await withBadPeer(async (peer, { server }) => {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    await peer.send(frameHeader(FrameType.Message, 40).subarray(0, 3));
    await peer.conn.closeWrite();
    assertProtocolError(await peer.untilClosed(), "inside a frame");
    await waitFor("the session to end", () => server.connections === 1);
  });
});

Deno.test("a peer that stops inside a frame payload and closes is told so and ends only its session", async () => {
  await withBadPeer(async (peer, { server }) => {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    const whole = messageBytes({ op: "ls", path: "some/long/folder/name" });
    await peer.send(whole.subarray(0, whole.byteLength - 4));
    await peer.conn.closeWrite();
    assertProtocolError(await peer.untilClosed(), "inside a frame");
    await waitFor("the session to end", () => server.connections === 1);
  });
});

Deno.test("a peer that vanishes inside a frame without reading ends only its session", async () => {
  await withBadPeer(async (peer) => {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    await peer.send(frameHeader(FrameType.Message, 1000));
    await peer.send(new Uint8Array(10));
    // withBadPeer closes the socket outright and checks the rest.
  });
});

/** Lists the root: no temporary files, and the old target unchanged. */
async function assertListingClean(
  connection: Connection,
  oldSize: number,
): Promise<void> {
  const entries = await connection.list("");
  const names = entries.map((entry) => entry.name).sort();
  assertEquals(names, ["existing.txt", "target.txt"]);
  const target = entries.find((entry) => entry.name === "target.txt")!;
  assertEquals(target.size, oldSize);
  assertEquals((await connection.stat("target.txt")).size, oldSize);
}

Deno.test("a peer that disconnects in the middle of an upload leaves no new file, keeps the old version and never shows temporary files", async () => {
  const old = new TextEncoder().encode("the previous version must survive\n");
  await withBadPeer(async (peer, { server, root, port }) => {
    await Deno.writeFile(join(root, "target.txt"), old);
    const watcher = await Connection.open({ hostname: HOST, port });
    try {
      // A new target: abandoned half-way, it must not appear.
      const first = await RawPeer.connect(port);
      try {
        await startAbandonedUpload(first, root, "fresh.bin");
        await assertListingClean(watcher, old.byteLength);
      } finally {
        first.close();
      }
      // withBadPeer's good connection and raw peer, and the watcher.
      await waitFor("the first upload to end", () => server.connections === 3);
      await assertListingClean(watcher, old.byteLength);
      await assertRejects(
        () => Deno.lstat(join(root, "fresh.bin")),
        Deno.errors.NotFound,
      );
      // An existing target: abandoned half-way, the old version stays.
      await startAbandonedUpload(peer, root, "target.txt");
      await assertListingClean(watcher, old.byteLength);
      assertEquals(await Deno.readFile(join(root, "target.txt")), old);
    } finally {
      await watcher.close();
    }
    return async () => {
      const fresh = await Connection.open({ hostname: HOST, port });
      try {
        await assertListingClean(fresh, old.byteLength);
      } finally {
        await fresh.close();
      }
      assertEquals(await Deno.readFile(join(root, "target.txt")), old);
    };
  });
});

// ---------------------------------------------------------------------------
// Limits

Deno.test("with maxConnections 2 a third client is refused with a BusyError, and admitted once a slot is free", async () => {
  const { server, port, cleanup } = await startServer({ maxConnections: 2 });
  const open: Connection[] = [];
  try {
    open.push(await Connection.open({ hostname: HOST, port }));
    open.push(await Connection.open({ hostname: HOST, port }));
    const error = await assertRejects(
      () => Connection.open({ hostname: HOST, port }),
      BusyError,
      "limit",
    );
    assertStringIncludes(
      (error as BusyError).message,
      `cannot connect to ${HOST}:${port}: the server is at its limit of 2 connections`,
    );
    assertEquals(server.connections, 2);
    // The admitted sessions are unaffected.
    assertEquals(await open[0].list(""), []);
    assertEquals(await open[1].list(""), []);
    await open.shift()!.close();
    await waitFor("a slot to free up", () => server.connections === 1);
    open.push(await Connection.open({ hostname: HOST, port }));
    assertEquals(await open[1].list(""), []);
  } finally {
    for (const connection of open) await connection.close();
    await cleanup();
  }
});

Deno.test("with idleTimeoutMs 300 the server sends a notice to an idle connection, then closes it", async () => {
  const { server, port, cleanup } = await startServer({ idleTimeoutMs: 300 });
  let peer: RawPeer | undefined;
  try {
    peer = await RawPeer.connect(port);
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    // The notice names the idle timer; the deadline here is only generous.
    const messages = await peer.untilClosed(20_000);
    assertEquals(messages.length, 1, JSON.stringify(messages));
    const [notice] = messages;
    if (notice.op !== "notice") throw new Error(`not a notice: ${notice.op}`);
    assertStringIncludes(notice.message, "without a request");
    await waitFor("the idle session to end", () => server.connections === 0);
  } finally {
    peer?.close();
    await cleanup();
  }
});

Deno.test("a client Connection left idle past idleTimeoutMs is told why and then fails with a ConnectionError", async () => {
  const { server, port, cleanup } = await startServer({ idleTimeoutMs: 300 });
  const notices: string[] = [];
  const connection = await Connection.open(
    { hostname: HOST, port },
    { onNotice: (notice) => notices.push(notice.message) },
  );
  try {
    // Wait for the server to end the idle session (the open above means it
    // began), not for a fixed time.
    await waitFor("the idle session to end", () => server.connections === 0);
    await assertRejects(() => connection.list(""), ConnectionError);
    assert(connection.closed);
    assertEquals(notices.length, 1, notices.join());
    assertStringIncludes(notices[0], "without a request");
  } finally {
    connection.abort();
    await cleanup();
  }
});
