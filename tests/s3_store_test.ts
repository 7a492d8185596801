/**
 * The S3 backend against a real S3-compatible gateway (Ceph RADOS Gateway
 * from tests/s3/start_radosgw.sh; .ci/run starts one). Without
 * FTS_TEST_S3_ENDPOINT the gateway tests are reported as ignored (a failure under CI=true);
 * the tests that need no gateway (configuration, an unreachable store) run
 * always.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  AlreadyExistsError,
  InvalidPathError,
  IoError,
  NotFoundError,
  WrongTypeError,
} from "../protocol/errors.ts";
import type { Entry } from "../protocol/messages.ts";
import { s3ConfigFrom } from "../server/storage/s3/config.ts";
import { listObjects } from "../server/storage/s3/bucket.ts";
import { S3Store, type S3StoreOptions } from "../server/storage/s3/s3_store.ts";
import { multipartEtag, type S3Upload } from "../server/storage/s3/upload.ts";
import type { ReadHandle, Upload, WalkItem } from "../server/storage/store.ts";
import {
  awsEnv,
  makeTestBucket,
  type S3TestEnv,
  s3TestEnvFor,
  type TestBucket,
} from "./helpers/s3.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

const env = s3TestEnvFor("s3_store_test");
/** Every gateway test is registered, and ignored without a gateway. */
const noGateway = env === null;

const MiB = 1024 * 1024;
/** S3's smallest part: uploads in these tests cut 5 MiB parts. */
const TUNING = { partSize: 5 * MiB, concurrency: 3 };

/** Registers a test that runs against a fresh bucket on the gateway. */
function s3Test(
  name: string,
  body: (t: TestBucket, env: S3TestEnv) => Promise<void>,
  options: S3StoreOptions = {},
) {
  Deno.test({
    name: `s3 store: ${name}`,
    ignore: noGateway,
    sanitizeResources: false,
    async fn() {
      const bucket = await makeTestBucket(env!, "root", {
        tuning: TUNING,
        ...options,
      });
      try {
        await body(bucket, env!);
      } finally {
        await bucket.cleanup();
      }
    },
  });
}

function randomBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function readAll(handle: ReadHandle): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(MiB);
  let total = 0;
  for (;;) {
    const n = await handle.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    total += n;
  }
  handle.close();
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** Writes `bytes` from `offset` on in 1 MiB chunks. */
async function writeFrom(
  upload: Upload,
  bytes: Uint8Array,
  offset = 0,
): Promise<void> {
  for (let at = offset; at < bytes.length; at += MiB) {
    await upload.write(bytes.subarray(at, Math.min(bytes.length, at + MiB)));
  }
}

/** Asserts that file `path` in `store` holds exactly `bytes`. */
async function assertHolds(
  store: S3Store,
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  assertEquals(
    await sha256(await readAll(await store.open(path))),
    await sha256(bytes),
    path,
  );
}

/** Writes `bytes` in 1 MiB chunks (never across a part boundary) and commits. */
async function putBytes(
  store: S3Store,
  path: string,
  bytes: Uint8Array,
  mtime = 1_700_000_000_000,
  mode: number | null = 0o644,
): Promise<void> {
  const upload = await store.beginUpload(path, {
    size: bytes.length,
    mtime,
    resume: false,
  });
  await writeFrom(upload, bytes);
  await upload.commit({ mode, mtime, noClobber: false });
}

async function temp(bytes: Uint8Array): Promise<string> {
  const file = await Deno.makeTempFile({ prefix: "fts-s3-test-" });
  await Deno.writeFile(file, bytes);
  return file;
}

