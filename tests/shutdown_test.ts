/**
 * Shutdown tells every client: idle ones get the notice before the close,
 * uploading ones during their transfer, and those cut off at the end of the
 * grace period that the server shut down and a rerun resumes. `fts put`
 * and `put -r` cut off mid-send (their writes fail with a broken pipe) still
 * read the server's last words and say it shut down, and the rerun resumes.
 * `fts serve` says what it waits for, and a second signal stops it at once.
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
import {
  type CertificateKeyPair,
  createSelfSignedCertificate,
} from "../server/certificate.ts";
import { STAGING_DIR } from "../server/storage/remote_path.ts";
import { FtsServer } from "../server/server.ts";
import {
  randomFile,
  runFts,
  sha256File,
  startServe,
  waitForPartial,
} from "./helpers/cli.ts";
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

/** A real server on 127.0.0.1, port 0, over `root` (kept across restarts). */
function serveRoot(
  root: string,
  tls?: CertificateKeyPair,
): Promise<FtsServer> {
  return FtsServer.start({
    root,
    hostname: "127.0.0.1",
    port: 0,
    log: null,
    tls,
  });
}

/** The last line of `text`, without trailing newlines. */
function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1)!;
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
    // Generous for a loaded machine, and still well short of the grace.
    assertLess(Date.now() - started, 20_000, "well before the 30 s grace");
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
    // Under way (its partial growing) before the signal, however slowly
    // the client started.
    await waitForPartial(work, (name) => name.startsWith(".fts-partial-"), 1);
    await serve.stop("SIGTERM");
    const { code, stderr } = await getting;
    assertEquals(code, 1, stderr);
    assertStringIncludes(stderr, "server: the server is shutting down");
    assertStringIncludes(
      stderr,
      "server: the server shut down before this transfer finished; run the command again to resume",
    );
    assertEquals(
      lastLine(stderr),
      'fts: cannot get "big.bin": the server shut down; run the same command again to resume',
    );
  } finally {
    await serve.stop("SIGKILL");
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
});

for (const tls of [false, true]) {
  const over = tls ? "over TLS" : "over TCP";
  Deno.test(`fts put cut off by a shutdown ${over} says the server shut down, and the rerun resumes`, async () => {
    const root = await Deno.makeTempDir({ prefix: "fts-root-" });
    const work = await Deno.makeTempDir({ prefix: "fts-work-" });
    const config = await Deno.makeTempDir({ prefix: "fts-config-" });
    const cert = tls ? await createSelfSignedCertificate() : undefined;
    const local = join(work, "big.bin");
    await randomFile(local, 32 * 1024 * 1024);
    let server = await serveRoot(root, cert);
    try {
      const put = (extra: string[]) =>
        runFts([
          "connect",
          `127.0.0.1:${server.addr.port}`,
          "put",
          local,
          ...(cert ? ["--fingerprint", cert.fingerprint] : []),
          ...extra,
        ], { env: { FTS_CONFIG_DIR: config }, timeoutMs: 30_000 });
      // Slow enough that the shutdown lands while the client is writing.
      const putting = put(["--limit-rate", "8M"]);
      await waitForPartial(
        join(root, STAGING_DIR, "partial"),
        () => true,
        2 * 1024 * 1024,
      );
      await server.shutdown(300);
      const cut = await putting;
      assertEquals(cut.code, 1, cut.stderr);
      assertEquals(
        lastLine(cut.stderr),
        'fts: cannot put "big.bin": the server shut down; run the same command again to resume',
      );
      assertStringIncludes(cut.stderr, "server: the server is shutting down");

      server = await serveRoot(root, cert);
      const rerun = await put([]);
      assertEquals(rerun.code, 0, rerun.stderr);
      assertStringIncludes(rerun.stderr, 'resuming "big.bin" at ');
      assertEquals(
        await sha256File(join(root, "big.bin")),
        await sha256File(local),
      );
    } finally {
      await server.shutdown(0);
      for (const dir of [root, work, config]) {
        await Deno.remove(dir, { recursive: true });
      }
    }
  });
}

for (const dest of [undefined, "copy"]) {
  const how = dest ? " into a folder it made," : "";
  Deno.test(
    `fts put -r${how} cut off by a shutdown says the server shut down and how to resume, and that rerun skips the files already sent`,
    async () => {
      const root = await Deno.makeTempDir({ prefix: "fts-root-" });
      const work = await Deno.makeTempDir({ prefix: "fts-work-" });
      await Deno.mkdir(join(work, "tree"));
      // Above the small-file size, so each goes as its own body; sent in order.
      await randomFile(join(work, "tree", "a.bin"), 4 * 1024 * 1024);
      await randomFile(join(work, "tree", "b.bin"), 32 * 1024 * 1024);
      let server = await serveRoot(root);
      try {
        // The first run makes "copy"; rerun as it is, it would nest inside.
        const args = dest ? ["tree", dest] : ["tree"];
        const rerunArgs = dest ? ["tree/", dest] : args;
        const target = join(root, dest ?? "tree");
        const put = (args: string[], extra: string[]) =>
          runFts(
            [
              "connect",
              `127.0.0.1:${server.addr.port}`,
              "put",
              "-r",
              ...args,
              ...extra,
            ],
            { cwd: work, timeoutMs: 30_000 },
          );
        const putting = put(args, ["--limit-rate", "8M"]);
        await waitForPartial(
          target,
          (name) => name === "a.bin",
          4 * 1024 * 1024,
        );
        await server.shutdown(300);
        const cut = await putting;
        assertEquals(cut.code, 1, cut.stderr);
        assertEquals(
          lastLine(cut.stderr),
          dest
            ? 'fts: cannot put -r "tree": the server shut down; run "put -r tree/ copy" to resume'
            : 'fts: cannot put -r "tree": the server shut down; run the same command again to resume',
        );

        server = await serveRoot(root);
        const rerun = await put(rerunArgs, []);
        assertEquals(rerun.code, 0, rerun.stderr);
        assertStringIncludes(rerun.stderr, "1 already up to date");
        for (const name of ["a.bin", "b.bin"]) {
          assertEquals(
            await sha256File(join(target, name)),
            await sha256File(join(work, "tree", name)),
          );
        }
      } finally {
        await server.shutdown(0);
        await Deno.remove(root, { recursive: true });
        await Deno.remove(work, { recursive: true });
      }
    },
  );
}
