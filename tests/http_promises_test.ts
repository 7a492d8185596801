/**
 * What the README promises of the HTTP front-end, each against a real
 * server: `If-Match` and `If-Unmodified-Since` on downloads, 503 beyond
 * `--max-connections`, the caps on XML bodies (1 MiB), URLs (8 KiB) and dead
 * properties (64 KiB per file), the Basic-login cache (a changed password
 * takes effect at once), and Basic logins sharing the native throttle,
 * including a native verdict that would come past the login deadline.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertRejects,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { ConnectionError } from "../protocol/mod.ts";
import { BASIC_CACHE_MS } from "../server/http/basic_auth.ts";
import { LoginThrottle } from "../server/auth/login_throttle.ts";
import { addUser } from "../server/auth/users.ts";
import { type HttpTestServer, startHttpServer } from "./helpers/http.ts";
import { HOST, waitFor } from "./helpers/raw_peer.ts";

const basic = (user: string, password: string) => ({
  authorization: `Basic ${btoa(`${user}:${password}`)}`,
});

/** The status of `init` on `url`, the body dropped. */
async function statusOf(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.status;
}

Deno.test("a download honours If-Match and If-Unmodified-Since: 412 when the file changed, 200 when not", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "version one");
    const head = await fetch(`${s.url}/f.txt`, { method: "HEAD" });
    await head.body?.cancel();
    const etag = head.headers.get("etag")!;
    const modified = head.headers.get("last-modified")!;
    assert(etag && modified, "the file has validators");
    const get = (headers: Record<string, string>) =>
      statusOf(`${s.url}/f.txt`, { headers });
    assertEquals(await get({ "if-match": etag }), 200);
    assertEquals(await get({ "if-match": `"other", ${etag}` }), 200);
    assertEquals(await get({ "if-match": "*" }), 200);
    assertEquals(await get({ "if-match": '"other"' }), 412);
    assertEquals(await get({ "if-unmodified-since": modified }), 200);
    const before = new Date(Date.parse(modified) - 3600_000).toUTCString();
    assertEquals(await get({ "if-unmodified-since": before }), 412);
    // The file changes: the old validators no longer hold.
    await Deno.writeTextFile(join(s.root, "f.txt"), "version two, longer");
    await Deno.utime(join(s.root, "f.txt"), new Date(), new Date(Date.now()));
    assertEquals(await get({ "if-match": etag }), 412);
  } finally {
    await s.cleanup();
  }
});

Deno.test("beyond --max-connections requests in flight the HTTP front-end answers 503 with Retry-After, and serves again after", async () => {
  const s = await startHttpServer({ maxConnections: 1 });
  const port = s.server.http!.addr.port;
  await Deno.writeTextFile(join(s.root, "f.txt"), "x");
  // A PUT whose body has not all come keeps its request in flight.
  const holder = await Deno.connect({ hostname: HOST, port });
  try {
    await holder.write(
      new TextEncoder().encode(
        `PUT /held.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          "Content-Length: 100000\r\n\r\nabc",
      ),
    );
    let busy: Response | undefined;
    await waitFor("a request refused as busy", async () => {
      const response = await fetch(`${s.url}/f.txt`);
      await response.body?.cancel();
      if (response.status === 503) busy = response;
      else assertEquals(response.status, 200);
      return busy !== undefined;
    }, 20_000);
    assertEquals(busy!.headers.get("retry-after"), "5");
    holder.close();
    await waitFor(
      "the front-end to serve again",
      async () => await statusOf(`${s.url}/f.txt`) === 200,
      20_000,
    );
  } finally {
    try {
      holder.close();
    } catch {
      // Closed above.
    }
    await s.cleanup();
  }
});

Deno.test("an XML body over 1 MiB gets 413, a URL over 8 KiB gets 414, and dead properties over 64 KiB per file get 507", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "x");
    const propfind = (size: number) =>
      statusOf(`${s.url}/f.txt`, {
        method: "PROPFIND",
        headers: { depth: "0", "content-type": "application/xml" },
        body: `<?xml version="1.0"?><!--${"x".repeat(size)}-->` +
          `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
      });
    assertEquals(await propfind(1000), 207);
    assertEquals(await propfind(1024 * 1024), 413);

    assertEquals(await statusOf(`${s.url}/${"a/".repeat(3500)}`), 404);
    assertEquals(await statusOf(`${s.url}/${"a/".repeat(4100)}`), 414);

    const proppatch = (name: string, size: number) =>
      statusOf(`${s.url}/f.txt`, {
        method: "PROPPATCH",
        headers: { "content-type": "application/xml" },
        body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" ` +
          `xmlns:Z="urn:test"><D:set><D:prop><Z:${name}>${"v".repeat(size)}` +
          `</Z:${name}></D:prop></D:set></D:propertyupdate>`,
      });
    assertEquals(await proppatch("one", 40 * 1024), 207);
    // Together with the first, the file's dead properties pass 64 KiB.
    assertEquals(await proppatch("two", 30 * 1024), 507);
    assertEquals(await proppatch("three", 20 * 1024), 207);
  } finally {
    await s.cleanup();
  }
});