s3Test(
  "a file put through the store is an ordinary object s3cmd reads back",
  async (t) => {
    const small = randomBytes(1000, 2);
    const large = randomBytes(12 * MiB + 3, 3); // multipart: 5 + 5 + 2 MiB
    await putBytes(t.store, "small.bin", small, 1_700_000_000_123, 0o640);
    await putBytes(t.store, "large.bin", large, 1_700_000_001_000, 0o600);
    for (
      const [name, bytes] of [["small.bin", small], [
        "large.bin",
        large,
      ]] as const
    ) {
      const got = await t.s3cmd("get", `s3://${t.bucket}/root/${name}`, "-");
      assertEquals(await sha256(got), await sha256(bytes), name);
    }
    const info = new TextDecoder().decode(
      await t.s3cmd("info", `s3://${t.bucket}/root/small.bin`),
    );
    assert(/x-amz-meta-mtime:\s*1700000000\.123/.test(info), info);
    const entry = await t.store.stat("large.bin");
    assertEquals([entry.size, entry.mtime, entry.mode], [
      large.length,
      1_700_000_001_000,
      0o600,
    ]);
  },
);

s3Test(
  "an object s3cmd put shows in list and stat and reads from an offset",
  async (t) => {
    const bytes = randomBytes(3 * MiB + 17, 4);
    const file = await temp(bytes);
    try {
      await t.s3cmd("put", file, `s3://${t.bucket}/root/from-s3cmd/data.bin`);
    } finally {
      await Deno.remove(file);
    }
    const listing = await t.store.list("from-s3cmd");
    assertEquals(listing.map((e) => [e.name, e.type, e.size]), [[
      "data.bin",
      "file",
      bytes.length,
    ]]);
    assertEquals((await t.store.stat("from-s3cmd")).type, "dir");
    const tail = await readAll(
      await t.store.open("from-s3cmd/data.bin", 2 * MiB),
    );
    assertEquals(await sha256(tail), await sha256(bytes.subarray(2 * MiB)));
    const atEnd = await t.store.open("from-s3cmd/data.bin", bytes.length);
    assertEquals(await atEnd.read(new Uint8Array(10)), null);
    assertEquals(atEnd.entry.size, bytes.length);
  },
);

s3Test(
  "mkdirp makes empty folders that list and stat show, and refuses to go through a file",
  async (t) => {
    await t.store.mkdirp("a/b/c");
    assertEquals((await t.store.list("a/b")).map((e) => [e.name, e.type]), [[
      "c",
      "dir",
    ]]);
    assertEquals((await t.store.stat("a/b/c")).type, "dir");
    assertEquals(await t.store.list("a/b/c"), []);
    const keys = new TextDecoder().decode(
      await t.s3cmd("ls", "--recursive", `s3://${t.bucket}/root/`),
    );
    assert(keys.includes("root/a/b/c/"), keys);
    await putBytes(t.store, "f", randomBytes(10));
    await assertRejects(() => t.store.mkdirp("f/g"), AlreadyExistsError);
    await assertRejects(() => t.store.list("f"), WrongTypeError);
    await assertRejects(() => t.store.list("nothing"), NotFoundError);
    await assertRejects(() => t.store.stat("nothing"), NotFoundError);
    await assertRejects(() => t.store.open("a"), WrongTypeError);
  },
);

s3Test(
  "a put needs its parent folder and cannot replace a folder",
  async (t) => {
    await assertRejects(
      () =>
        t.store.beginUpload("missing/x", { size: 1, mtime: 0, resume: false }),
      NotFoundError,
      'the folder "missing" does not exist',
    );
    await t.store.mkdirp("d");
    await assertRejects(
      () => t.store.beginUpload("d", { size: 1, mtime: 0, resume: false }),
      WrongTypeError,
    );
  },
);

s3Test(
  "a multipart upload is invisible until commit, and replaces the old object whole",
  async (t) => {
    const old = randomBytes(100, 5);
    await putBytes(t.store, "f.bin", old);
    const bytes = randomBytes(11 * MiB, 6);
    const upload = await t.store.beginUpload("f.bin", {
      size: bytes.length,
      mtime: 5000,
      resume: false,
    });
    for (let at = 0; at < bytes.length; at += MiB) {
      await upload.write(bytes.subarray(at, at + MiB));
      // Readers see the old object all along.
      assertEquals((await t.store.stat("f.bin")).size, old.length);
    }
    await upload.commit({ mode: null, mtime: 5000, noClobber: false });
    // The object is the multipart upload itself (no copy made after it): its
    // ETag is the one a commit whose answer was lost checks for.
    const head = await t.store.client.send({
      method: "HEAD",
      key: "root/f.bin",
    });
    const partMd5s = [0, 1, 2].map((i) =>
      createHash("md5").update(bytes.subarray(i * 5 * MiB, (i + 1) * 5 * MiB))
        .digest("hex")
    );
    assertEquals(head.headers.get("etag"), multipartEtag(partMd5s));
    await assertHolds(t.store, "f.bin", bytes);
  },
);

