/**
 * The storage core's per-file records through a real server on loopback:
 * written when `put -r` commits a large file and when an HTTP PUT or a tus
 * upload carries a digest, matching the stored file's identity and digest;
 * a change of identity makes one useless (and a lookup drops it), and the
 * server's periodic sweep removes records of files deleted since.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { randomBytes } from "./helpers/cli.ts";
import { startServer } from "./helpers/server.ts";
import { startHttpServer } from "./helpers/http.ts";
import { LocalStore } from "../server/storage/local/local_store.ts";
import { recorder } from "./helpers/recorder.ts";

const MiB = 1024 * 1024;

/** The head (JSON line) of the record of host file `path`, or null. */
async function recordOf(
  root: string,
  path: string,
): Promise<Record<string, unknown> | null> {
  const info = await Deno.stat(join(root, path));
  try {
    const bytes = await Deno.readFile(
      join(root, ".fts", "records", `${info.dev}-${info.ino}`),
    );
    return JSON.parse(
      new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0x0a))),
    );
  } catch {
    return null;
  }
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  ).toHex();
}

/** PUTs `body` to `url` with its sha-256 in Content-Digest; returns the hex digest. */
async function putWithDigest(url: string, body: Uint8Array): Promise<string> {
  const digest = await sha256Hex(body);
  const put = await fetch(url, {
    method: "PUT",
    body: body as Uint8Array<ArrayBuffer>,
    headers: {
      "content-digest": `sha-256=:${Uint8Array.fromHex(digest).toBase64()}:`,
    },
  });
  await put.body?.cancel();
  assert(put.ok, `PUT answered ${put.status}`);
  return digest;
}

/**
 * Uploads `body` to `name` with tus, in PATCHes ending at each of `ends`,
 * each with `headers`; with `sha256`, the upload declares it.
 */
async function tusUpload(
  url: string,
  name: string,
  body: Uint8Array,
  ends: number[],
  headers: Record<string, string>,
  sha256?: string,
): Promise<void> {
  const created = await fetch(`${url}/`, {
    method: "POST",
    headers: {
      "tus-resumable": "1.0.0",
      "upload-length": String(body.byteLength),
      "upload-metadata": `filename ${btoa(name)}` +
        (sha256 ? `,sha256 ${btoa(sha256)}` : ""),
    },
  });
  await created.body?.cancel();
  assertEquals(created.status, 201);
  let offset = 0;
  for (const end of ends) {
    const patch = await fetch(new URL(created.headers.get("location")!, url), {
      method: "PATCH",
      body: body.slice(offset, end),
      headers: {
        "tus-resumable": "1.0.0",
        "upload-offset": String(offset),
        "content-type": "application/offset+octet-stream",
        ...headers,
      },
    });
    await patch.body?.cancel();
    assertEquals(patch.status, 204);
    offset = end;
  }
}

