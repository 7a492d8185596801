/**
 * Attacks on the HTTP front-end, each tried as an attacker would over real
 * sockets against a real server on loopback, and each answered: DNS
 * rebinding (a foreign `Host`), an open redirect, a tus PATCH past its
 * length, a stalled zip download, a flood of unfinished page logins from
 * one address, slowloris, and a revoked user keeping their page session and
 * locks.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { ScramClient } from "../protocol/scram.ts";
import { addUser } from "../server/auth/users.ts";
import { MAX_PENDING_PER_ADDRESS } from "../server/http/browser_login.ts";
import { rawExchange, run, startHttpServer } from "./helpers/http.ts";
import { randomBytes, runFts, startServe } from "./helpers/cli.ts";

/** Polls `check` until it returns true, failing after `ms`. */
async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The status line's code of a raw HTTP answer. */
function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? NaN);
}

/** Reads until the server closes, or `ms`; says who ended it. */
async function readToEnd(
  conn: Deno.Conn,
  ms: number,
): Promise<{ bytes: number; closedByServer: boolean }> {
  let bytes = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ms);
  const buffer = new Uint8Array(1024 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytes += n;
    }
  } catch {
    // Reset by the server, or closed by the timer.
  } finally {
    clearTimeout(timer);
  }
  if (!timedOut) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
  return { bytes, closedByServer: !timedOut };
}

Deno.test("DNS rebinding: a request naming a foreign Host gets 421 and changes nothing, while the server's own names and --http-host names are served", async () => {
  const lines: string[] = [];
  const s = await startHttpServer({
    http: { hostname: "127.0.0.1", port: 0, hosts: ["files.example.org"] },
    log: (line) => lines.push(line),
  });
  try {
    const port = s.server.http!.addr.port;
    await Deno.writeTextFile(join(s.root, "keep.txt"), "original");
    const put = (host: string) =>
      rawExchange(
        port,
        `PUT /keep.txt HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Length: 4\r\n\r\nevil`,
      );
    for (
      const host of [
        `rebind.attacker.example:${port}`,
        "rebind.attacker.example",
        "127.0.0.1.attacker.example",
        "[::2]",
        "",
      ]
    ) {
      const answer = await put(host);
      assertEquals(statusOf(answer), 421, `Host: ${host}: ${answer}`);
    }
    const read = await rawExchange(
      port,
      `GET /keep.txt HTTP/1.1\r\nHost: rebind.attacker.example:${port}\r\nConnection: close\r\n\r\n`,
    );
    assertEquals(statusOf(read), 421);
    assert(!read.includes("original"), "the file must not be read");
    assertEquals(await Deno.readTextFile(join(s.root, "keep.txt")), "original");
    assert(
      lines.some((l) => /421.*rebind\.attacker\.example/.test(l)),
      lines.join("\n"),
    );
    for (
      const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        "LOCALHOST.",
        "127.8.9.10",
        `[::1]:${port}`,
        "files.example.org",
        Deno.hostname(),
      ]
    ) {
      const answer = await rawExchange(
        port,
        `GET /keep.txt HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assertEquals(statusOf(answer), 200, `Host: ${host}: ${answer}`);
    }
  } finally {
    await s.cleanup();
  }
});

Deno.test("fts serve --http-host, repeated, adds the names a reverse proxy uses; others still get 421", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-http-host-" });
  const serve = await startServe(root, [
    "--http",
    "127.0.0.1:0",
    "--http-host",
    "files.example.org",
    "--http-host",
    "a.example",
  ], { lines: 2 });
  try {
    const port = Number(/:(\d+)$/.exec(serve.lines[1])![1]);
    const status = async (host: string) =>
      statusOf(
        await rawExchange(
          port,
          `GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
        ),
      );
    for (const host of ["files.example.org", "a.example:443", "A.EXAMPLE"]) {
      assertEquals(await status(host), 200, host);
    }
    assertEquals(await status("rebind.attacker.example"), 421);
  } finally {
    const { log } = await serve.stop();
    assertMatch(log, /421: "rebind\.attacker\.example" is not a name/);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a folder's trailing-slash redirect stays on the server: //evil.example is never a protocol-relative Location", async () => {
  const s = await startHttpServer();
  try {
    await Deno.mkdir(join(s.root, "evil.example"));
    for (
      const target of ["//evil.example", "///evil.example", "/evil.example"]
    ) {
      const answer = await rawExchange(
        s.server.http!.addr.port,
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n\r\n`,
      );
      assertEquals(statusOf(answer), 301, answer);
      const location = /\r\nlocation: ([^\r]*)/i.exec(answer)?.[1];
      assertEquals(location, "/evil.example/", target);
    }
  } finally {
    await s.cleanup();
  }
});

Deno.test("a chunked tus PATCH past Upload-Length is refused and stages nothing beyond the declared length, also under --partial-limit", async () => {
  const s = await startHttpServer({ partialLimit: 2 * 1024 * 1024 });
  try {
    const size = 1024 * 1024;
    const created = await fetch(`${s.url}/`, {
      method: "POST",
      headers: {
        "tus-resumable": "1.0.0",
        "upload-length": String(size),
        "upload-metadata": `filename ${btoa("big.bin")}`,
      },
    });
    assertEquals(created.status, 201);
    const upload = new URL(created.headers.get("location")!, s.url);
    const body = randomBytes(5 * 1024 * 1024);
    // No Content-Length: the body's end is only known when it is read.
    const patch = await fetch(upload, {
      method: "PATCH",
      headers: {
        "tus-resumable": "1.0.0",
        "upload-offset": "0",
        "content-type": "application/offset+octet-stream",
      },
      body: new Blob([body]).stream(),
    });
    await patch.body?.cancel();
    assertEquals(patch.status, 400);
    let staged = 0;
    for await (const entry of Deno.readDir(join(s.root, ".fts", "partial"))) {
      staged += (await Deno.stat(join(s.root, ".fts", "partial", entry.name)))
        .size;
    }
    assert(staged <= size, `${staged} bytes staged`);
    await assertRejectsMissing(join(s.root, "big.bin"));
    const head = await fetch(upload, {
      method: "HEAD",
      headers: { "tus-resumable": "1.0.0" },
    });
    assertEquals(head.status, 200, "the server still serves the upload");
  } finally {
    await s.cleanup();
  }
});

/** How many of this process's descriptors point under `folder`. */
function openUnder(folder: string): number {
  let open = 0;
  for (const { name } of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${name}`).startsWith(folder)) open++;
    } catch {
      // Closed meanwhile.
    }
  }
  return open;
}