s3Test(
  "an upload aborted part-way leaves no object and another server resumes it from the saved hash state",
  async (t) => {
    const bytes = randomBytes(17 * MiB + 5, 7); // parts of 5 MiB: 5, 5, 5, 2
    const options = {
      size: bytes.length,
      mtime: 1_700_000_002_000,
      resume: true,
    };
    const first = await t.store.beginUpload("big.bin", options) as S3Upload;
    assertEquals([first.offset, first.resumable], [0, true]);
    const interval = first.checkpointInterval;
    // Two full parts with their hash states, then half of the third.
    for (let at = 0; at < 2.5 * interval; at += interval / 2) {
      const end = at + interval / 2;
      const state = end % interval === 0
        ? new TextEncoder().encode(
          `state@${end}:${await sha256(bytes.subarray(0, end))}`,
        )
        : undefined;
      await first.write(bytes.subarray(at, end), state);
    }
    await first.abort(true);
    await assertRejects(() => t.store.stat("big.bin"), NotFoundError);
    const keys = new TextDecoder().decode(
      await t.s3cmd("ls", "--recursive", `s3://${t.bucket}/`),
    );
    assert(!keys.includes("root/big.bin"), keys);

    const other = await t.reopen();
    const second = await other.beginUpload("big.bin", options) as S3Upload;
    assertEquals(second.offset, 2 * interval);
    assertEquals(
      new TextDecoder().decode(second.hashState!),
      `state@${2 * interval}:${await sha256(bytes.subarray(0, 2 * interval))}`,
    );
    await writeFrom(second, bytes, second.offset);
    await second.commit({
      mode: 0o644,
      mtime: options.mtime,
      noClobber: false,
    });
    const got = await t.s3cmd("get", `s3://${t.bucket}/root/big.bin`, "-");
    assertEquals(await sha256(got), await sha256(bytes));
    // Nothing is left over: no unfinished upload, no resume records.
    const uploads = new TextDecoder().decode(
      await t.s3cmd("multipart", `s3://${t.bucket}`),
    );
    assert(!uploads.includes("big.bin"), uploads);
    const all = new TextDecoder().decode(
      await t.s3cmd("ls", "--recursive", `s3://${t.bucket}/`),
    );
    assert(!all.includes(".fts/uploads/"), all);
  },
);

s3Test("a resume of a different source starts afresh", async (t) => {
  const bytes = randomBytes(11 * MiB, 8);
  const first = await t.store.beginUpload("x.bin", {
    size: bytes.length,
    mtime: 1,
    resume: true,
  }) as S3Upload;
  await first.write(
    bytes.subarray(0, first.checkpointInterval),
    new Uint8Array([1]),
  );
  await first.abort(true);
  const changed = await t.store.beginUpload("x.bin", {
    size: bytes.length,
    mtime: 2,
    resume: true,
  });
  assertEquals(changed.offset, 0);
  await changed.abort(false);
});

s3Test(
  "abort without keep leaves no object and no unfinished upload",
  async (t) => {
    const bytes = randomBytes(8 * MiB, 9);
    const upload = await t.store.beginUpload("gone.bin", {
      size: bytes.length,
      mtime: 0,
      resume: false,
    });
    await upload.write(bytes.subarray(0, 6 * MiB));
    await upload.abort(false);
    await assertRejects(() => t.store.stat("gone.bin"), NotFoundError);
    const uploads = new TextDecoder().decode(
      await t.s3cmd("multipart", `s3://${t.bucket}`),
    );
    assert(!uploads.includes("gone.bin"), uploads);
  },
);

