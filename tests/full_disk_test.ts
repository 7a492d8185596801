/**
 * A full disk on the server, for real: the served folder sits on a tiny
 * tmpfs the test mounts (root only; reported as ignored otherwise). A put
 * that runs out of space fails with "the server's disk is full", frees its
 * staged bytes at once, and leaves the old file intact; the next put works.
 * `--partial-limit` caps the staging area the same way.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import type { Reporter } from "../client/reporter.ts";
import { type TransferOptions, upload } from "../client/upload.ts";
import { DiskFullError } from "../protocol/mod.ts";
import { FtsServer } from "../server/server.ts";
import { randomBytes } from "./helpers/cli.ts";
import { canMountTmpfs, prerequisite } from "./helpers/prerequisite.ts";

const OPTIONS: TransferOptions = {
  resume: true,
  noClobber: false,
  verify: true,
};
const quiet: Reporter = { info: () => {}, progress: () => null };

/** Mounts a tmpfs of `size` at a new folder, or returns null when it cannot. */
async function mountTiny(size: string): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "fts-full-" });
  const { success } = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stderr: "null",
    stdout: "null",
  }).output().catch(() => ({ success: false }));
  if (success) return dir;
  await Deno.remove(dir);
  return null;
}

async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stderr: "null" }).output()
    .catch(() => {});
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

async function stagedBytes(root: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(join(root, ".fts", "partial"))) {
      total += (await Deno.lstat(join(root, ".fts", "partial", entry.name)))
        .size;
    }
  } catch {
    // No staging folder yet.
  }
  return total;
}

async function withServer(
  options: { partialLimit?: number; disk?: string },
  fn: (
    ctx: { root: string; work: string; open: () => Promise<Connection> },
  ) => Promise<void>,
): Promise<void> {
  const mounted = options.disk ? await mountTiny(options.disk) : null;
  if (options.disk && !mounted) throw new Error("cannot mount a tmpfs");
  const root = mounted ?? await Deno.makeTempDir({ prefix: "fts-limit-" });
  const work = await Deno.makeTempDir({ prefix: "fts-full-work-" });
  const server = await FtsServer.start({
    root,
    hostname: "127.0.0.1",
    port: 0,
    log: null,
    partialLimit: options.partialLimit,
  });
  const opened: Connection[] = [];
  try {
    await fn({
      root,
      work,
      open: async () => {
        const c = await Connection.open({
          hostname: "127.0.0.1",
          port: server.addr.port,
        });
        opened.push(c);
        return c;
      },
    });
  } finally {
    for (const c of opened) c.abort();
    await server.shutdown(500);
    await Deno.remove(work, { recursive: true });
    if (mounted) await unmount(mounted);
    else await Deno.remove(root, { recursive: true });
  }
}

Deno.test({
  name:
    "put on a full server disk says so, frees its staged bytes and keeps the old file (needs root for a tmpfs)",
  ignore: prerequisite("root, to mount a tmpfs", canMountTmpfs()),
}, async () => {
  await withServer({ disk: "4m" }, async ({ root, work, open }) => {
    const c = await open();
    const old = randomBytes(100_000);
    await Deno.writeFile(join(work, "old.bin"), old);
    await upload(c, join(work, "old.bin"), "big.bin", OPTIONS, quiet);
    await Deno.writeFile(join(work, "big.bin"), randomBytes(6 * 1024 * 1024));
    const error = await assertRejects(() =>
      upload(c, join(work, "big.bin"), "big.bin", OPTIONS, quiet)
    );
    assertInstanceOf(error, DiskFullError);
    assertStringIncludes(String(error), "the server's disk is full");
    assertEquals(await Deno.readFile(join(root, "big.bin")), old);
    assertEquals(await stagedBytes(root), 0, "the failed upload's bytes stay");
    // The space is back: another client's put goes through.
    const small = randomBytes(200_000);
    await Deno.writeFile(join(work, "small.bin"), small);
    const c2 = await open();
    await upload(c2, join(work, "small.bin"), "small.bin", OPTIONS, quiet);
    assertEquals(await Deno.readFile(join(root, "small.bin")), small);
  });
});

Deno.test("--partial-limit refuses an upload larger than the staging area may hold", async () => {
  await withServer(
    { partialLimit: 1024 * 1024 },
    async ({ root, work, open }) => {
      const c = await open();
      await Deno.writeFile(join(work, "two.bin"), randomBytes(2 * 1024 * 1024));
      const error = await assertRejects(() =>
        upload(c, join(work, "two.bin"), "two.bin", OPTIONS, quiet)
      );
      assertInstanceOf(error, DiskFullError);
      assertStringIncludes(String(error), "--partial-limit");
      assertEquals(await stagedBytes(root), 0);
      const fits = randomBytes(512 * 1024);
      await Deno.writeFile(join(work, "fits.bin"), fits);
      await upload(c, join(work, "fits.bin"), "fits.bin", OPTIONS, quiet);
      assertEquals(await Deno.readFile(join(root, "fits.bin")), fits);
    },
  );
});

Deno.test("--partial-limit drops the oldest idle partials to make room", async () => {
  await withServer(
    { partialLimit: 1024 * 1024 },
    async ({ root, work, open }) => {
      const partial = join(root, ".fts", "partial");
      await Deno.mkdir(partial, { recursive: true });
      await Deno.writeFile(join(partial, "old-one"), new Uint8Array(700_000));
      await Deno.utime(join(partial, "old-one"), new Date(0), new Date(0));
      const c = await open();
      const data = randomBytes(600_000);
      await Deno.writeFile(join(work, "new.bin"), data);
      await upload(c, join(work, "new.bin"), "new.bin", OPTIONS, quiet);
      assertEquals(await Deno.readFile(join(root, "new.bin")), data);
      const left = await Deno.lstat(join(partial, "old-one")).catch(() => null);
      assert(left === null, "the oldest partial was dropped");
    },
  );
});
