/**
 * WebDAV's in-memory tables are bounded: lock owners, locks per holder, per
 * resource and in all, and dead properties per resource and in all. A LOCK
 * answers with its own lock only, and a PROPFIND over a file as locked as
 * the limits allow stays small; a PROPFIND of a large folder is streamed.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { DOMParser } from "@xmldom/xmldom";
import { LOCK_LIMITS, LockTable } from "../server/http/webdav/lock_table.ts";
import {
  DeadProperties,
  PROPERTY_LIMITS,
} from "../server/http/webdav/dead_properties.ts";
import { HttpError } from "../server/http/http_errors.ts";
import { rawExchange, startHttpServer } from "./helpers/http.ts";

/** A LOCK body with `scope` and an owner of `owner` characters. */
function lockInfo(scope: "shared" | "exclusive", owner: string): string {
  return `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope>` +
    `<D:locktype><D:write/></D:locktype><D:owner><D:href>${owner}</D:href></D:owner></D:lockinfo>`;
}

async function lock(
  url: string,
  scope: "shared" | "exclusive",
  owner: string,
): Promise<{ status: number; text: string }> {
  const r = await fetch(url, {
    method: "LOCK",
    headers: { depth: "0", "content-type": "application/xml" },
    body: lockInfo(scope, owner),
  });
  return { status: r.status, text: await r.text() };
}

Deno.test("a lock owner over 1 KiB is refused with 413 and leaves no lock and no file", async () => {
  const s = await startHttpServer();
  try {
    const r = await lock(`${s.url}/new.txt`, "exclusive", "o".repeat(2000));
    assertEquals(r.status, 413);
    const there = await Deno.stat(join(s.root, "new.txt")).catch(() => null);
    assertEquals(there, null);
    const put = await fetch(`${s.url}/new.txt`, { method: "PUT", body: "x" });
    assertEquals(put.status, 201);
  } finally {
    await s.cleanup();
  }
});

Deno.test("shared locks on one file stop at 8, each LOCK answers with its own owner only, and a PROPFIND of the file stays small", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "x");
    const owner = (i: number) => `owner-${i}-` + "o".repeat(900);
    for (let i = 0; i < LOCK_LIMITS.perResource; i++) {
      const r = await lock(`${s.url}/f.txt`, "shared", owner(i));
      assertEquals(r.status, 200);
      assertEquals(r.text.split("<D:activelock>").length - 1, 1);
      assert(r.text.includes(`owner-${i}-`));
    }
    const over = await lock(`${s.url}/f.txt`, "shared", owner(99));
    assertEquals(over.status, 507);
    const r = await fetch(`${s.url}/`, {
      method: "PROPFIND",
      headers: { depth: "1" },
    });
    const text = await r.text();
    assertEquals(r.status, 207);
    assertEquals(text.split("<D:activelock>").length - 1, 8);
    assert(text.length < 8 * 1500 + 4096, `${text.length} characters`);
  } finally {
    await s.cleanup();
  }
});

Deno.test("one holder keeps at most 100 locks; the next LOCK is refused with 507", async () => {
  const s = await startHttpServer();
  try {
    for (let i = 0; i < LOCK_LIMITS.perHolder; i++) {
      const r = await lock(`${s.url}/f${i}.txt`, "exclusive", "me");
      assertEquals(r.status, 201, r.text);
    }
    const over = await lock(`${s.url}/last.txt`, "exclusive", "me");
    assertEquals(over.status, 507);
    const there = await Deno.stat(join(s.root, "last.txt")).catch(() => null);
    assertEquals(there, null);
  } finally {
    await s.cleanup();
  }
});

Deno.test("the lock table holds at most 1000 locks in all, and a depth-infinity lock counts for what it covers below", () => {
  const table = new LockTable();
  const take = (path: string, holder: string, depth: "0" | "infinity" = "0") =>
    table.acquire({
      path,
      depth,
      scope: "shared",
      owner: "",
      holder,
      timeoutSeconds: 60,
    });
  for (let i = 0; i < LOCK_LIMITS.total; i++) {
    assert(take(`f${i}`, `user${Math.floor(i / LOCK_LIMITS.perHolder)}`));
  }
  const error = assertThrows(() => take("one-more", "someone"), HttpError);
  assertEquals(error.status, 507);

  const small = new LockTable();
  for (let i = 0; i < LOCK_LIMITS.perResource - 1; i++) {
    assert(
      small.acquire({
        path: "d/f",
        depth: "0",
        scope: "shared",
        owner: "",
        holder: "a",
        timeoutSeconds: 60,
      }),
    );
  }
  // One more on the folder, depth infinity, would be the 8th over d/f...
  assert(small.acquire({
    path: "d",
    depth: "infinity",
    scope: "shared",
    owner: "",
    holder: "a",
    timeoutSeconds: 60,
  }));
  // ...and a 9th covering d/f from the root is refused.
  const deep = assertThrows(
    () =>
      small.acquire({
        path: "",
        depth: "infinity",
        scope: "shared",
        owner: "",
        holder: "a",
        timeoutSeconds: 60,
      }),
    HttpError,
  );
  assertEquals(deep.status, 507);
});