s3Test(
  "sweep aborts fts's old unfinished uploads and keeps young ones",
  async (t) => {
    const bytes = randomBytes(6 * MiB, 10);
    for (const name of ["a.bin", "b.bin"]) {
      const upload = await t.store.beginUpload(name, {
        size: 11 * MiB,
        mtime: 0,
        resume: false,
      });
      await upload.write(bytes);
      await upload.abort(true);
    }
    assertEquals(await t.store.sweep(60 * 60 * 1000), 0);
    assertEquals(await t.store.sweep(0), 2);
    const uploads = new TextDecoder().decode(
      await t.s3cmd("multipart", `s3://${t.bucket}`),
    );
    assert(!uploads.includes(".bin"), uploads);
  },
);

s3Test(
  "an upload of unknown size becomes multipart once it outgrows one part",
  async (t) => {
    const bytes = randomBytes(7 * MiB + 1, 11);
    const upload = await t.store.beginUpload("pipe.bin", {
      size: null,
      mtime: 0,
      resume: false,
    });
    assertEquals(upload.resumable, false);
    await writeFrom(upload, bytes);
    await upload.commit({ mode: null, mtime: 0, noClobber: false });
    await assertHolds(t.store, "pipe.bin", bytes);
  },
);

s3Test(
  "commit with noClobber refuses an existing object and keeps it",
  async (t) => {
    const old = randomBytes(10, 12);
    await putBytes(t.store, "keep.bin", old);
    const upload = await t.store.beginUpload("keep.bin", {
      size: 3,
      mtime: 0,
      resume: false,
    });
    await upload.write(new Uint8Array([1, 2, 3]));
    await assertRejects(
      () => upload.commit({ mode: null, mtime: 0, noClobber: true }),
      AlreadyExistsError,
    );
    await upload.abort(false);
    assertEquals(await readAll(await t.store.open("keep.bin")), old);
  },
);

s3Test(
  "remove refuses a non-empty folder, removes recursively, and the parent folder stays",
  async (t) => {
    await t.store.mkdirp("p/q");
    for (let i = 0; i < 5; i++) {
      await putBytes(t.store, `p/q/${i}.txt`, randomBytes(10, i));
    }
    await assertRejects(
      () => t.store.remove("p/q"),
      WrongTypeError,
      "not empty",
    );
    await t.store.remove("p/q/0.txt");
    await t.store.remove("p/q", { recursive: true });
    assertEquals(await t.store.list("p"), []);
    await assertRejects(() => t.store.remove("p/q"), NotFoundError);
    await assertRejects(() => t.store.remove(""), InvalidPathError);
  },
);

s3Test(
  "move and copy of a file and of a folder keep contents and metadata; noClobber refuses",
  async (t) => {
    const bytes = randomBytes(1234, 13);
    await t.store.mkdirp("src/sub");
    await putBytes(t.store, "src/sub/f.bin", bytes, 1_600_000_000_000, 0o600);
    await putBytes(t.store, "src/g.bin", bytes);
    await t.store.copy("src", "copy");
    await t.store.move("src/g.bin", "moved.bin");
    await assertRejects(() => t.store.stat("src/g.bin"), NotFoundError);
    await assertRejects(
      () => t.store.move("moved.bin", "copy/g.bin", { noClobber: true }),
      AlreadyExistsError,
    );
    await t.store.move("src", "dst");
    await assertRejects(() => t.store.stat("src"), NotFoundError);
    for (const path of ["copy/sub/f.bin", "dst/sub/f.bin"]) {
      const entry = await t.store.stat(path);
      assertEquals([entry.size, entry.mtime, entry.mode], [
        1234,
        1_600_000_000_000,
        0o600,
      ], path);
      assertEquals(await readAll(await t.store.open(path)), bytes);
    }
    await assertRejects(
      () => t.store.move("dst", "dst/inside"),
      InvalidPathError,
    );
    await assertRejects(() => t.store.move("dst", "nowhere/x"), NotFoundError);
  },
);

