/**
 * The staging area of partial uploads (`.fts/partial` under the root):
 * keyed by source, locked per upload, capped, swept after an age, and
 * reached only through the confined root, so a staging folder swapped for a
 * link to outside is never written to nor swept.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertFalse,
  assertNotEquals,
  assertRejects,
} from "@std/assert";
import { join } from "@std/path";
import { DiskFullError, InvalidPathError } from "../protocol/mod.ts";
import { LocalStore } from "../server/storage/local/local_store.ts";
import type { UploadStaging } from "../server/storage/local/upload_staging.ts";
import { type Jail, withJail } from "./helpers/storage_fixture.ts";

async function withStaging(
  test: (
    staging: UploadStaging,
    store: LocalStore,
    jail: Jail,
  ) => Promise<void>,
  partialLimit?: number,
): Promise<void> {
  await withJail(async (jail) => {
    const store = await LocalStore.open(jail.root, { partialLimit });
    try {
      await test(store.staging, store, jail);
    } finally {
      await store.close();
    }
    await jail.assertOutsideUntouched();
  });
}

const partialDir = (jail: Jail) => join(jail.root, ".fts", "partial");

/** Stages `bytes` bytes for `target` and leaves them for a resume. */
async function stage(
  store: LocalStore,
  target: string,
  bytes: number,
  size = bytes * 2,
  mtime = 5,
): Promise<void> {
  const upload = await store.beginUpload(target, { size, mtime, resume: true });
  await upload.write(new Uint8Array(bytes).fill(7));
  await upload.abort(true);
}

Deno.test("UploadStaging gives a second concurrent upload of the same source its own private file", async () => {
  await withStaging((staging) => {
    const first = staging.claim("a.bin", 100, 5);
    const second = staging.claim("a.bin", 100, 5);
    assert(first.resumable);
    assertFalse(second.resumable);
    assertNotEquals(first.key, second.key);
    first.release();
    second.release();
    const again = staging.claim("a.bin", 100, 5);
    assertEquals(again.key, first.key);
    assert(again.resumable);
    again.release();
    // A source of unknown size is never resumable.
    const piped = staging.claim("a.bin", null, 5);
    assertFalse(piped.resumable);
    piped.release();
    return Promise.resolve();
  });
});

Deno.test("an upload resumes only a partial of the same path, size and mtime", async () => {
  await withStaging(async (_staging, store) => {
    await stage(store, "a.bin", 40, 100, 5);
    const offsetOf = async (target: string, size: number, mtime: number) => {
      const upload = await store.beginUpload(target, {
        size,
        mtime,
        resume: true,
      });
      await upload.abort(true);
      return upload.offset;
    };
    assertEquals(await offsetOf("a.bin", 101, 5), 0);
    assertEquals(await offsetOf("a.bin", 100, 6), 0);
    assertEquals(await offsetOf("b.bin", 100, 5), 0);
    assertEquals(await offsetOf("./x/../a.bin", 100, 5), 40);
    // Asked not to resume, the partial is started afresh.
    const fresh = await store.beginUpload("a.bin", {
      size: 100,
      mtime: 5,
      resume: false,
    });
    assertEquals(fresh.offset, 0);
    await fresh.abort(true);
    assertEquals(await offsetOf("a.bin", 100, 5), 0);
  });
});

Deno.test("UploadStaging.sweep removes partials older than the TTL and orphaned tree folders, and keeps fresh and busy ones", async () => {
  await withStaging(async (staging, store, jail) => {
    const dir = partialDir(jail);
    await stage(store, "old.bin", 5);
    await stage(store, "busy.bin", 5);
    await stage(store, "fresh.bin", 5);
    const key = (target: string) => {
      const claim = staging.claim(target, 10, 5);
      claim.release();
      return claim.key;
    };
    const keys = ["old.bin", "busy.bin", "fresh.bin"].map(key);
    const busy = staging.claim("busy.bin", 10, 5);
    assertEquals(busy.key, keys[1]);
    await Deno.mkdir(join(dir, "tree-deadbeef-0"));
    await Deno.writeTextFile(join(dir, "tree-deadbeef-0", "1"), "x");
    const release = staging.lock("tree-cafecafe-0");
    await Deno.mkdir(join(dir, "tree-cafecafe-0"));
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    await Deno.utime(join(dir, keys[0]), dayAgo, dayAgo);
    await Deno.utime(join(dir, busy.key), dayAgo, dayAgo);
    assertEquals(await staging.sweep(24 * 3600_000), 2);
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assertEquals(
      left,
      [busy.key, keys[2], "tree-cafecafe-0"].sort(),
    );
    busy.release();
    release();
  });
});

Deno.test("UploadStaging.makeRoom removes the oldest idle partials under --partial-limit and refuses what cannot fit", async () => {
  await withStaging(async (staging, store, jail) => {
    const dir = partialDir(jail);
    await stage(store, "oldest.bin", 400, 1000);
    await stage(store, "newer.bin", 400, 1000);
    const keyOf = (target: string) => {
      const claim = staging.claim(target, 1000, 5);
      claim.release();
      return claim.key;
    };
    const long = new Date(Date.now() - 3600_000);
    await Deno.utime(join(dir, keyOf("oldest.bin")), long, long);
    // 800 staged, 2000 allowed: 1300 more needs the oldest gone.
    await staging.makeRoom(1300);
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assertEquals(left, [keyOf("newer.bin")]);
    await assertRejects(() => staging.makeRoom(2001), DiskFullError);
    // The upload itself is refused before it stages a byte.
    await assertRejects(
      () =>
        store.beginUpload("huge.bin", { size: 5000, mtime: 1, resume: true }),
      DiskFullError,
      "--partial-limit",
    );
  }, 2000);
});

Deno.test("a staging folder swapped for a link to outside is neither written to nor swept", async () => {
  await withStaging(async (staging, store, jail) => {
    await stage(store, "a.bin", 5);
    // A local user replaces .fts/partial with a link to a folder outside.
    await Deno.remove(partialDir(jail), { recursive: true });
    await Deno.symlink(join(jail.outside, "canary"), partialDir(jail));
    await assertRejects(
      () => store.beginUpload("b.bin", { size: 10, mtime: 5, resume: true }),
      InvalidPathError,
      "outside",
    );
    await assertRejects(() => staging.sweep(0, Date.now() + 1e9));
    await assertRejects(() => staging.makeRoom(1));
    // The same with .fts itself.
    await Deno.remove(partialDir(jail));
    await Deno.remove(join(jail.root, ".fts"), { recursive: true });
    await Deno.symlink(jail.outside, join(jail.root, ".fts"));
    await assertRejects(
      () => store.beginUpload("c.bin", { size: 10, mtime: 5, resume: true }),
      InvalidPathError,
      "outside",
    );
    await assertRejects(() => staging.sweep(0, Date.now() + 1e9));
    assertFalse(
      await Deno.lstat(join(jail.outside, "partial")).then(
        () => true,
        () => false,
      ),
    );
  }, 1000);
});