async function assertRejectsMissing(path: string): Promise<void> {
  const there = await Deno.stat(path).then(() => true, () => false);
  assert(!there, `${path} must not exist`);
}

Deno.test("a ?zip download the client stops reading is cut off by the stall timer", async () => {
  const s = await startHttpServer({ idleTimeoutMs: 300 });
  try {
    await Deno.mkdir(join(s.root, "tree"));
    for (let i = 0; i < 4; i++) {
      await Deno.writeFile(
        join(s.root, "tree", `f${i}.bin`),
        randomBytes(16 * 1024 * 1024),
      );
    }
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: s.server.http!.addr.port,
    });
    await conn.write(new TextEncoder().encode(
      "GET /tree?zip HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ));
    // Read nothing: the zip holds a file of the tree open while it waits
    // on the stalled reader, then gives up and lets go of it.
    const tree = await Deno.realPath(join(s.root, "tree"));
    await waitFor("the zip to open a file", () => openUnder(tree) > 0);
    await waitFor("the zip to let go of its file", () => openUnder(tree) === 0);
    const { bytes, closedByServer } = await readToEnd(conn, 20_000);
    assert(closedByServer, "the server must end the stalled zip");
    assert(bytes < 64 * 1024 * 1024, `received ${bytes}`);
    const after = await fetch(`${s.url}/tree/f0.bin`);
    assertEquals((await after.bytes()).length, 16 * 1024 * 1024);
  } finally {
    await s.cleanup();
  }
});

/** One page login's first step from this process (127.0.0.1). */
async function firstStep(url: string, name: string): Promise<number> {
  const r = await fetch(`${url}/?login`, {
    method: "POST",
    headers: { "x-requested-with": "fts" },
    body: JSON.stringify({
      step: "first",
      data: new ScramClient(name, "x").first(),
    }),
  });
  await r.body?.cancel();
  return r.status;
}