s3Test(
  "objects above the single-copy limit move and change metadata by multipart copy",
  async (t) => {
    const bytes = randomBytes(12 * MiB + 9, 15);
    await putBytes(t.store, "big.bin", bytes, 1_600_000_000_000, 0o600);
    await t.store.move("big.bin", "moved.bin");
    await t.store.setMeta("moved.bin", { mtime: 1_610_000_000_000 });
    await assertRejects(() => t.store.stat("big.bin"), NotFoundError);
    const entry = await t.store.stat("moved.bin");
    assertEquals(
      [entry.size, entry.mtime, entry.mode],
      [bytes.length, 1_610_000_000_000, 0o600],
    );
    const head = await t.store.client.send({
      method: "HEAD",
      key: "root/moved.bin",
    });
    assert(head.headers.get("etag")?.endsWith('-3"'), "copied in 3 parts");
    await assertHolds(t.store, "moved.bin", bytes);
  },
  { copy: { singleLimit: 6 * MiB, partSize: 5 * MiB, concurrency: 2 } },
);

s3Test(
  "list and walk of files fts wrote need no HEAD per file; a file another tool replaced is asked once",
  async (t) => {
    await t.store.mkdirp("many/sub");
    for (let i = 0; i < 12; i++) {
      await putBytes(
        t.store,
        `many/${i}.txt`,
        randomBytes(10 + i, i),
        1_000_000 + i,
        0o600,
      );
    }
    await putBytes(
      t.store,
      "many/sub/deep.txt",
      randomBytes(7),
      2_000_000,
      0o640,
    );
    await t.store.setMeta("many/0.txt", { mtime: 3_000_000 });
    await t.store.move("many/1.txt", "many/sub/moved.txt");
    const file = await temp(randomBytes(99, 50));
    try {
      await t.s3cmd("put", file, `s3://${t.bucket}/root/many/2.txt`);
    } finally {
      await Deno.remove(file);
    }
    await t.store.flush(); // replaced stamps are cleaned up in the background
    const heads = t.store.client.sent.HEAD;
    const listed = await t.store.list("many");
    // One HEAD for the file s3cmd replaced, one for the folder's marker.
    assertEquals(t.store.client.sent.HEAD - heads, 2);
    const byName = new Map(listed.map((e) => [e.name, e]));
    assertEquals(byName.get("0.txt")?.mtime, 3_000_000);
    assertEquals([byName.get("3.txt")?.mtime, byName.get("3.txt")?.mode], [
      1_000_003,
      0o600,
    ]);
    assertEquals(byName.get("2.txt")?.size, 99);
    assert(!byName.has("1.txt"));
    const walkHeads = t.store.client.sent.HEAD;
    const items: WalkItem[] = [];
    for await (const item of t.store.walk("many")) items.push(item);
    // The same two, and one for the walked folder's own marker.
    assertEquals(t.store.client.sent.HEAD - walkHeads, 3);
    const moved = items.find((i) => i.path === "sub/moved.txt")?.entry;
    assertEquals([moved?.mtime, moved?.mode], [1_000_001, 0o600]);
    assertEquals(
      items.find((i) => i.path === "sub/deep.txt")?.entry?.mtime,
      2_000_000,
    );
  },
);

s3Test(
  "replaced stamps of many files of a folder go in one listing, and the newest stamps stay",
  async (t) => {
    await t.store.mkdirp("batch");
    const names = Array.from({ length: 12 }, (_, i) => `${i}.txt`);
    for (const [i, name] of names.entries()) {
      await putBytes(t.store, `batch/${name}`, randomBytes(20, i), 1_000_000);
    }
    await t.store.flush();
    const gets = t.store.client.sent.GET;
    // Same content, new times: each file gets a second stamp, same ETag.
    await Promise.all(
      names.map((name) =>
        t.store.setMeta(`batch/${name}`, { mtime: 5_000_000 })
      ),
    );
    await t.store.flush();
    assertEquals(t.store.client.sent.GET - gets, 1, "one listing for all");
    const stamps: string[] = [];
    for await (
      const page of listObjects(t.store.client, "root/.fts/stamps/batch/")
    ) stamps.push(...page.objects.map((o) => o.key.split("/").pop()!));
    assertEquals(stamps.length, names.length, stamps.join(" "));
    assert(
      stamps.every((key) => key.endsWith("~5000000~644")),
      stamps.join(" "),
    );
    const heads = t.store.client.sent.HEAD;
    const listed = await t.store.list("batch");
    assertEquals(listed.map((e) => e.mtime), names.map(() => 5_000_000));
    // No HEAD: every file's time came from its stamp.
    assertEquals(t.store.client.sent.HEAD - heads, 0);
  },
);

