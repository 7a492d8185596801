/**
 * The client never hangs: a link that stops forwarding (a relay the test
 * freezes), a server that accepts and never answers, and a link cut
 * mid-transfer each end in one line that says what happened.
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { ConnectionError } from "../protocol/mod.ts";
import { Connection } from "../client/connection.ts";
import { upload } from "../client/upload.ts";
import { randomFile, runFts, waitForPartial } from "./helpers/cli.ts";
import { startServer } from "./helpers/server.ts";

/**
 * A TCP relay on 127.0.0.1 in front of `port`. `freeze()` stops it
 * forwarding in both directions (the sockets stay open, as with a dead
 * link); `cut()` closes every connection.
 */
function startRelay(port: number, options: { freezeAfter?: number } = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let frozen = false;
  let downstream = 0;
  const pipes: Promise<void>[] = [];
  const pump = async (
    from: Deno.Conn,
    to: Deno.Conn,
    counts: boolean,
  ) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (counts) {
          downstream += n;
          if (
            options.freezeAfter !== undefined &&
            downstream > options.freezeAfter
          ) {
            frozen = true;
          }
        }
        // A frozen link drops everything, forever.
        if (frozen) continue;
        let written = 0;
        while (written < n) {
          written += await to.write(buffer.subarray(written, n));
        }
      }
    } catch {
      // Closed.
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.add(client);
      conns.add(server);
      pipes.push(pump(client, server, false), pump(server, client, true));
    }
  })().catch(() => {});
  const cut = () => {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    freeze: () => frozen = true,
    cut,
    close: async () => {
      listener.close();
      cut();
      await accepting;
      await Promise.all(pipes);
    },
  };
}

Deno.test("ls over a link that stops forwarding fails within the timeout with one line", async () => {
  const server = await startServer();
  const relay = startRelay(server.port);
  try {
    const connection = await Connection.open(
      { hostname: "127.0.0.1", port: relay.port },
      { timeoutMs: 500 },
    );
    relay.freeze();
    // The message names the client's own timeout (not a TCP one); how long
    // it took is not asserted.
    const error = await assertRejects(
      () => connection.list(""),
      ConnectionError,
    );
    assertStringIncludes(error.message, 'cannot list "/"');
    assertStringIncludes(error.message, "nothing moved to or from the server");
    assert(connection.closed);
    connection.abort();
  } finally {
    await relay.close();
    await server.cleanup();
  }
});

Deno.test("an idle connection never times out: only waiting on the server counts", async () => {
  const server = await startServer();
  try {
    const connection = await Connection.open(
      { hostname: "127.0.0.1", port: server.port },
      { timeoutMs: 200 },
    );
    await new Promise((resolve) => setTimeout(resolve, 600));
    assertEquals(await connection.list(""), []);
    await connection.close();
  } finally {
    await server.cleanup();
  }
});

Deno.test("connecting to a server that accepts and never answers times out, asking whether fts listens there", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })().catch(() => {});
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    // Killed after 30 s it would not exit with 1: the --timeout ended it.
    const result = await runFts([
      "connect",
      `127.0.0.1:${port}`,
      "ls",
      "--timeout",
      "1",
    ], { timeoutMs: 30_000 });
    assertEquals(result.code, 1);
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
    assertStringIncludes(result.stderr, `cannot connect to 127.0.0.1:${port}`);
    assertStringIncludes(
      result.stderr,
      "it took the connection but said nothing for 1 s: is an fts server listening there? (fts's own port is 7373; see --timeout)",
    );
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting;
  }
});

Deno.test("get over a link that freezes mid-file stops with one line, keeps the partial, and the rerun resumes", async () => {
  const server = await startServer();
  const relay = startRelay(server.port, { freezeAfter: 3 * 1024 * 1024 });
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  try {
    await randomFile(join(server.root, "big.bin"), 8 * 1024 * 1024);
    const stalled = await runFts([
      "connect",
      `127.0.0.1:${relay.port}`,
      "get",
      "big.bin",
      "--timeout",
      "1",
    ], { cwd: local, timeoutMs: 30_000 });
    assertEquals(stalled.code, 1, stalled.stderr);
    assertEquals(stalled.stderr.trim().split("\n").length, 1, stalled.stderr);
    assertStringIncludes(stalled.stderr, 'cannot get "big.bin"');
    assertStringIncludes(
      stalled.stderr,
      "run the same command again to resume",
    );
    const names = [...Deno.readDirSync(local)].map((entry) => entry.name);
    assertEquals(names.length, 1, names.join());
    assert(names[0].startsWith(".fts-partial-"), names[0]);
    const again = await runFts([
      "connect",
      `127.0.0.1:${server.port}`,
      "get",
      "big.bin",
    ], { cwd: local });
    assertEquals(again.code, 0, again.stderr);
    assertStringIncludes(again.stderr, "resuming");
    assertEquals(
      await Deno.readFile(join(local, "big.bin")),
      await Deno.readFile(join(server.root, "big.bin")),
    );
  } finally {
    await relay.close();
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("a link cut mid-get says the connection was lost and that a rerun resumes", async () => {
  const server = await startServer();
  const relay = startRelay(server.port, { freezeAfter: 3 * 1024 * 1024 });
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  try {
    await randomFile(join(server.root, "big.bin"), 8 * 1024 * 1024);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
        "connect",
        `127.0.0.1:${relay.port}`,
        "get",
        "big.bin",
      ],
      cwd: local,
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Once frozen (the partial holds what arrived), cut the link for good.
    await waitForPartial(
      local,
      (name) => name.startsWith(".fts-partial-"),
      1024 * 1024,
    );
    relay.cut();
    const output = await child.output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 1, stderr);
    assertEquals(
      stderr.trim(),
      'fts: cannot get "big.bin": the connection was lost; run the same command again to resume',
    );
  } finally {
    await relay.close();
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("put over a link that stops forwarding fails within the timeout instead of blocking on a full socket", async () => {
  const server = await startServer();
  const relay = startRelay(server.port);
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  try {
    const file = join(local, "big.bin");
    await randomFile(file, 32 * 1024 * 1024);
    const connection = await Connection.open(
      { hostname: "127.0.0.1", port: relay.port },
      { timeoutMs: 500 },
    );
    relay.freeze();
    const reporter = { info: () => {}, progress: () => null };
    const error = await assertRejects(
      () =>
        upload(connection, file, "big.bin", {
          resume: true,
          noClobber: false,
          verify: true,
        }, reporter),
      ConnectionError,
    );
    assertStringIncludes(error.message, 'cannot put "big.bin"');
    assertStringIncludes(error.message, "nothing moved to or from the server");
    connection.abort();
  } finally {
    await relay.close();
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
  }
});
