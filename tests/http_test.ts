/**
 * The HTTP front-end with real clients: fetch, curl (when installed) and raw
 * TCP for what clients would normalise away. Downloads with validators,
 * ranges and conditions; staged atomic uploads with and without
 * Content-Length; folders as JSON, page and zip; the path jail; read-only
 * servers and users; Basic logins against the users file.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { crc32 } from "node:zlib";
import { addUser } from "../server/auth/users.ts";
import { ScramClient } from "../protocol/scram.ts";
import { rawExchange, run, startHttpServer } from "./helpers/http.ts";
import { needsProgram } from "./helpers/prerequisite.ts";
import { waitFor } from "./helpers/raw_peer.ts";
import { randomBytes, startServe } from "./helpers/cli.ts";

Deno.test("GET and HEAD carry Content-Length, Last-Modified and ETag, and honour Range, If-Range and If-None-Match", async () => {
  const s = await startHttpServer();
  try {
    const data = randomBytes(100_000);
    await Deno.writeFile(join(s.root, "f.bin"), data);
    const head = await fetch(`${s.url}/f.bin`, { method: "HEAD" });
    await head.body?.cancel();
    assertEquals(head.status, 200);
    assertEquals(head.headers.get("content-length"), "100000");
    const etag = head.headers.get("etag")!;
    assertMatch(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    const lastModified = head.headers.get("last-modified")!;
    assert(!Number.isNaN(Date.parse(lastModified)));

    const whole = new Uint8Array(
      await (await fetch(`${s.url}/f.bin`)).arrayBuffer(),
    );
    assertEquals(whole, data);

    const part = await fetch(`${s.url}/f.bin`, {
      headers: { range: "bytes=1000-1999" },
    });
    assertEquals(part.status, 206);
    assertEquals(part.headers.get("content-range"), "bytes 1000-1999/100000");
    assertEquals(
      new Uint8Array(await part.arrayBuffer()),
      data.subarray(1000, 2000),
    );

    const suffix = await fetch(`${s.url}/f.bin`, {
      headers: { range: "bytes=-10" },
    });
    assertEquals(
      new Uint8Array(await suffix.arrayBuffer()),
      data.subarray(99_990),
    );

    const stale = await fetch(`${s.url}/f.bin`, {
      headers: { range: "bytes=0-9", "if-range": '"0-0"' },
    });
    assertEquals(stale.status, 200, "a stale If-Range sends the whole file");
    assertEquals((await stale.arrayBuffer()).byteLength, 100_000);
    const fresh = await fetch(`${s.url}/f.bin`, {
      headers: { range: "bytes=0-9", "if-range": etag },
    });
    assertEquals(fresh.status, 206);
    await fresh.body?.cancel();

    const beyond = await fetch(`${s.url}/f.bin`, {
      headers: { range: "bytes=200000-" },
    });
    await beyond.body?.cancel();
    assertEquals(beyond.status, 416);
    assertEquals(beyond.headers.get("content-range"), "bytes */100000");

    const cached = await fetch(`${s.url}/f.bin`, {
      headers: { "if-none-match": etag },
    });
    await cached.body?.cancel();
    assertEquals(cached.status, 304);
    const since = await fetch(`${s.url}/f.bin`, {
      headers: { "if-modified-since": lastModified },
    });
    await since.body?.cancel();
    assertEquals(since.status, 304);
    const missing = await fetch(`${s.url}/nope`);
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
  } finally {
    await s.cleanup();
  }
});