s3Test("two stores on one bucket see each other's files at once", async (t) => {
  const other = await t.reopen();
  const bytes = randomBytes(6 * MiB + 1, 30);
  await putBytes(t.store, "shared.bin", bytes, 1_234_000);
  const seen = await other.stat("shared.bin");
  assertEquals([seen.size, seen.mtime], [bytes.length, 1_234_000]);
  assertEquals(await readAll(await other.open("shared.bin")), bytes);
  await other.mkdirp("from-other/full");
  await putBytes(other, "from-other/full/x", randomBytes(5));
  assertEquals((await t.store.list("from-other")).map((e) => e.name), ["full"]);
  await t.store.mkdirp("empty");
  await assertRejects(
    () => t.store.move("empty", "from-other"),
    WrongTypeError,
    "not empty",
  );
  await other.remove("shared.bin");
  await assertRejects(() => t.store.stat("shared.bin"), NotFoundError);
});

s3Test(
  "setMeta changes the time and mode of a file and of a folder",
  async (t) => {
    await t.store.mkdirp("d");
    await putBytes(t.store, "d/f", randomBytes(100, 14), 1000, 0o644);
    await t.store.setMeta("d/f", { mtime: 1_650_000_000_000, mode: 0o600 });
    await t.store.setMeta("d", { mtime: 1_640_000_000_000, mode: 0o750 });
    const file = await t.store.stat("d/f");
    assertEquals([file.size, file.mtime, file.mode], [
      100,
      1_650_000_000_000,
      0o600,
    ]);
    const folder = (await t.store.list("")).find((e) => e.name === "d")!;
    assertEquals([folder.mtime, folder.mode], [1_640_000_000_000, 0o750]);
  },
);

s3Test("walk yields the tree depth first with names sorted", async (t) => {
  await t.store.mkdirp("w/empty");
  await putBytes(t.store, "w/b.txt", randomBytes(3), 2000);
  await t.store.mkdirp("w/a");
  await putBytes(t.store, "w/a/x.txt", randomBytes(4), 3000);
  await putBytes(t.store, "w/a.txt", randomBytes(5), 4000);
  const items: WalkItem[] = [];
  for await (const item of t.store.walk("w")) items.push(item);
  assertEquals(
    items.map((i) => [i.path, i.entry?.type, i.entry?.size]),
    [
      ["a", "dir", 0],
      ["a/x.txt", "file", 4],
      ["a.txt", "file", 5],
      ["b.txt", "file", 3],
      ["empty", "dir", 0],
    ],
  );
  assertEquals(items[1].entry?.mtime, 3000);
});

s3Test(
  "keys other tools made with .. or // are never shown as names, walk reports them, no path reaches them",
  async (t) => {
    const file = await temp(new TextEncoder().encode("outside?"));
    try {
      for (
        const key of [
          "root/t/../escape",
          "root/t//double",
          "root/t/ok",
          "outside",
        ]
      ) {
        await t.s3cmd("put", file, `s3://${t.bucket}/${key}`);
      }
    } finally {
      await Deno.remove(file);
    }
    const names = (await t.store.list("t")).map((e: Entry) => e.name);
    assertEquals(names, ["ok"]);
    const items: WalkItem[] = [];
    for await (const item of t.store.walk("t")) items.push(item);
    assertEquals(items.filter((i) => i.entry).map((i) => i.path), ["ok"]);
    const refused = items.filter((i) => i.error).map((i) => i.path).sort();
    // "t/../escape" and "t//double": reported by their keys, skipped.
    assertEquals(refused, ["../escape", "/double"]);
    for (const item of items.filter((i) => i.error)) {
      assert(item.error instanceof InvalidPathError, String(item.error));
    }
    // The root listing never shows what lies beside the prefix.
    assertEquals((await t.store.list("")).map((e) => e.name), ["t"]);
    await assertRejects(() => t.store.stat("../outside"), InvalidPathError);
    await assertRejects(() => t.store.stat(".fts/uploads"), InvalidPathError);
  },
);

