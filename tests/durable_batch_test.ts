/**
 * The durable batch commits staged files intact both ways: with one
 * `syncfs` per batch where libc is reachable, and file by file without
 * (no sync folders given, as where FFI cannot run or `noLibc` is set).
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { DurableBatch } from "../transfer/durable/durable_batch.ts";
import { FileSystemSync } from "../transfer/durable/file_system_sync.ts";

const FILES = 600; // more than two batches of 256

/**
 * Modes the files get in turn: some the umask leaves whole (given at
 * creation), some it would cut (group/other write: set by `chmod` at the
 * commit), a read-only one, and none (the default is left).
 */
const MODES = [0o640, 0o666, 0o444, 0o777, 0o600, null];

/** Whether `syncfs` can serve `folders` here (Linux 5.8+, libc via FFI). */
function syncfsServes(folders: string[]): boolean {
  const sync = FileSystemSync.open(folders);
  sync?.close();
  return sync !== null;
}

async function commitTree(useSyncfs: boolean): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "fts-durable-batch-" });
  try {
    const lanes = [join(root, "stage-0"), join(root, "stage-1")];
    for (const lane of lanes) await Deno.mkdir(lane);
    await Deno.mkdir(join(root, "out"));
    const settled: string[] = [];
    const batch = new DurableBatch({
      writers: lanes.length,
      syncFolders: useSyncfs ? lanes : undefined,
      mapError: (error) => {
        throw error;
      },
      onSettled: (done) => {
        for (const { item, error } of done) {
          assertEquals(error, undefined);
          settled.push(item.name);
        }
      },
    });
    const mtime = Date.UTC(2020, 0, 2, 3, 4, 5);
    for (let i = 0; i < FILES; i++) {
      const bytes = new TextEncoder().encode(`file ${i}\n`.repeat(i % 7 + 1));
      await batch.stage(
        {
          name: `f${i}`,
          file: null,
          staged: join(lanes[i % 2], String(i)),
          target: join(root, "out", `f${i}`),
          mode: MODES[i % MODES.length],
          mtime,
          bytes: bytes.byteLength,
        },
        [bytes],
        i % 2,
      );
    }
    await batch.finish();
    assertEquals(settled.length, FILES);
    // One syncfs path where it can run, none when no folders were given.
    assertEquals(
      batch.fileSystemSyncs > 0,
      useSyncfs && syncfsServes(lanes),
    );
    for (let i = 0; i < FILES; i++) {
      const path = join(root, "out", `f${i}`);
      assertEquals(
        await Deno.readTextFile(path),
        `file ${i}\n`.repeat(i % 7 + 1),
      );
      const info = await Deno.stat(path);
      const mode = MODES[i % MODES.length];
      if (mode !== null) assertEquals(info.mode! & 0o777, mode);
      assertEquals(info.mtime?.getTime(), mtime);
    }
    for (const lane of lanes) assertEquals([...Deno.readDirSync(lane)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a batch made durable with one syncfs commits every file intact, with its mode and time", async () => {
  assertEquals(
    syncfsServes([Deno.cwd()]),
    Deno.build.os === "linux",
  );
  await commitTree(true);
});

Deno.test("without sync folders no syncfs runs and every file is committed intact, with its mode and time", async () => {
  await commitTree(false);
});
