/**
 * Shutdown tells every client: idle ones get the notice before the close,
 * uploading ones during their transfer, and those cut off at the end of the
 * grace period that the server shut down and a rerun resumes. `fts serve`
 * says what it waits for, and a second signal stops it at once.
 *
 * @module
 */

import {
  assertEquals,
  assertGreater,
  assertLess,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import type { Message } from "../protocol/mod.ts";
import { STAGING_DIR } from "../server/remote_path.ts";
import { randomFile, runFts, startServe } from "./helpers/cli.ts";
import {
  HELLO,
  messageBytes,
  RawPeer,
  startAbandonedUpload,
} from "./helpers/raw_peer.ts";
import { startServer } from "./helpers/server.ts";

function notices(messages: Message[]): string[] {
  return messages.map((message) => {
    if (message.op !== "notice") throw new Error(JSON.stringify(message));
    return message.message;
  });
}

async function stagedBytes(root: string): Promise<number> {
  let total = 0;
  const dir = join(root, STAGING_DIR, "partial");
  for await (const entry of Deno.readDir(dir)) {
    total += (await Deno.stat(join(dir, entry.name))).size;
  }
  return total;
}

Deno.test("at shutdown every idle client gets the notice before its connection closes", async () => {
  const { server, port, cleanup } = await startServer();
  const peers: RawPeer[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const peer = await RawPeer.connect(port);
      await peer.send(messageBytes(HELLO));
      assertEquals((await peer.message()).op, "welcome");
      peers.push(peer);
    }
    const stopped = server.shutdown(5000);
    const seen = await Promise.all(peers.map((peer) => peer.untilClosed()));
    for (const messages of seen) {
      assertEquals(notices(messages), ["the server is shutting down"]);
    }
    await stopped;
  } finally {
    for (const peer of peers) peer.close();
    await cleanup();
  }
});

Deno.test("an uploading client gets the notice during its transfer, and when cut off is told that a rerun resumes", async () => {
  const { server, root, port, cleanup } = await startServer();
  const peer = await RawPeer.connect(port);
  try {
    await startAbandonedUpload(peer, root, "big.bin");
    const stopped = server.shutdown(300);
    const said = notices(await peer.untilClosed());
    assertEquals(said.length, 2, said.join("\n"));
    assertEquals(said[0], "the server is shutting down");
    assertStringIncludes(said[1], "the server shut down");
    assertStringIncludes(said[1], "run the command again to resume");
    await stopped;
    assertGreater(await stagedBytes(root), 0, "the partial stays for a resume");
  } finally {
    peer.close();
    await cleanup();
  }
});

Deno.test("fts serve names what it waits for at a signal, and a second signal stops it at once", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const serve = await startServe(root, ["--grace", "30"]);
  const peer = await RawPeer.connect(serve.port);
  try {
    await startAbandonedUpload(peer, root, "big.bin");
    serve.child.kill("SIGTERM");
    assertEquals(
      notices([await peer.message()]),
      ["the server is shutting down"],
    );
    const started = Date.now();
    const { code, log } = await serve.stop("SIGTERM");
    assertLess(Date.now() - started, 5000, "well before the 30 s grace");
    assertEquals(code, 0);
    assertStringIncludes(
      log,
      "shutting down: waiting up to 30s for 1 transfer (signal again to stop now)\n",
    );
    const said = notices(await peer.untilClosed());
    assertStringIncludes(said.at(-1)!, "run the command again to resume");
  } finally {
    peer.close();
    await serve.stop("SIGKILL");
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("fts get cut off by a shutdown tells the user the server shut down and that a rerun resumes", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  await randomFile(join(root, "big.bin"), 64 * 1024 * 1024);
  const serve = await startServe(root, ["--grace", "0.5"]);
  try {
    const getting = runFts([
      "connect",
      serve.address,
      "get",
      "big.bin",
      join(work, "big.bin"),
      "--limit-rate",
      "4M",
    ], { timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await serve.stop("SIGTERM");
    const { code, stderr } = await getting;
    assertEquals(code, 1, stderr);
    assertStringIncludes(stderr, "server: the server is shutting down");
    assertStringIncludes(
      stderr,
      "server: the server shut down before this transfer finished; run the command again to resume",
    );
  } finally {
    await serve.stop("SIGKILL");
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
});