Deno.test({
  name:
    "s3 store: bad credentials fail opening with one clear line that holds no secret",
  ignore: noGateway,
}, async () => {
  const bucket = await makeTestBucket(env!);
  try {
    const secret = "wrong-secret-0123456789abcdef";
    const error = await assertRejects(
      () =>
        S3Store.open(`s3://${bucket.bucket}/root`, {
          env: { ...awsEnv(env!), AWS_SECRET_ACCESS_KEY: secret },
        }),
      IoError,
    );
    assert(
      error.message.includes("refused the server's credentials"),
      error.message,
    );
    assert(
      !error.message.includes(secret) && !error.message.includes("\n"),
      error.message,
    );
  } finally {
    await bucket.cleanup();
  }
});

Deno.test({
  name:
    "s3 store: a missing bucket fails opening with one clear line naming it",
  ignore: noGateway,
}, async () => {
  const error = await assertRejects(
    () => S3Store.open("s3://fts-no-such-bucket-here/x", { env: awsEnv(env!) }),
    NotFoundError,
  );
  assertEquals(
    error.message,
    `the bucket "fts-no-such-bucket-here" does not exist at ${
      new URL(env!.endpoint).origin
    }`,
  );
});

Deno.test("s3 store: an unreachable store is retried, then one IoError line", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  // "3 attempts" in the message proves the retries; no clock is asserted.
  const error = await assertRejects(
    () =>
      S3Store.open("s3://bucket/prefix", {
        env: {
          AWS_ACCESS_KEY_ID: "AK",
          AWS_SECRET_ACCESS_KEY: "very-secret",
          AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
        },
        retry: {
          attempts: 3,
          baseDelayMs: 20,
          maxDelayMs: 50,
          timeoutMs: 2000,
        },
      }),
    IoError,
  );
  assertEquals(
    error.message,
    `the object store at http://127.0.0.1:${port} cannot be reached (the connection failed, 3 attempts)`,
  );
});

Deno.test("s3 config: path style with an endpoint, virtual hosts on AWS, a clean prefix", () => {
  const base = { AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "SK" };
  const custom = s3ConfigFrom("s3://bkt/one//two/", {
    env: { ...base, AWS_ENDPOINT_URL: "http://127.0.0.1:7480/" },
  });
  assertEquals(
    [custom.endpoint, custom.pathStyle, custom.prefix, custom.region],
    ["http://127.0.0.1:7480", true, "one/two/", "us-east-1"],
  );
  const aws = s3ConfigFrom("s3://bkt", {
    env: { ...base, AWS_REGION: "eu-west-1" },
  });
  assertEquals(
    [aws.endpoint, aws.pathStyle, aws.prefix],
    ["https://s3.eu-west-1.amazonaws.com", false, ""],
  );
  assertEquals(
    s3ConfigFrom("s3://bkt", { env: base, pathStyle: true }).pathStyle,
    true,
  );
  let error = assertThrowsFts(() =>
    s3ConfigFrom("s3://bkt/../x", { env: base })
  );
  assert(error instanceof InvalidPathError);
  error = assertThrowsFts(() => s3ConfigFrom("s3://bkt", { env: {} }));
  assertEquals(
    error.message,
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to serve s3://",
  );
});

