/**
 * WebDAV behaviour litmus does not check: depth-infinity PROPFIND refused,
 * PROPPATCH of Windows' and DAV's time properties setting the file's time,
 * Destination on another server refused, and locks expiring by their
 * timeout.
 *
 * @module
 */

import { assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { startHttpServer } from "./helpers/http.ts";

Deno.test("PROPFIND with depth infinity is refused with propfind-finite-depth", async () => {
  const s = await startHttpServer();
  try {
    const r = await fetch(`${s.url}/`, { method: "PROPFIND" });
    assertEquals(r.status, 403);
    assertMatch(await r.text(), /propfind-finite-depth/);
    const one = await fetch(`${s.url}/`, {
      method: "PROPFIND",
      headers: { depth: "1" },
    });
    assertEquals(one.status, 207);
    await one.body?.cancel();
  } finally {
    await s.cleanup();
  }
});

Deno.test("PROPPATCH of Win32LastModifiedTime or getlastmodified sets the file's time", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "w.txt"), "x");
    for (
      const [ns, name, date] of [
        [
          "urn:schemas-microsoft-com:",
          "Win32LastModifiedTime",
          "Mon, 02 Mar 2020 10:00:00 GMT",
        ],
        ["DAV:", "getlastmodified", "Tue, 03 Mar 2020 11:30:00 GMT"],
      ]
    ) {
      const r = await fetch(`${s.url}/w.txt`, {
        method: "PROPPATCH",
        headers: { "content-type": "application/xml" },
        body:
          `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="${ns}"><D:set><D:prop><Z:${name}>${date}</Z:${name}></D:prop></D:set></D:propertyupdate>`,
      });
      assertEquals(r.status, 207);
      assertMatch(await r.text(), /200 OK/);
      const info = await Deno.stat(join(s.root, "w.txt"));
      assertEquals(info.mtime!.getTime(), Date.parse(date));
    }
  } finally {
    await s.cleanup();
  }
});

Deno.test("COPY and MOVE refuse a Destination on another server", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "a.txt"), "x");
    for (const method of ["COPY", "MOVE"]) {
      const r = await fetch(`${s.url}/a.txt`, {
        method,
        headers: { destination: "http://elsewhere.example/a.txt" },
      });
      await r.body?.cancel();
      assertEquals(r.status, 502, method);
    }
    assertEquals(await Deno.readTextFile(join(s.root, "a.txt")), "x");
  } finally {
    await s.cleanup();
  }
});

Deno.test("a lock stops holding once its timeout has passed", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "l.txt"), "x");
    const lock = await fetch(`${s.url}/l.txt`, {
      method: "LOCK",
      headers: { timeout: "Second-5", "content-type": "application/xml" },
      body:
        `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`,
    });
    assertEquals(lock.status, 200);
    assertMatch(await lock.text(), /Second-5/);
    // Five seconds, so that even a loaded machine tries this PUT in time.
    const blocked = await fetch(`${s.url}/l.txt`, { method: "PUT", body: "y" });
    await blocked.body?.cancel();
    assertEquals(blocked.status, 423);
    // Wait for the lock to lapse (bounded), not for a fixed time.
    let status = 423;
    for (let tries = 0; status === 423 && tries < 300; tries++) {
      await new Promise((r) => setTimeout(r, 100));
      const put = await fetch(`${s.url}/l.txt`, { method: "PUT", body: "z" });
      await put.body?.cancel();
      status = put.status;
    }
    assertEquals(status, 204, "a PUT goes through once the lock has lapsed");
    assertEquals(await Deno.readTextFile(join(s.root, "l.txt")), "z");
  } finally {
    await s.cleanup();
  }
});
