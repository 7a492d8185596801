/**
 * Large GETs over plain HTTP/1.1 go by `sendfile(2)` past `Deno.serve`
 * (server/http/sendfile_response.ts): whole files and ranges arrive intact
 * with the usual headers and `connection: close`, the client's next request
 * opens a new connection, small files and HTTP/2 keep the response stream,
 * and a client that stops reading is cut off at the idle timeout.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { haveLibc } from "../transfer/libc.ts";
import { run, startHttpServer } from "./helpers/http.ts";
import { needsProgram, prerequisite } from "./helpers/prerequisite.ts";
import { waitFor } from "./helpers/raw_peer.ts";
import { randomBytes } from "./helpers/cli.ts";

/** The `ignore:` flag for a test of the sendfile road with curl. */
function needsSendfile(): boolean {
  return needsProgram("curl") || needsLibc();
}

/** The `ignore:` flag for a test that needs libc by FFI (Linux). */
function needsLibc(): boolean {
  return prerequisite("libc by FFI (Linux)", haveLibc());
}

Deno.test({
  name:
    "a large GET over HTTP/1.1 arrives whole and in ranges, ends its connection, and curl's next request opens a new one (needs curl, Linux)",
  ignore: needsSendfile(),
}, async () => {
  const s = await startHttpServer();
  const work = await Deno.makeTempDir({ prefix: "fts-sendfile-" });
  try {
    const big = randomBytes(5 * 1024 * 1024 + 3);
    await Deno.writeFile(join(s.root, "big.bin"), big);
    await Deno.writeFile(join(s.root, "small.txt"), randomBytes(100));
    const out = (name: string) => join(work, name);
    // big, small, big again: curl reuses a connection where it can.
    const result = await run("curl", [
      "-sSf",
      "-D",
      out("heads"),
      "-o",
      out("1"),
      "-o",
      out("2"),
      "-o",
      out("3"),
      "-w",
      "%{num_connects}\n",
      `${s.url}/big.bin`,
      `${s.url}/small.txt`,
      `${s.url}/big.bin`,
    ]);
    assertEquals(await Deno.readFile(out("1")), big);
    assertEquals(await Deno.readFile(out("3")), big);
    assertEquals((await Deno.readFile(out("2"))).byteLength, 100);
    // A new connection after the big file, the same one after the small.
    assertEquals(result.stdout.trim().split("\n"), ["1", "1", "0"]);
    const heads = (await Deno.readTextFile(out("heads"))).split("\r\n\r\n");
    assertMatch(heads[0], /^HTTP\/1\.1 200 OK/);
    assertMatch(heads[0], /\r\nconnection: close(\r\n|$)/i);
    assertMatch(heads[0], new RegExp(`content-length: ${big.length}`, "i"));
    assertMatch(heads[0], /\r\netag: "/i);
    assertMatch(heads[0], /content-security-policy: sandbox/i);
    assert(!/connection: close/i.test(heads[1]), "small file kept it open");

    const range = await run("curl", [
      "-sSf",
      "-D",
      out("range-head"),
      "-r",
      "1000-2000999",
      "-o",
      out("range"),
      `${s.url}/big.bin`,
    ]);
    assertEquals(range.code, 0);
    assertEquals(
      await Deno.readFile(out("range")),
      big.subarray(1000, 2001000),
    );
    const head = await Deno.readTextFile(out("range-head"));
    assertMatch(head, /^HTTP\/1\.1 206 Partial Content/);
    assertMatch(head, /content-range: bytes 1000-2000999\/5242883/i);
  } finally {
    await s.cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test({
  name:
    "a large GET over HTTP/2 without TLS (prior knowledge) is streamed, not sent past the HTTP/2 framing (needs curl)",
  ignore: needsProgram("curl"),
}, async () => {
  const s = await startHttpServer();
  const work = await Deno.makeTempDir({ prefix: "fts-sendfile-h2-" });
  try {
    const big = randomBytes(3 * 1024 * 1024 + 1);
    await Deno.writeFile(join(s.root, "big.bin"), big);
    // One request per curl: Deno.serve's HTTP/2 without TLS fails curl's
    // second request on a connection (also for small files, before this).
    const result = await run("curl", [
      "-sSf",
      "--http2-prior-knowledge",
      "-o",
      join(work, "1"),
      "-w",
      "%{http_version}",
      `${s.url}/big.bin`,
    ]);
    assertEquals(result.stdout, "2");
    assertEquals(await Deno.readFile(join(work, "1")), big);
  } finally {
    await s.cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test({
  name:
    "a client that stops reading a large GET is cut off at the idle timeout, and the server goes on serving (Linux)",
  ignore: needsLibc(),
}, async () => {
  const lines: string[] = [];
  const s = await startHttpServer({
    idleTimeoutMs: 500,
    log: (line) => lines.push(line),
  });
  try {
    const size = 64 * 1024 * 1024;
    await Deno.writeFile(join(s.root, "big.bin"), new Uint8Array(size));
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: Number(new URL(s.url).port),
    });
    await conn.write(
      new TextEncoder().encode(
        "GET /big.bin HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
      ),
    );
    // Nothing is read until the server has given up on this client.
    await waitFor(
      "the GET's log line",
      () => lines.some((line) => line.includes('http GET "big.bin"')),
    );
    let received = 0;
    const buffer = new Uint8Array(1024 * 1024);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      received += n;
    }
    conn.close();
    assert(received > 0 && received < size, `${received} of ${size} bytes`);
    const again = await fetch(`${s.url}/big.bin`, { method: "HEAD" });
    await again.body?.cancel();
    assertEquals(again.status, 200);
  } finally {
    await s.cleanup();
  }
});