Deno.test({
  name:
    "curl downloads, resumes with -C -, uploads with and without Content-Length, and deletes (needs curl)",
  ignore: needsProgram("curl"),
}, async () => {
  const s = await startHttpServer();
  const work = await Deno.makeTempDir({ prefix: "fts-curl-" });
  try {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await Deno.writeFile(join(work, "src.bin"), data);
    await run("curl", ["-sSf", "-T", join(work, "src.bin"), `${s.url}/up.bin`]);
    assertEquals(await Deno.readFile(join(s.root, "up.bin")), data);

    // Without Content-Length: curl sends a chunked body from stdin.
    const piped = randomBytes(2 * 1024 * 1024 + 5);
    await run("curl", ["-sSf", "-T", "-", `${s.url}/piped.bin`], {
      stdin: piped,
    });
    assertEquals(await Deno.readFile(join(s.root, "piped.bin")), piped);

    // A download cut short, then resumed from where the local copy ends.
    await Deno.writeFile(join(work, "down.bin"), data.subarray(0, 1_000_000));
    await run("curl", [
      "-sSf",
      "-C",
      "-",
      "-o",
      join(work, "down.bin"),
      `${s.url}/up.bin`,
    ]);
    assertEquals(await Deno.readFile(join(work, "down.bin")), data);

    const head = await run("curl", ["-sSfI", `${s.url}/up.bin`]);
    assertMatch(head.stdout, new RegExp(`content-length: ${data.length}`, "i"));

    const del = await run("curl", [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "DELETE",
      `${s.url}/up.bin`,
    ]);
    assertEquals(del.stdout, "204");
    const gone = await run("curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `${s.url}/up.bin`,
    ], { allowFail: true });
    assertEquals(gone.stdout, "404");
  } finally {
    await s.cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("a PUT cut off part-way, or failing its digest, never replaces the target", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "keep.txt"), "old content");
    await rawExchange(
      s.server.http!.addr.port,
      "PUT /keep.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" +
        "x".repeat(5000),
      { closeAfterSend: true },
    );
    // The server sees the close and aborts: the staged bytes go away.
    const partials = async () => {
      const names = [];
      try {
        for await (const e of Deno.readDir(join(s.root, ".fts/partial"))) {
          names.push(e.name);
        }
      } catch (error) {
        // No staging folder yet: nothing staged.
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return names.length;
    };
    // The staging folder appears with the upload's begin (not before): only
    // once staging has begun does "freed" mean anything.
    await waitFor(
      "the upload's staging to begin",
      () =>
        Deno.lstat(join(s.root, ".fts/partial")).then(() => true, () => false),
      20_000,
    );
    await waitFor(
      "the staged bytes to be freed",
      async () => await partials() === 0,
      20_000,
    );
    assertEquals(
      await Deno.readTextFile(join(s.root, "keep.txt")),
      "old content",
    );

    const body = new TextEncoder().encode("new content");
    const wrong = await fetch(`${s.url}/keep.txt`, {
      method: "PUT",
      body,
      headers: {
        "content-digest": `sha-256=:${new Uint8Array(32).toBase64()}:`,
      },
    });
    await wrong.body?.cancel();
    assertEquals(wrong.status, 400);
    assertEquals(
      await Deno.readTextFile(join(s.root, "keep.txt")),
      "old content",
    );

    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
    const right = await fetch(`${s.url}/keep.txt`, {
      method: "PUT",
      body,
      headers: { "content-digest": `sha-256=:${digest.toBase64()}:` },
    });
    await right.body?.cancel();
    assertEquals(right.status, 204);
    assertEquals(
      await Deno.readTextFile(join(s.root, "keep.txt")),
      "new content",
    );
    const names = [];
    for await (const e of Deno.readDir(s.root)) names.push(e.name);
    assertEquals(names.filter((n) => n !== ".fts").sort(), ["keep.txt"]);
  } finally {
    await s.cleanup();
  }
});

/** The entries of a zip file, with their data checked against their CRC-32. */
function readZip(zip: Uint8Array): Map<string, Uint8Array> {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const end = zip.byteLength - 22;
  assertEquals(v.getUint32(end, true), 0x06054b50);
  const count = v.getUint16(end + 10, true);
  let at = v.getUint32(end + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    assertEquals(v.getUint32(at, true), 0x02014b50);
    const crc = v.getUint32(at + 16, true);
    const size = v.getUint32(at + 24, true);
    const nameLength = v.getUint16(at + 28, true);
    const extra = v.getUint16(at + 30, true);
    const comment = v.getUint16(at + 32, true);
    const offset = v.getUint32(at + 42, true);
    const name = new TextDecoder().decode(
      zip.subarray(at + 46, at + 46 + nameLength),
    );
    const local = offset + 30 + v.getUint16(offset + 26, true) +
      v.getUint16(offset + 28, true);
    const data = zip.subarray(local, local + size);
    assertEquals(crc32(data), crc, `crc of ${name}`);
    out.set(name, data);
    at += 46 + nameLength + extra + comment;
  }
  return out;
}