/** Waits (bounded) until `check` holds. */
async function eventually(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 20_000;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("put -r records the digest of each file over 8 MiB it commits, not of smaller ones", async () => {
  const { root, port, cleanup } = await startServer();
  const source = await Deno.makeTempDir({ prefix: "fts-record-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    const big = randomBytes(9 * MiB);
    await Deno.writeFile(join(source, "big.bin"), big);
    await Deno.writeFile(join(source, "mid.bin"), randomBytes(2 * MiB));
    await uploadTree(c, source, "t", {
      resume: true,
      noClobber: false,
      verify: true,
      checksum: "sha256",
    }, recorder());
    const record = await recordOf(root, "t/big.bin");
    if (!record) throw new Error("no record of t/big.bin");
    assertEquals(record.path, "t/big.bin");
    assertEquals(
      (record.digests as { sha256?: string }).sha256,
      await sha256Hex(big),
    );
    const info = await Deno.stat(join(root, "t/big.bin"));
    assertEquals(record.identity, {
      dev: info.dev,
      ino: info.ino,
      size: info.size,
      mtime: info.mtime!.getTime(),
      ctime: info.ctime!.getTime(),
    });
    assertEquals(await recordOf(root, "t/mid.bin"), null);
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(source, { recursive: true });
  }
});

Deno.test("an HTTP PUT with a digest and a tus upload with one are recorded; a PUT without is not", async () => {
  const { root, url, cleanup } = await startHttpServer();
  try {
    const body = randomBytes(256 * 1024);
    const digest = await putWithDigest(`${url}/a.bin`, body);
    const record = await recordOf(root, "a.bin");
    assertEquals((record?.digests as { sha256?: string })?.sha256, digest);
    assertEquals(record?.path, "a.bin");

    const plain = await fetch(`${url}/b.bin`, { method: "PUT", body });
    await plain.body?.cancel();
    assert(plain.ok);
    assertEquals(await recordOf(root, "b.bin"), null);

    // tus: one checked PATCH with every byte, then an upload that declared
    // its sha256 and came in two unchecked PATCHes.
    await tusUpload(url, "c.bin", body, [body.byteLength], {
      "upload-checksum": `sha256 ${Uint8Array.fromHex(digest).toBase64()}`,
    });
    const tus = await recordOf(root, "c.bin");
    assertEquals((tus?.digests as { sha256?: string })?.sha256, digest);
    await tusUpload(url, "d.bin", body, [1000, body.byteLength], {}, digest);
    const declared = await recordOf(root, "d.bin");
    assertEquals((declared?.digests as { sha256?: string })?.sha256, digest);
  } finally {
    await cleanup();
  }
});

Deno.test("a record stops matching when the file's identity changes, and a lookup drops it", async () => {
  const { root, url, cleanup } = await startHttpServer();
  try {
    await putWithDigest(`${url}/a.bin`, randomBytes(64 * 1024));
    assert(await recordOf(root, "a.bin"), "no record");
    const info = await Deno.stat(join(root, "a.bin"));
    const recordPath = join(root, ".fts", "records", `${info.dev}-${info.ino}`);
    // Another writer changes the file in place: same inode, new ctime.
    await eventually(
      () => Promise.resolve(Date.now() > info.ctime!.getTime() + 1),
      "the clock passed the file's ctime",
    );
    await Deno.writeFile(join(root, "a.bin"), randomBytes(64 * 1024));
    const store = await LocalStore.open(root);
    try {
      const handle = await store.open("a.bin");
      try {
        assertEquals(await store.records.load(await handle.identity!()), null);
      } finally {
        handle.close();
      }
    } finally {
      await store.close();
    }
    assertEquals(await Deno.stat(recordPath).catch(() => null), null);
  } finally {
    await cleanup();
  }
});

Deno.test("hash answers from the record an HTTP PUT left, until the file's identity changes", async () => {
  const { root, url, port, cleanup } = await startHttpServer();
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    const body = randomBytes(64 * 1024);
    const digest = await putWithDigest(`${url}/a.bin`, body);
    assertEquals(
      (await c.stat("a.bin", true, "hash", "sha256")).sha256,
      digest,
    );
    // A digest planted in the record (the file itself untouched) is what
    // the server answers: it did not read the file.
    const info = await Deno.stat(join(root, "a.bin"));
    const recordPath = join(root, ".fts", "records", `${info.dev}-${info.ino}`);
    const planted = "ab".repeat(32);
    const text = await Deno.readTextFile(recordPath);
    await Deno.writeTextFile(recordPath, text.replace(digest, planted));
    assertEquals(
      (await c.stat("a.bin", true, "hash", "sha256")).sha256,
      planted,
    );
    // The same bytes written again by another writer: a new ctime, so the
    // record no longer matches and the file is hashed.
    await eventually(
      () => Promise.resolve(Date.now() > info.ctime!.getTime() + 1),
      "the clock passed the file's ctime",
    );
    await Deno.writeFile(join(root, "a.bin"), body);
    assertEquals(
      (await c.stat("a.bin", true, "hash", "sha256")).sha256,
      digest,
    );
  } finally {
    c.abort();
    await cleanup();
  }
});

Deno.test("the periodic sweep removes records of files deleted or replaced since", async () => {
  const { root, url, cleanup } = await startHttpServer({ partialTtlMs: 200 });
  try {
    const names = ["gone.bin", "replaced.bin", "kept.bin"];
    const records: Record<string, string> = {};
    for (const name of names) {
      await putWithDigest(`${url}/${name}`, randomBytes(64 * 1024));
      const info = await Deno.stat(join(root, name));
      records[name] = join(root, ".fts", "records", `${info.dev}-${info.ino}`);
      await Deno.stat(records[name]);
    }
    await Deno.remove(join(root, "gone.bin"));
    await Deno.writeFile(join(root, "replaced.tmp"), randomBytes(100));
    await Deno.rename(join(root, "replaced.tmp"), join(root, "replaced.bin"));
    const exists = (path: string) =>
      Deno.stat(path).then(() => true, () => false);
    await eventually(
      async () =>
        !await exists(records["gone.bin"]) &&
        !await exists(records["replaced.bin"]),
      "the sweep removed the stale records",
    );
    assert(await exists(records["kept.bin"]), "the valid record was swept");
  } finally {
    await cleanup();
  }
});
