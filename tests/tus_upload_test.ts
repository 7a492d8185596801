/**
 * Resumable uploads over tus 1.0: create, append, lose the connection
 * part-way, ask the offset, resume, and the commit checks the whole file's
 * sha256 before the rename.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { startHttpServer } from "./helpers/http.ts";
import { randomBytes } from "./helpers/cli.ts";

const TUS = { "tus-resumable": "1.0.0" };
const b64 = (text: string) => new TextEncoder().encode(text).toBase64();

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data)).toHex();
}

async function create(
  url: string,
  name: string,
  size: number,
  sha256: string,
): Promise<string> {
  const r = await fetch(`${url}/`, {
    method: "POST",
    headers: {
      ...TUS,
      "upload-length": String(size),
      "upload-metadata": `filename ${b64(name)},sha256 ${b64(sha256)}`,
    },
  });
  await r.body?.cancel();
  assertEquals(r.status, 201);
  return new URL(r.headers.get("location")!, url).href;
}

async function headOffset(upload: string): Promise<number> {
  const r = await fetch(upload, { method: "HEAD", headers: TUS });
  await r.body?.cancel();
  assertEquals(r.status, 200);
  return Number(r.headers.get("upload-offset"));
}

async function patch(
  upload: string,
  offset: number,
  body: Uint8Array<ArrayBuffer>,
) {
  const r = await fetch(upload, {
    method: "PATCH",
    headers: {
      ...TUS,
      "content-type": "application/offset+octet-stream",
      "upload-offset": String(offset),
    },
    body,
  });
  await r.body?.cancel();
  return r;
}

Deno.test("a tus upload cut off part-way resumes from the server's offset and commits only verified bytes", async () => {
  const s = await startHttpServer();
  try {
    const options = await fetch(`${s.url}/`, { method: "OPTIONS" });
    await options.body?.cancel();
    assertEquals(options.headers.get("tus-version"), "1.0.0");
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const upload = await create(
      s.url,
      "big.bin",
      data.length,
      await sha256Hex(data),
    );
    assertEquals(await headOffset(upload), 0);

    const first = await patch(upload, 0, data.slice(0, 2 * 1024 * 1024));
    assertEquals(first.status, 204);
    assertEquals(first.headers.get("upload-offset"), String(2 * 1024 * 1024));

    // A second PATCH whose connection drops after 1.5 MiB of its body.
    const url = new URL(upload);
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: Number(url.port),
    });
    const rest = data.length - 2 * 1024 * 1024;
    await conn.write(new TextEncoder().encode(
      `PATCH ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n` +
        `Content-Type: application/offset+octet-stream\r\nUpload-Offset: ${
          2 * 1024 * 1024
        }\r\n` +
        `Content-Length: ${rest}\r\n\r\n`,
    ));
    const sent = data.subarray(2 * 1024 * 1024, 2 * 1024 * 1024 + 1536 * 1024);
    for (let at = 0; at < sent.length;) {
      at += await conn.write(sent.subarray(at));
    }
    conn.close();
    let offset = 0;
    for (let i = 0; i < 100; i++) {
      offset = await headOffset(upload).catch(() => -1);
      if (offset > 2 * 1024 * 1024) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(
      offset >= 2 * 1024 * 1024 && offset <= 2 * 1024 * 1024 + 1536 * 1024,
      `offset ${offset}`,
    );
    await assertRejectsMissing(join(s.root, "big.bin"));

    const stale = await patch(upload, 0, data.slice(0, 10));
    assertEquals(stale.status, 409, "a wrong offset is refused");
    const last = await patch(upload, offset, data.slice(offset));
    assertEquals(last.status, 204);
    assertEquals(await Deno.readFile(join(s.root, "big.bin")), data);
  } finally {
    await s.cleanup();
  }
});

Deno.test("a tus upload whose bytes do not match the announced sha256 is refused and leaves nothing", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "t.bin"), "old");
    const data = randomBytes(1000);
    const upload = await create(s.url, "t.bin", data.length, "0".repeat(64));
    const r = await patch(upload, 0, data);
    assertEquals(r.status, 400);
    assertEquals(await Deno.readTextFile(join(s.root, "t.bin")), "old");
    assertEquals(await headOffset(upload), 0, "the bad bytes were dropped");
  } finally {
    await s.cleanup();
  }
});

async function assertRejectsMissing(path: string) {
  const there = await Deno.stat(path).then(() => true, () => false);
  assertEquals(there, false, `${path} must not exist before the last byte`);
}

Deno.test("a tus PATCH whose Upload-Checksum does not match is refused with 460 and its bytes dropped, and a matching one is kept", async () => {
  const s = await startHttpServer();
  try {
    const options = await fetch(`${s.url}/`, { method: "OPTIONS" });
    await options.body?.cancel();
    assertEquals(options.headers.get("tus-checksum-algorithm"), "sha256");
    const data = randomBytes(3000);
    const upload = await create(
      s.url,
      "c.bin",
      data.length,
      await sha256Hex(data),
    );
    const checked = (
      offset: number,
      body: Uint8Array<ArrayBuffer>,
      sum: string,
    ) =>
      fetch(upload, {
        method: "PATCH",
        headers: {
          ...TUS,
          "content-type": "application/offset+octet-stream",
          "upload-offset": String(offset),
          "upload-checksum": `sha256 ${Uint8Array.fromHex(sum).toBase64()}`,
        },
        body,
      }).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      });
    const first = data.slice(0, 1000);
    const wrong = await sha256Hex(data.slice(1, 1001));
    assertEquals(await checked(0, first, wrong), 460);
    assertEquals(await headOffset(upload), 0, "the damaged chunk was dropped");
    assertEquals(await checked(0, first, await sha256Hex(first)), 204);
    assertEquals(await headOffset(upload), 1000);
    const rest = data.slice(1000);
    assertEquals(await checked(1000, rest, await sha256Hex(rest)), 204);
    assertEquals(await Deno.readFile(join(s.root, "c.bin")), data);
  } finally {
    await s.cleanup();
  }
});