/** A server with users ann and bob, Basic allowed over plain HTTP. */
async function withBasicServer(
  options: { throttle?: LoginThrottle; loginTimeoutMs?: number },
  fn: (s: HttpTestServer, users: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fts-basic-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", "ann-old", { iterations: 4096 });
  await addUser(users, "bob", "bob-pw", { iterations: 4096 });
  const s = await startHttpServer({
    users,
    httpAllowBasicInsecure: true,
    loginThrottle: options.throttle,
    loginTimeoutMs: options.loginTimeoutMs,
    usersPollMs: 50,
  });
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "x");
    await fn(s, users);
  } finally {
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a Basic login is cached: the same credentials are served again while any new check for that user would wait", async () => {
  assertEquals(BASIC_CACHE_MS, 60_000, "the README's 60 s");
  // After one failure every new check for ann from here waits ten minutes;
  // only the cache can answer at once.
  const throttle = new LoginThrottle({ baseDelayMs: 600_000 });
  await withBasicServer({ throttle }, async (s) => {
    const get = (user: string, password: string) =>
      statusOf(`${s.url}/f.txt`, { headers: basic(user, password) });
    assertEquals(await get("ann", "ann-old"), 200);
    assertEquals(await get("ann", "wrong"), 401);
    assertGreater(throttle.delay(HOST, "ann"), 0);
    // A generous deadline instead of a hang if the cache did not answer.
    const cached = await statusOf(`${s.url}/f.txt`, {
      headers: basic("ann", "ann-old"),
      signal: AbortSignal.timeout(30_000),
    });
    assertEquals(cached, 200, "served from the cache");
  });
});

Deno.test("a changed password takes effect at once for Basic logins, cache or not", async () => {
  // Polls with the new password fail until the file is read again: a
  // throttle of 1 ms keeps them from slowing down.
  const throttle = new LoginThrottle({ baseDelayMs: 1, maxDelayMs: 1 });
  await withBasicServer({ throttle }, async (s, users) => {
    const get = (password: string) =>
      statusOf(`${s.url}/f.txt`, { headers: basic("ann", password) });
    assertEquals(await get("ann-old"), 200);
    assertEquals(await get("ann-old"), 200); // now cached
    await addUser(users, "ann", "ann-new", { iterations: 4096, replace: true });
    await waitFor(
      "the server to read the new password",
      async () => await get("ann-new") === 200,
      20_000,
    );
    assertEquals(await get("ann-old"), 401, "the cached old password");
  });
});

Deno.test("a Basic failure counts in the native login throttle; a native verdict that would come past the login deadline is not given, and the failure stays counted", async () => {
  const throttle = new LoginThrottle({ baseDelayMs: 600_000 });
  await withBasicServer(
    { throttle, loginTimeoutMs: 3000 },
    async (s) => {
      const wrong = await statusOf(`${s.url}/f.txt`, {
        headers: basic("ann", "guess"),
      });
      assertEquals(wrong, 401);
      assertGreater(throttle.delay(HOST, "ann"), 0, "counted for ann");
      assertEquals(throttle.delay(HOST, "bob"), 0, "not for bob");
      // The native login as ann, right password: its verdict would come in
      // ten minutes, after the 3 s deadline, so the connection closes.
      const notices: string[] = [];
      await assertRejects(
        () =>
          Connection.open({ hostname: HOST, port: s.port, user: "ann" }, {
            password: () => "ann-old",
            onNotice: (notice) => void notices.push(notice.message),
          }),
        ConnectionError,
        "the server closed the connection",
      );
      assertEquals(notices, [
        "closing the connection: no login within 3 s",
      ]);
      assertGreater(throttle.delay(HOST, "ann"), 0, "still counted");
      const bob = await Connection.open(
        { hostname: HOST, port: s.port, user: "bob" },
        { password: () => "bob-pw" },
      );
      assertEquals((await bob.list("")).map((e) => e.name), ["f.txt"]);
      await bob.close();
    },
  );
});