Deno.test("a folder answers as JSON, as the web page, and as a streamed zip", async () => {
  const s = await startHttpServer();
  try {
    await Deno.mkdir(join(s.root, "d/sub"), { recursive: true });
    const big = randomBytes(2 * 1024 * 1024 + 3);
    await Deno.writeFile(join(s.root, "d/big.bin"), big);
    await Deno.writeTextFile(join(s.root, "d/sub/é.txt"), "accent");
    const json = await (await fetch(`${s.url}/d/?json`)).json();
    assertEquals(json.entries.map((e: { name: string }) => e.name), [
      "big.bin",
      "sub",
    ]);
    const viaAccept = await fetch(`${s.url}/d`, {
      headers: { accept: "application/json" },
    });
    assertEquals((await viaAccept.json()).path, "d");
    const page = await fetch(`${s.url}/d/`);
    assertMatch(page.headers.get("content-type")!, /text\/html/);
    assertMatch(await page.text(), /<title>fts<\/title>/);

    const zip = await fetch(`${s.url}/d/?zip`);
    assertEquals(zip.headers.get("content-type"), "application/zip");
    assertEquals(
      zip.headers.get("content-length"),
      null,
      "streamed, not staged",
    );
    const entries = readZip(new Uint8Array(await zip.arrayBuffer()));
    assertEquals([...entries.keys()].sort(), ["big.bin", "sub/", "sub/é.txt"]);
    assertEquals(entries.get("big.bin"), big);
    assertEquals(new TextDecoder().decode(entries.get("sub/é.txt")), "accent");
  } finally {
    await s.cleanup();
  }
});

Deno.test("encoded dot segments, %2f, backslashes, NUL and overlong UTF-8 are refused and never leave the root", async () => {
  const s = await startHttpServer();
  const outside = join(s.root, "..", `outside-${crypto.randomUUID()}.txt`);
  try {
    await Deno.writeTextFile(outside, "secret");
    await Deno.mkdir(join(s.root, "a"));
    const name = outside.split("/").at(-1)!;
    const port = s.server.http!.addr.port;
    for (
      const target of [
        `/%2e%2e/${name}`,
        `/a/%2E%2E/%2e%2e/${name}`,
        `/a/..%2f..%2f${name}`,
        `/a%5c..%5c${name}`,
        `/a/%00`,
        `/%c0%ae%c0%ae/${name}`,
        `/../${name}`,
        `/.fts/partial`,
      ]
    ) {
      const reply = await rawExchange(
        port,
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      assertMatch(reply, /^HTTP\/1\.1 40[03]/, target);
      assert(!reply.includes("secret"), target);
      const put = await rawExchange(
        port,
        `PUT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 4\r\n\r\nevil`,
      );
      assertMatch(put, /^HTTP\/1\.1 40[03]/, target);
    }
    assertEquals(await Deno.readTextFile(outside), "secret");
    const move = await fetch(`${s.url}/a`, {
      method: "MOVE",
      headers: { destination: `${s.url}/%2e%2e/${name}` },
    });
    await move.body?.cancel();
    assertEquals(move.status, 400);
    assert((await Deno.stat(join(s.root, "a"))).isDirectory);
  } finally {
    await Deno.remove(outside).catch(() => {});
    await s.cleanup();
  }
});

Deno.test("a read-only server refuses every write method and still serves reads", async () => {
  const s = await startHttpServer({ readOnly: true });
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "x");
    for (
      const [method, path] of [
        ["PUT", "/g.txt"],
        ["DELETE", "/f.txt"],
        ["MKCOL", "/d"],
        ["PROPPATCH", "/f.txt"],
        ["LOCK", "/f.txt"],
      ]
    ) {
      const r = await fetch(`${s.url}${path}`, {
        method,
        body: method === "PUT" ? "y" : undefined,
      });
      await r.body?.cancel();
      assertEquals(r.status, 403, method);
    }
    assertEquals(await (await fetch(`${s.url}/f.txt`)).text(), "x");
    assertEquals(await Deno.readTextFile(join(s.root, "f.txt")), "x");
  } finally {
    await s.cleanup();
  }
});

