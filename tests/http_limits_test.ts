/**
 * The HTTP front-end's edges: HTTPS with the server's certificate (and Basic
 * logins accepted there without any flag), and bodies that stall in either
 * direction cut off after the idle timeout without touching the target.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { createSelfSignedCertificate } from "../server/certificate.ts";
import { addUser } from "../server/auth/users.ts";
import { rawExchange, startHttpServer } from "./helpers/http.ts";
import { randomBytes } from "./helpers/cli.ts";

Deno.test("with TLS the HTTP port speaks HTTPS with the same certificate, and Basic logins need no flag there", async () => {
  const cert = await createSelfSignedCertificate();
  const dir = await Deno.makeTempDir({ prefix: "fts-https-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "pw", { iterations: 4096 });
  const s = await startHttpServer({
    tls: { certPem: cert.certPem, keyPem: cert.keyPem },
    users,
  });
  const client = Deno.createHttpClient({ caCerts: [cert.certPem] });
  try {
    assert(s.url.startsWith("https://"));
    await Deno.writeTextFile(join(s.root, "t.txt"), "over tls");
    const r = await fetch(`${s.url}/t.txt`, {
      client,
      headers: { authorization: `Basic ${btoa("ann:pw")}` },
    });
    assertEquals(r.status, 200);
    assertEquals(await r.text(), "over tls");
  } finally {
    client.close();
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a PUT whose body stalls is cut off after the idle timeout and the old file stays", async () => {
  const s = await startHttpServer({ idleTimeoutMs: 300 });
  try {
    await Deno.writeTextFile(join(s.root, "keep.txt"), "old");
    // Headers and one chunk, then nothing: the server answers 408 after its
    // 300 ms (Deno keeps the connection open, so rawExchange stops at 2 s).
    const reply = await rawExchange(
      s.server.http!.addr.port,
      "PUT /keep.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
      { timeoutMs: 2000 },
    );
    assert(reply.startsWith("HTTP/1.1 408"), JSON.stringify(reply));
    assertEquals(await Deno.readTextFile(join(s.root, "keep.txt")), "old");
  } finally {
    await s.cleanup();
  }
});

Deno.test("a download the client stops reading is closed after the idle timeout", async () => {
  const s = await startHttpServer({ idleTimeoutMs: 300 });
  try {
    const size = 64 * 1024 * 1024;
    await Deno.writeFile(join(s.root, "big.bin"), randomBytes(size));
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: s.server.http!.addr.port,
    });
    await conn.write(
      new TextEncoder().encode(
        "GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      ),
    );
    // The stall itself: five idle timeouts without reading. What follows
    // waits for the server to end the response, not for a clock.
    await new Promise((r) => setTimeout(r, 1500));
    let received = 0;
    let ended = false;
    const buffer = new Uint8Array(1024 * 1024);
    const timer = setTimeout(() => conn.close(), 30_000);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        received += n;
      }
      ended = true;
    } catch (error) {
      // A reset from the server ends it as well; a close by the timer not.
      ended = error instanceof Deno.errors.ConnectionReset;
    } finally {
      clearTimeout(timer);
      if (ended) conn.close();
    }
    assert(ended, "the server ended the response (not the 30 s timer)");
    assert(received > 0 && received < size, `received ${received}`);
  } finally {
    await s.cleanup();
  }
});