/** A whole page login with curl from `source`; returns the session cookie. */
async function curlLogin(
  url: string,
  source: string,
  name: string,
  password: string,
): Promise<string> {
  const client = new ScramClient(name, password);
  const post = async (body: unknown) => {
    const out = await run("curl", [
      "-s",
      "-i",
      "--interface",
      source,
      "-H",
      "x-requested-with: fts",
      "--data-binary",
      JSON.stringify(body),
      `${url}/?login`,
    ]);
    const [head, json] = out.stdout.split("\r\n\r\n");
    return { status: statusOf(head), head, json };
  };
  const first = await post({ step: "first", data: client.first() });
  assertEquals(first.status, 200, first.head + first.json);
  const { id, data } = JSON.parse(first.json);
  const final = await post({
    step: "final",
    id,
    data: await client.final(data),
  });
  assertEquals(final.status, 200, final.head);
  client.verify(JSON.parse(final.json).data);
  return /set-cookie: ([^;]+)/i.exec(final.head)![1];
}

Deno.test("1000 unfinished page logins from one address are capped there and do not lock out a login from another address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-pending-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "pw", { iterations: 4096 });
  const s = await startHttpServer({ users });
  try {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => firstStep(s.url, "ann")),
      );
      for (const status of batch) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }
    assertEquals(statuses.get(200), MAX_PENDING_PER_ADDRESS);
    assertEquals(statuses.get(503), 1000 - MAX_PENDING_PER_ADDRESS);
    const cookie = await curlLogin(s.url, "127.0.0.2", "ann", "pw");
    const listed = await fetch(`${s.url}/?json`, { headers: { cookie } });
    assertEquals((await listed.json()).user, "ann");
  } finally {
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("slowloris: connections trickling header lines, sending nothing, or idle after a response are closed at the login deadline; a slow download is not", async () => {
  const lines: string[] = [];
  const s = await startHttpServer({
    loginTimeoutMs: 1000,
    log: (line) => lines.push(line),
  });
  const port = s.server.http!.addr.port;
  try {
    await Deno.writeFile(
      join(s.root, "big.bin"),
      randomBytes(32 * 1024 * 1024),
    );
    const trickling = await Deno.connect({ hostname: "127.0.0.1", port });
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    const idle = await Deno.connect({ hostname: "127.0.0.1", port });
    const encoder = new TextEncoder();
    await idle.write(
      encoder.encode(
        "GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-9\r\n\r\n",
      ),
    );
    let trickled = 0;
    let refused = false;
    const trickle = (async () => {
      await trickling.write(
        encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
      );
      // One header line every 100 ms, for at most 30 s.
      for (let i = 0; i < 300; i++) {
        await new Promise((r) => setTimeout(r, 100));
        try {
          await trickling.write(encoder.encode(`X-Slow-${i}: a\r\n`));
          trickled++;
        } catch {
          refused = true;
          return;
        }
      }
    })();
    // A download read slowly, in flight well past the deadline.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    await slow.write(
      encoder.encode(
        "GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      ),
    );
    let slowBytes = 0;
    const slowRead = (async () => {
      const buffer = new Uint8Array(256 * 1024);
      while (true) {
        const n = await slow.read(buffer);
        if (n === null) return;
        slowBytes += n;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const [t, q, i] = await Promise.all([
      readToEnd(trickling, 30_000),
      readToEnd(silent, 30_000),
      readToEnd(idle, 30_000),
    ]);
    await trickle;
    assert(t.closedByServer, "the trickling connection must be closed");
    assert(refused || trickled < 300, "the trickle must be cut off");
    assertEquals(t.bytes, 0, "no request was ever answered on it");
    assert(q.closedByServer, "the silent connection must be closed");
    assert(i.closedByServer, "the idle keep-alive connection must be closed");
    assert(i.bytes > 0, "the idle connection got its answer first");
    await slowRead;
    assert(
      slowBytes > 32 * 1024 * 1024,
      `the slow download got ${slowBytes} bytes`,
    );
    slow.close();
    assert(
      lines.some((l) => /sent no complete request in 1 s/.test(l)),
      lines.join("\n"),
    );
    const after = await fetch(`${s.url}/big.bin`, {
      headers: { range: "bytes=0-3" },
    });
    assertEquals((await after.bytes()).length, 4, "still serving");
  } finally {
    await s.cleanup();
  }
});

/** A page session's cookie for `name` (SCRAM over `?login`). */
async function pageLogin(
  url: string,
  name: string,
  password: string,
): Promise<string> {
  const post = (body: unknown) =>
    fetch(`${url}/?login`, {
      method: "POST",
      headers: { "x-requested-with": "fts" },
      body: JSON.stringify(body),
    });
  const client = new ScramClient(name, password);
  const first = await (await post({ step: "first", data: client.first() }))
    .json();
  const final = await post({
    step: "final",
    id: first.id,
    data: await client.final(first.data),
  });
  assertEquals(final.status, 200);
  await final.body?.cancel();
  return final.headers.get("set-cookie")!.split(";")[0];
}

const LOCK_BODY = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:">' +
  "<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>" +
  "</D:lockinfo>";

Deno.test("fts user remove, a new password and --read-only end or downgrade page sessions and release their locks within seconds", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-revoke-" });
  const users = join(dir, "users.json");
  for (const name of ["mallory", "bob", "carol", "dave", "ann"]) {
    await addUser(users, name, "pw", { iterations: 4096 });
  }
  const lines: string[] = [];
  const s = await startHttpServer({
    users,
    log: (line) => lines.push(line),
  });
  try {
    const page = { "x-requested-with": "fts" };
    const cookies = new Map<string, string>();
    for (const name of ["mallory", "bob", "carol", "dave", "ann"]) {
      const cookie = await pageLogin(s.url, name, "pw");
      cookies.set(name, cookie);
      if (name === "ann") continue;
      const lock = await fetch(`${s.url}/${name}.txt`, {
        method: "LOCK",
        headers: { ...page, cookie, timeout: "Second-3600" },
        body: LOCK_BODY,
      });
      await lock.body?.cancel();
      assertEquals(lock.status, 201, `${name} locks`);
    }
    const annPut = async (file: string) => {
      const r = await fetch(`${s.url}/${file}`, {
        method: "PUT",
        headers: { ...page, cookie: cookies.get("ann")! },
        body: "ann",
      });
      await r.body?.cancel();
      return r.status;
    };
    assertEquals(await annPut("mallory.txt"), 423, "locked before");

    const env = { FTS_PASSWORD: "new password" };
    await runFts(["user", "remove", "mallory", "--users", users]);
    await runFts(["user", "add", "bob", "--replace", "--users", users], {
      env,
    });
    await runFts([
      "user",
      "add",
      "carol",
      "--replace",
      "--read-only",
      "--users",
      users,
    ], { env: { FTS_PASSWORD: "pw" } });
    // Made read-only by editing the file: same password, same verifier.
    const file = JSON.parse(await Deno.readTextFile(users));
    file.users.find((u: { name: string }) => u.name === "dave").readOnly = true;
    await Deno.writeTextFile(`${users}.new`, JSON.stringify(file));
    await Deno.rename(`${users}.new`, users);

    const status = async (name: string, method: string, path: string) => {
      const r = await fetch(`${s.url}${path}`, {
        method,
        headers: { ...page, cookie: cookies.get(name)! },
      });
      await r.body?.cancel();
      return r.status;
    };
    await waitFor(
      "the removed user's session to end",
      async () => await status("mallory", "GET", "/?json") === 401,
    );
    assertEquals(await status("mallory", "MKCOL", "/m"), 401);
    await waitFor(
      "the session with the old password to end",
      async () => await status("bob", "GET", "/?json") === 401,
    );
    // fts user add --replace --read-only sets a new verifier too: ended.
    await waitFor(
      "the replaced read-only user's session to end",
      async () => await status("carol", "GET", "/?json") === 401,
    );
    await waitFor(
      "the downgraded session to be read-only",
      async () => await status("dave", "MKCOL", "/d") === 403,
    );
    assertEquals(await status("dave", "GET", "/?json"), 200);
    for (const file of ["mallory.txt", "bob.txt", "carol.txt", "dave.txt"]) {
      assertEquals(await annPut(file), 204, `${file}'s lock is released`);
    }
    assertEquals(await status("ann", "GET", "/?json"), 200, "ann stays in");
    const revoked = lines.filter((l) => /page session/.test(l)).join("\n");
    assertMatch(revoked, /"mallory" was removed/);
    assertMatch(revoked, /"bob" has a new password/);
    assertMatch(revoked, /"carol" has a new password and was made read-only/);
    assertMatch(revoked, /"dave" was made read-only: 1 page session made/);
    for (const name of ["m", "d"]) {
      await assertRejectsMissing(join(s.root, name));
    }
  } finally {
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