/** A PROPPATCH body setting `count` properties of `size` characters. */
function setProps(count: number, size: number, from = 0): string {
  let props = "";
  for (let i = from; i < from + count; i++) {
    props += `<x:p${i}>${"v".repeat(size)}</x:p${i}>`;
  }
  return `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>${props}</D:prop></D:set></D:propertyupdate>`;
}

Deno.test("dead properties stop at 256 and 64 KiB per resource with 507, and nothing of the refused PROPPATCH is kept", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "x");
    const patch = async (body: string) => {
      const r = await fetch(`${s.url}/f.txt`, {
        method: "PROPPATCH",
        headers: { "content-type": "application/xml" },
        body,
      });
      await r.body?.cancel();
      return r.status;
    };
    assertEquals(await patch(setProps(200, 1)), 207);
    assertEquals(await patch(setProps(100, 1, 200)), 507);
    assertEquals(await patch(setProps(1, 70 * 1024, 500)), 507);
    const r = await fetch(`${s.url}/f.txt`, {
      method: "PROPFIND",
      headers: { depth: "0" },
      body:
        `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`,
    });
    const text = await r.text();
    assert(text.includes("p199"));
    assert(!text.includes("p200") && !text.includes("p500"));
  } finally {
    await s.cleanup();
  }
});

Deno.test("dead properties stop at 8 MiB in all, and a COPY that would pass it is refused before anything is copied", () => {
  const props = new DeadProperties();
  const value = "v".repeat(60 * 1024);
  let stored = 0;
  let refused: HttpError | undefined;
  for (let i = 0; i < 1000 && !refused; i++) {
    try {
      props.set(`d/f${i}`, new Map([["{urn:x}p", value]]));
      stored++;
    } catch (error) {
      refused = error as HttpError;
    }
  }
  assertEquals(refused?.status, 507);
  assertEquals(stored, Math.floor(PROPERTY_LIMITS.total / (value.length + 8)));
  const copy = assertThrows(() => props.checkCopy("d", true), HttpError);
  assertEquals(copy.status, 507);
  // Freed room can be used again.
  props.removeTree("d/f0");
  props.set("e", new Map([["{urn:x}p", value]]));
});

/** A folder `big` of 500 files under eight depth-infinity locks. */
async function lockedFolder(url: string, root: string): Promise<void> {
  await Deno.mkdir(join(root, "big"));
  for (let i = 0; i < 500; i++) {
    Deno.writeTextFileSync(join(root, "big", `f${i}.txt`), "x");
  }
  for (let i = 0; i < LOCK_LIMITS.perResource; i++) {
    const r = await fetch(`${url}/big/`, {
      method: "LOCK",
      headers: { depth: "infinity", "content-type": "application/xml" },
      body: lockInfo("shared", `o${i}-` + "o".repeat(900)),
    });
    assertEquals(r.status, 200);
    await r.body?.cancel();
  }
}

Deno.test("a PROPFIND of a large folder under eight depth-infinity locks is streamed in pieces and is valid XML naming every file", async () => {
  const s = await startHttpServer();
  try {
    await lockedFolder(s.url, s.root);
    const r = await fetch(`${s.url}/big/`, {
      method: "PROPFIND",
      headers: { depth: "1" },
    });
    assertEquals(r.status, 207);
    assertEquals(r.headers.get("content-length"), null);
    let pieces = 0;
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of r.body!) {
      pieces++;
      text += decoder.decode(chunk, { stream: true });
    }
    assert(pieces > 1, `${pieces} pieces`);
    console.log(`${text.length} characters in ${pieces} pieces`);
    const errors: string[] = [];
    const doc = new DOMParser({
      onError: (level: string, message: string) => {
        if (level !== "warning") errors.push(message);
      },
    }).parseFromString(text, "application/xml");
    assertEquals(errors, []);
    assertEquals(doc.getElementsByTagNameNS("DAV:", "response").length, 501);
  } finally {
    await s.cleanup();
  }
});

Deno.test("a streamed PROPFIND the client stops reading is ended after the idle timeout", async () => {
  const s = await startHttpServer({ idleTimeoutMs: 300 });
  try {
    await lockedFolder(s.url, s.root);
    // Reads nothing for five idle timeouts, then drains what came.
    const text = await rawExchange(
      s.server.http!.addr.port,
      "PROPFIND /big/ HTTP/1.1\r\nHost: 127.0.0.1\r\nDepth: 1\r\n\r\n",
      { stallMs: 1500, timeoutMs: 10_000 },
    );
    assert(text.startsWith("HTTP/1.1 207"), text.slice(0, 100));
    assert(!text.includes("</D:multistatus>"), "the whole answer came");
    assert(text.length < 5_000_000, `${text.length} characters`);
  } finally {
    await s.cleanup();
  }
});
