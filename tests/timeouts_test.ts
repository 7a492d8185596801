/**
 * The clocks that bound a session, with real sockets: a transfer that makes
 * no progress is ended (its staged bytes kept and its lock released, so the
 * rerun resumes), a connection that does not log in in time is closed
 * whatever it sends meanwhile. (Silent connections to a TLS server are in
 * tls_handshake_test.ts.)
 *
 * @module
 */

import {
  assertEquals,
  assertGreaterOrEqual,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { FrameType, type Message, MessageWriter } from "../protocol/mod.ts";
import { addUser } from "../server/auth/users.ts";
import { randomBytes } from "./helpers/cli.ts";
import {
  frameBytes,
  HELLO,
  HOST,
  messageBytes,
  RawPeer,
  startAbandonedUpload,
  waitFor,
} from "./helpers/raw_peer.ts";
import { startServer } from "./helpers/server.ts";

/** Asserts `messages` ends with a notice that mentions `text`. */
function assertLastNotice(messages: Message[], text: string): void {
  const last = messages.at(-1);
  if (last?.op !== "notice") {
    throw new Error(`expected a notice: ${JSON.stringify(messages)}`);
  }
  assertStringIncludes(last.message, text);
}

Deno.test("a put whose body stops is ended after the stall timeout; the rerun resumes from the staged bytes", async () => {
  const { server, root, port, cleanup } = await startServer({
    idleTimeoutMs: 400,
  });
  const stalled = await RawPeer.connect(port);
  const rerun = await RawPeer.connect(port);
  try {
    await startAbandonedUpload(stalled, root, "big.bin");
    // The notice names the stall timer; the deadline is only generous.
    const messages = await stalled.untilClosed(20_000);
    assertLastNotice(messages, "no progress");
    await waitFor("the stalled session to end", () => server.connections === 1);
    // Same path, size and mtime: the staged bytes and the lock are free.
    const writer = new MessageWriter(rerun.conn.writable);
    await writer.send(HELLO);
    assertEquals((await rerun.message()).op, "welcome");
    await writer.send({
      op: "put",
      path: "big.bin",
      size: 1024 * 1024,
      mtime: 1_700_000_000_000,
      mode: null,
      resume: true,
      noClobber: false,
      verify: true,
    });
    const ready = await rerun.message();
    if (ready.op !== "ready") throw new Error(JSON.stringify(ready));
    assertGreaterOrEqual(ready.offset, 300_000);
  } finally {
    stalled.close();
    rerun.close();
    await cleanup();
  }
});

Deno.test("a get whose client stops reading is ended after the stall timeout", async () => {
  const { server, root, port, cleanup } = await startServer({
    idleTimeoutMs: 400,
  });
  // Larger than what loopback socket buffers hold.
  await Deno.writeFile(join(root, "big.bin"), randomBytes(48 * 1024 * 1024));
  const peer = await RawPeer.connect(port);
  try {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    await peer.send(
      messageBytes({ op: "get", path: "big.bin", offset: 0, verify: true }),
    );
    await waitFor("the session to start", () => server.connections === 1);
    // Read nothing more: the server's writes stop being taken.
    await waitFor(
      "the stalled get to end",
      () => server.connections === 0,
      5000,
    );
  } finally {
    peer.close();
    await cleanup();
  }
});

Deno.test("a tree manifest that never ends is ended after the stall timeout", async () => {
  const { server, port, cleanup } = await startServer({ idleTimeoutMs: 400 });
  const peer = await RawPeer.connect(port);
  try {
    await peer.send(messageBytes(HELLO));
    assertEquals((await peer.message()).op, "welcome");
    await peer.send(
      messageBytes({ op: "tree-put", path: "tree", verify: true }),
    );
    await peer.send(frameBytes({
      type: FrameType.Data,
      payload: new TextEncoder().encode('{"path":"a","size":1'),
    }));
    await waitFor("the session to start", () => server.connections === 1);
    const messages = await peer.untilClosed();
    assertLastNotice(messages, "no progress");
    await waitFor("the session to end", () => server.connections === 0);
  } finally {
    peer.close();
    await cleanup();
  }
});

Deno.test("pings before a login do not keep a connection open past the login deadline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-users-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "a password", { iterations: 4096 });
  const { server, port, cleanup } = await startServer({
    users,
    loginTimeoutMs: 500,
    idleTimeoutMs: 60_000,
  });
  const peer = await RawPeer.connect(port);
  const pinger = setInterval(() => {
    peer.send(messageBytes({ op: "ping" })).catch(() => {});
  }, 50);
  try {
    await peer.send(messageBytes(HELLO));
    // The notice names the login deadline: the pings did not extend it.
    const messages = await peer.untilClosed(20_000);
    assertEquals(messages[0].op, "welcome");
    assertLastNotice(messages, "no login within 0.5 s");
    await waitFor("the session to end", () => server.connections === 0);
  } finally {
    clearInterval(pinger);
    peer.close();
    await cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a connection that never sends hello is closed at the login deadline", async () => {
  const { server, port, cleanup } = await startServer({ loginTimeoutMs: 300 });
  const peer = await RawPeer.connect(port);
  try {
    const messages = await peer.untilClosed();
    assertLastNotice(messages, "no login within");
    await waitFor("the session to end", () => server.connections === 0);
    // A normal client is still served.
    const good = await Connection.open({ hostname: HOST, port });
    assertEquals(await good.list(""), []);
    await good.close();
  } finally {
    peer.close();
    await cleanup();
  }
});
