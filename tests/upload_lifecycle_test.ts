/**
 * The one upload lifecycle every front-end uses (`UploadLifecycle`), on a
 * real local store: whatever way the front-end's part ends without a commit,
 * the upload is aborted, its staged bytes kept for a resume only when asked,
 * and nothing appears under the target; once committed, a later failure does
 * not undo the commit.
 */

import { assertEquals, assertRejects } from "@std/assert";
import { NotFoundError } from "../protocol/errors.ts";
import { openStore } from "../server/storage/open.ts";
import type { Store } from "../server/storage/store.ts";
import { UploadLifecycle } from "../server/storage/upload_lifecycle.ts";

const SOURCE = { size: 10, mtime: 1_000, resume: true };

async function withStore(test: (store: Store) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fts-lifecycle-" });
  const store = await openStore(dir);
  try {
    await test(store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an upload whose work throws is aborted, its staged bytes kept for a resume", async () => {
  await withStore(async (store) => {
    const upload = await UploadLifecycle.begin(store, "a.bin", SOURCE);
    await assertRejects(
      () =>
        upload.run(async () => {
          await upload.write(new Uint8Array(4).fill(1));
          throw new Error("the client left");
        }),
      Error,
      "the client left",
    );
    assertEquals(upload.ended, true);
    await assertRejects(() => store.stat("a.bin"), NotFoundError);
    const again = await UploadLifecycle.begin(store, "a.bin", SOURCE);
    assertEquals(again.offset, 4);
    await again.abort(false);
  });
});

Deno.test("an upload found bad is aborted without keeping its staged bytes", async () => {
  await withStore(async (store) => {
    const upload = await UploadLifecycle.begin(store, "a.bin", SOURCE);
    await assertRejects(() =>
      upload.run(async () => {
        await upload.write(new Uint8Array(4).fill(1));
        upload.keep = false;
        throw new Error("checksum mismatch");
      })
    );
    const again = await UploadLifecycle.begin(store, "a.bin", SOURCE);
    assertEquals(again.offset, 0);
    await again.abort(false);
  });
});

Deno.test("an upload whose work returns without a commit leaves nothing under the target", async () => {
  await withStore(async (store) => {
    const upload = await UploadLifecycle.begin(store, "a.bin", SOURCE, false);
    const result = await upload.run(async () => {
      await upload.write(new Uint8Array(4).fill(1));
      return "partial";
    });
    assertEquals(result, "partial");
    assertEquals(upload.ended, true);
    await assertRejects(() => store.stat("a.bin"), NotFoundError);
  });
});

Deno.test("a committed upload stays committed when the work fails afterwards", async () => {
  await withStore(async (store) => {
    const upload = await UploadLifecycle.begin(store, "a.bin", SOURCE);
    await assertRejects(() =>
      upload.run(async () => {
        await upload.restartAt(0);
        await upload.write(new Uint8Array(10).fill(2));
        await upload.commit({ mode: null, mtime: 1_000, noClobber: false });
        throw new Error("the reply could not be sent");
      })
    );
    assertEquals((await store.stat("a.bin")).size, 10);
  });
});
