/**
 * The staging area of partial uploads: keyed by source, locked per upload,
 * and swept after an age.
 *
 * @module
 */

import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { join } from "@std/path";
import { UploadStaging } from "../server/upload_staging.ts";

async function withStaging(fn: (staging: UploadStaging) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "fts-staging-" });
  try {
    await fn(new UploadStaging(root));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("UploadStaging gives a second concurrent upload of the same source its own private file", async () => {
  await withStaging(async (staging) => {
    const first = await staging.claim("a.bin", 100, 5, true);
    const second = await staging.claim("a.bin", 100, 5, true);
    assert(first.resumable);
    assert(!second.resumable);
    assertNotEquals(first.path, second.path);
    first.release();
    second.release();
    const again = await staging.claim("a.bin", 100, 5, true);
    assertEquals(again.path, first.path);
    again.release();
  });
});

Deno.test("UploadStaging resumes only a partial of the same path, size and mtime", async () => {
  await withStaging(async (staging) => {
    const first = await staging.claim("a.bin", 100, 5, true);
    await Deno.writeFile(first.path, new Uint8Array(40));
    first.release();
    assertEquals((await staging.claim("a.bin", 100, 5, true)).existing, 40);
    assertEquals((await staging.claim("a.bin", 101, 5, true)).existing, 0);
    assertEquals((await staging.claim("a.bin", 100, 6, true)).existing, 0);
    assertEquals((await staging.claim("b.bin", 100, 5, true)).existing, 0);
  });
});

Deno.test("UploadStaging.sweep removes partials older than the TTL and keeps fresh and busy ones", async () => {
  await withStaging(async (staging) => {
    const old = await staging.claim("old.bin", 10, 1, true);
    await Deno.writeFile(old.path, new Uint8Array(5));
    old.release();
    const busy = await staging.claim("busy.bin", 10, 1, true);
    await Deno.writeFile(busy.path, new Uint8Array(5));
    const fresh = await staging.claim("fresh.bin", 10, 1, true);
    await Deno.writeFile(fresh.path, new Uint8Array(5));
    fresh.release();
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    await Deno.utime(old.path, dayAgo, dayAgo);
    await Deno.utime(busy.path, dayAgo, dayAgo);
    assertEquals(await staging.sweep(24 * 3600_000), 1);
    const left = [...Deno.readDirSync(staging.dir)].map((e) =>
      join(staging.dir, e.name)
    );
    assertEquals(left.sort(), [busy.path, fresh.path].sort());
    busy.release();
  });
});