Deno.test("Basic logins are checked against the users file, refused over plain HTTP unless allowed, and read-only users cannot write", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-http-users-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "s3cret", { iterations: 4096 });
  await addUser(users, "rob", "pw", { iterations: 4096, readOnly: true });
  const basic = (name: string, pw: string) => ({
    authorization: `Basic ${btoa(`${name}:${pw}`)}`,
  });
  const refused = await startHttpServer({ users });
  const s = await startHttpServer({ users, httpAllowBasicInsecure: true });
  try {
    const plain = await fetch(`${refused.url}/`, {
      headers: basic("ann", "s3cret"),
    });
    assertEquals(plain.status, 403);
    assertMatch(await plain.text(), /--http-allow-basic-insecure/);
    const options = await fetch(`${s.url}/`, { method: "OPTIONS" });
    await options.body?.cancel();
    assertEquals(options.status, 200, "OPTIONS needs no login");
    assertEquals(options.headers.get("dav"), "1, 2");
    const anonymous = await fetch(`${s.url}/?json`);
    await anonymous.body?.cancel();
    assertEquals(anonymous.status, 401);
    assertMatch(anonymous.headers.get("www-authenticate")!, /^Basic /);
    const wrong = await fetch(`${s.url}/?json`, {
      headers: basic("ann", "nope"),
    });
    await wrong.body?.cancel();
    assertEquals(wrong.status, 401);
    const put = await fetch(`${s.url}/a.txt`, {
      method: "PUT",
      body: "hi",
      headers: basic("ann", "s3cret"),
    });
    await put.body?.cancel();
    assertEquals(put.status, 201);
    const again = await fetch(`${s.url}/a.txt`, {
      headers: basic("ann", "s3cret"),
    });
    assertEquals(await again.text(), "hi");
    const ro = await fetch(`${s.url}/b.txt`, {
      method: "PUT",
      body: "no",
      headers: basic("rob", "pw"),
    });
    await ro.body?.cancel();
    assertEquals(ro.status, 403);
    const roJson =
      await (await fetch(`${s.url}/?json`, { headers: basic("rob", "pw") }))
        .json();
    assertEquals(roJson.readOnly, true);
  } finally {
    await refused.cleanup();
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fts serve --http prints its address after the native one and serves the same folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-http-serve-" });
  const serve = await startServe(root, ["--http", "127.0.0.1:0"], { lines: 2 });
  try {
    const match = /^fts http listening on 127\.0\.0\.1:(\d+)$/.exec(
      serve.lines[1],
    );
    assert(match, serve.lines.join("\n"));
    await Deno.writeTextFile(join(root, "x.txt"), "served");
    assertEquals(
      await (await fetch(`http://127.0.0.1:${match![1]}/x.txt`)).text(),
      "served",
    );
    const { log } = await serve.stop();
    assertMatch(log, /127\.0\.0\.1:\d+ http GET "x\.txt" 6B \d+\.\d{3}s 200/);
  } finally {
    await serve.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("page logins: SCRAM over JSON sets an HttpOnly SameSite=Strict cookie, writes need the CSRF header, and logout ends the session", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-page-login-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "s3cret", { iterations: 4096 });
  const s = await startHttpServer({ users });
  try {
    const post = (body: unknown) =>
      fetch(`${s.url}/?login`, {
        method: "POST",
        headers: { "x-requested-with": "fts" },
        body: JSON.stringify(body),
      });
    const client = new ScramClient("ann", "s3cret");
    const first = await (await post({ step: "first", data: client.first() }))
      .json();
    const finalReply = await post({
      step: "final",
      id: first.id,
      data: await client.final(first.data),
    });
    assertEquals(finalReply.status, 200);
    client.verify((await finalReply.json()).data);
    const cookie = finalReply.headers.get("set-cookie")!;
    assertMatch(cookie, /HttpOnly/);
    assertMatch(cookie, /SameSite=Strict/);
    assertMatch(cookie, /Max-Age=\d+/);
    const session = cookie.split(";")[0];

    const listed = await fetch(`${s.url}/?json`, {
      headers: { cookie: session },
    });
    assertEquals((await listed.json()).user, "ann");
    const forged = await fetch(`${s.url}/x.txt`, {
      method: "PUT",
      body: "csrf",
      headers: { cookie: session },
    });
    await forged.body?.cancel();
    assertEquals(forged.status, 403, "a cookie alone may not write");
    const put = await fetch(`${s.url}/x.txt`, {
      method: "PUT",
      body: "page",
      headers: { cookie: session, "x-requested-with": "fts" },
    });
    await put.body?.cancel();
    assertEquals(put.status, 201);

    const out = await fetch(`${s.url}/?logout`, {
      method: "POST",
      headers: { cookie: session, "x-requested-with": "fts" },
    });
    await out.body?.cancel();
    const after = await fetch(`${s.url}/?json`, {
      headers: { cookie: session },
    });
    await after.body?.cancel();
    assertEquals(after.status, 401);

    const wrong = new ScramClient("ann", "nope");
    const f2 = await (await post({ step: "first", data: wrong.first() }))
      .json();
    const refused = await post({
      step: "final",
      id: f2.id,
      data: await wrong.final(f2.data),
    });
    await refused.body?.cancel();
    assertEquals(refused.status, 401);
    assertEquals(refused.headers.get("set-cookie"), null);
  } finally {
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