function assertThrowsFts(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

/** The gateway's own folder, when the tests may restart it (.ci/s3_env sets it). */
const gatewayDir = Deno.env.get("FTS_TEST_S3_DIR");
/** The restart tests also need the gateway's folder (.ci/s3_env sets it). */
const noRestartableGateway = noGateway ||
  prerequisite(
    "FTS_TEST_S3_DIR, a gateway the tests may restart",
    !!gatewayDir,
  );

/** Runs one of the gateway scripts in tests/s3 on `dir`; throws with its stderr. */
async function gatewayScript(
  script: string,
  dir: string | undefined,
): Promise<void> {
  if (!dir) throw new Error("FTS_TEST_S3_DIR is not set");
  const output = await new Deno.Command("bash", {
    args: [`tests/s3/${script}`, dir],
    env: { FTS_S3_TIMEOUT: "120" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert(output.success, new TextDecoder().decode(output.stderr));
}

Deno.test({
  ignore: noRestartableGateway,
  name:
    "s3 store: kill -9 of radosgw mid-upload gives one IoError line, and after its restart the upload resumes intact",
  sanitizeResources: false,
  async fn() {
    const t = await makeTestBucket(env!, "root", {
      tuning: TUNING,
      retry: {
        attempts: 3,
        baseDelayMs: 100,
        maxDelayMs: 300,
        timeoutMs: 3000,
      },
    });
    let up = true;
    try {
      const bytes = randomBytes(17 * MiB, 21);
      const options = { size: bytes.length, mtime: 42_000, resume: true };
      const first = await t.store.beginUpload(
        "crash.bin",
        options,
      ) as S3Upload;
      const part = first.checkpointInterval;
      await first.write(bytes.subarray(0, part), new Uint8Array([1]));
      await first.write(bytes.subarray(part, 2 * part), new Uint8Array([2]));
      // Parts are sent in the background: wait until both (and their hash
      // states) are stored, as a server that ran a while longer would.
      for (let i = 0; i < 100; i++) {
        const saved: string[] = [];
        for await (
          const page of listObjects(t.store.client, "root/.fts/uploads/")
        ) saved.push(...page.objects.map((o) => o.key.split("/").pop()!));
        if (saved.includes("1") && saved.includes("2")) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await gatewayScript("kill_radosgw.sh", gatewayDir);
      up = false;
      const error = await assertRejects(async () => {
        await first.write(bytes.subarray(2 * part), new Uint8Array([3]));
        await first.commit({ mode: null, mtime: 42_000, noClobber: false });
      }, IoError);
      assert(!error.message.includes("\n"), error.message);
      assert(error.message.includes("cannot be reached"), error.message);
      await first.abort(true).catch(() => {});
      await gatewayScript("start_radosgw.sh", gatewayDir);
      up = true;
      await assertRejects(() => t.store.stat("crash.bin"), NotFoundError);
      const second = await (await t.reopen()).beginUpload(
        "crash.bin",
        options,
      ) as S3Upload;
      assertEquals(second.offset, 2 * part);
      assertEquals(second.hashState?.[0], 2);
      await second.write(bytes.subarray(second.offset));
      await second.commit({ mode: null, mtime: 42_000, noClobber: false });
      await assertHolds(t.store, "crash.bin", bytes);
    } finally {
      if (!up) await gatewayScript("start_radosgw.sh", gatewayDir);
      await t.cleanup();
    }
  },
});

Deno.test({
  ignore: noRestartableGateway,
  name:
    "s3 store: a download goes on across a kill -9 and restart of radosgw, from where it stopped",
  sanitizeResources: false,
  async fn() {
    const t = await makeTestBucket(env!, "root", {
      tuning: TUNING,
      retry: {
        attempts: 12,
        baseDelayMs: 200,
        maxDelayMs: 1000,
        timeoutMs: 5000,
      },
    });
    let up = true;
    try {
      const bytes = randomBytes(96 * MiB, 31);
      await putBytes(t.store, "long.bin", bytes);
      const handle = await t.store.open("long.bin");
      const buffer = new Uint8Array(MiB);
      const first = await handle.read(buffer) ?? 0;
      assert(first > 0);
      const head = buffer.slice(0, first);
      const gets = t.store.client.sent.GET;
      await gatewayScript("kill_radosgw.sh", gatewayDir);
      up = false;
      // Restart while the reader is retrying.
      const restart = gatewayScript("start_radosgw.sh", gatewayDir);
      const rest = await readAll(handle);
      await restart;
      up = true;
      assert(t.store.client.sent.GET > gets, "the body was asked for again");
      const all = new Uint8Array(head.length + rest.length);
      all.set(head);
      all.set(rest, head.length);
      assertEquals(await sha256(all), await sha256(bytes));
    } finally {
      if (!up) await gatewayScript("start_radosgw.sh", gatewayDir);
      await t.cleanup();
    }
  },
});
