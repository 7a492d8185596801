/**
 * Request bodies the HTTP front-end reads whole cannot hold it: login steps
 * and WebDAV XML bodies that stop half-way are cut off at the login deadline
 * with 408 and free their request slot, bodies over the limits are refused
 * from their headers, methods that take no body refuse one before reading
 * it, and method names are case-sensitive (a lowercase `move` does nothing).
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { addUser } from "../server/auth/users.ts";
import { startHttpServer } from "./helpers/http.ts";
import { waitFor } from "./helpers/raw_peer.ts";

/** A raw connection that has sent `bytes` and then nothing more. */
async function stalled(port: number, bytes: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(bytes));
  return conn;
}

/** Reads one response's head and `Content-Length` body from `conn`. */
async function response(conn: Deno.Conn, ms = 10_000): Promise<string> {
  const timer = setTimeout(() => conn.close(), ms);
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    while (true) {
      const head = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text.slice(0, head));
      if (head >= 0 && text.length >= head + 4 + Number(length?.[1] ?? 0)) {
        break;
      }
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } catch {
    // Closed by the timer: no answer came.
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/** The status line of the answer on `conn`. */
async function statusLine(conn: Deno.Conn): Promise<string> {
  return (await response(conn)).split("\r\n")[0];
}

/** Sends `bytes` on a new connection and returns the one answer. */
async function exchange(port: number, bytes: string): Promise<string> {
  const conn = await stalled(port, bytes);
  try {
    return await response(conn);
  } finally {
    conn.close();
  }
}

Deno.test('six login steps that stall after {"step": hold the request slots only until the login deadline, then answer 408', async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-stall-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "pw", { iterations: 4096 });
  const s = await startHttpServer({
    users,
    maxConnections: 6,
    loginTimeoutMs: 1500,
  });
  const port = s.server.http!.addr.port;
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      conns.push(
        await stalled(
          port,
          "POST /?login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
            'Content-Length: 100\r\n\r\n{"step":',
        ),
      );
    }
    // The attack as reported: everyone else is turned away meanwhile.
    await waitFor("the slots to fill", async () => {
      const r = await fetch(`${s.url}/`, { headers: { accept: "*/*" } });
      await r.body?.cancel();
      return r.status === 503;
    }, 5000);
    const lines = await Promise.all(conns.map((conn) => statusLine(conn)));
    for (const line of lines) {
      assertEquals(line, "HTTP/1.1 408 Request Timeout");
    }
    // The slots are free again: a request gets its login challenge.
    const r = await fetch(`${s.url}/`, { headers: { accept: "*/*" } });
    await r.body?.cancel();
    assertEquals(r.status, 401);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed by the server already.
      }
    }
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a PROPFIND body that stops after <?xml answers 408 at the login deadline, and a login body over 4 KiB is refused from its header", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-stall-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "pw", { iterations: 4096 });
  const open = await startHttpServer({ loginTimeoutMs: 500 });
  const locked = await startHttpServer({ users, loginTimeoutMs: 500 });
  try {
    const conn = await stalled(
      open.server.http!.addr.port,
      "PROPFIND / HTTP/1.1\r\nHost: localhost\r\nDepth: 1\r\nContent-Length: 200\r\n\r\n<?xml",
    );
    try {
      assertEquals(await statusLine(conn), "HTTP/1.1 408 Request Timeout");
    } finally {
      conn.close();
    }
    const reply = await exchange(
      locked.server.http!.addr.port,
      "POST /?login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000000\r\n\r\n{",
    );
    assert(reply.startsWith("HTTP/1.1 413"), reply);
    const huge = await exchange(
      open.server.http!.addr.port,
      "PROPPATCH / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 300000000\r\n\r\n<",
    );
    assert(huge.startsWith("HTTP/1.1 413"), huge);
  } finally {
    await open.cleanup();
    await locked.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MKCOL, GET, DELETE and COPY with a body are refused from the headers before it is read, and change nothing", async () => {
  const s = await startHttpServer();
  const port = s.server.http!.addr.port;
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "keep");
    // 300 MiB announced, 16 bytes sent: the answer cannot wait for the rest.
    const mkcol = await exchange(
      port,
      "MKCOL /new HTTP/1.1\r\nHost: localhost\r\nContent-Length: 314572800\r\n\r\n0123456789abcdef",
    );
    assert(mkcol.startsWith("HTTP/1.1 415"), mkcol);
    assertStringIncludes(mkcol, "MKCOL takes no request body");
    const requests = [
      "GET /f.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 314572800\r\n\r\nxx",
      "DELETE /f.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxx\r\n",
      "COPY /f.txt HTTP/1.1\r\nHost: localhost\r\nDestination: /g.txt\r\nContent-Length: 3\r\n\r\nabc",
    ];
    for (const request of requests) {
      const reply = await exchange(port, request);
      assert(reply.startsWith("HTTP/1.1 413"), `${request}: ${reply}`);
    }
    const names = [];
    for await (const entry of Deno.readDir(s.root)) names.push(entry.name);
    assertEquals(names.filter((name) => name !== ".fts"), ["f.txt"]);
    assertEquals(await Deno.readTextFile(join(s.root, "f.txt")), "keep");
    // Without a body the same methods work.
    const ok = await fetch(`${s.url}/new`, { method: "MKCOL" });
    assertEquals(ok.status, 201);
  } finally {
    await s.cleanup();
  }
});

Deno.test("method names are case-sensitive: a lowercase move or delete is refused and performs nothing", async () => {
  const s = await startHttpServer();
  const port = s.server.http!.addr.port;
  try {
    await Deno.writeTextFile(join(s.root, "a.txt"), "source");
    for (const method of ["move", "Move", "delete", "copy", "mkcol"]) {
      const reply = await exchange(
        port,
        `${method} /a.txt HTTP/1.1\r\nHost: localhost\r\nDestination: /b.txt\r\n\r\n`,
      );
      assert(/^HTTP\/1\.1 (405|501)/.test(reply), `${method}: ${reply}`);
    }
    assertEquals(await Deno.readTextFile(join(s.root, "a.txt")), "source");
    const b = await Deno.stat(join(s.root, "b.txt")).catch(() => null);
    assertEquals(b, null);
  } finally {
    await s.cleanup();
  }
});
