/**
 * Delta transfers inside `put -r` and `get -r`: the changed files of a
 * tree go as deltas against the other side's versions, over one connection
 * or several, and the tree arrives exactly; `--whole-file` sends them whole.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import type { Connection } from "../client/connection.ts";
import type { TreeOptions } from "../client/tree_progress.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { downloadTree } from "../client/tree_download.ts";
import { randomBytes } from "./helpers/cli.ts";
import { withServerConnections } from "./helpers/server.ts";
import { recorder } from "./helpers/recorder.ts";

const MiB = 1024 * 1024;
const OPTIONS: TreeOptions = { resume: true, noClobber: false, verify: true };

/** A tree of two large files, a small one and a sub-folder. */
async function makeTree(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {
    "big.bin": randomBytes(6 * MiB),
    "sub/other.bin": randomBytes(3 * MiB),
    "small.txt": new TextEncoder().encode("small\n"),
  };
  await Deno.mkdir(join(dir, "sub"), { recursive: true });
  for (const [path, data] of Object.entries(files)) {
    await Deno.writeFile(join(dir, path), data);
  }
  return files;
}

/** `data` with a few 4 KiB edits and 64 KiB appended. */
function changed(data: Uint8Array): Uint8Array {
  const next = new Uint8Array(data.byteLength + 65536);
  next.set(data);
  next.set(randomBytes(65536), data.byteLength);
  for (let i = 0; i < 5; i++) {
    next.set(randomBytes(4096), Math.floor((i + 0.5) * data.byteLength / 5));
  }
  return next;
}

async function withTree(
  fn: (
    ctx: {
      root: string;
      source: string;
      files: Record<string, Uint8Array>;
      open: () => Promise<Connection>;
    },
  ) => Promise<void>,
): Promise<void> {
  await withServerConnections(async ({ root, work, open }) => {
    const source = join(work, "tree");
    const files = await makeTree(source);
    await fn({ root, source, files, open });
  });
}

/** Changes both large files locally; returns their new contents. */
async function changeLarge(
  source: string,
  files: Record<string, Uint8Array>,
): Promise<Record<string, Uint8Array>> {
  const next = { ...files };
  for (const path of ["big.bin", "sub/other.bin"]) {
    next[path] = changed(files[path]);
    await Deno.writeFile(join(source, path), next[path]);
  }
  return next;
}

async function expectTree(
  dir: string,
  files: Record<string, Uint8Array>,
): Promise<void> {
  for (const [path, data] of Object.entries(files)) {
    assertEquals(await Deno.readFile(join(dir, path)), data, path);
  }
}

for (const parallel of [1, 3]) {
  Deno.test(`put -r sends the changed files of a tree as deltas (${parallel === 1 ? "one connection" : `${parallel} connections`})`, async () => {
    await withTree(async ({ root, source, files, open }) => {
      const options = { ...OPTIONS, parallel };
      const c = await open();
      await uploadTree(c, source, "t", options, recorder(), open);
      const next = await changeLarge(source, files);
      const reporter = recorder();
      const result = await uploadTree(c, source, "t", options, reporter, open);
      assertEquals(result.files, 2);
      assertEquals(result.upToDate, 1);
      assert(result.reused > 8.5 * MiB, `reused ${result.reused}`);
      assertStringIncludes(reporter.lines.join("\n"), "reused (delta)");
      await expectTree(join(root, "t"), next);
    });
  });
  Deno.test(`get -r receives the changed files of a tree as deltas (${parallel === 1 ? "one connection" : `${parallel} connections`})`, async () => {
    await withTree(async ({ root, source, files, open }) => {
      const options = { ...OPTIONS, parallel };
      const c = await open();
      await uploadTree(c, source, "t", options, recorder(), open);
      // The server's copy changes; the local tree still has the old one.
      const served = join(root, "t");
      const next = await changeLarge(served, files);
      const reporter = recorder();
      const result = await downloadTree(
        c,
        "t",
        source,
        options,
        reporter,
        open,
      );
      assertEquals(result.files, 2);
      assert(result.reused > 8.5 * MiB, `reused ${result.reused}`);
      assertStringIncludes(reporter.lines.join("\n"), "reused (delta)");
      await expectTree(source, next);
    });
  });
}

Deno.test("put -r --whole-file sends changed files whole", async () => {
  await withTree(async ({ root, source, files, open }) => {
    const c = await open();
    await uploadTree(c, source, "t", OPTIONS, recorder(), open);
    const next = await changeLarge(source, files);
    const options = { ...OPTIONS, wholeFile: true };
    const result = await uploadTree(c, source, "t", options, recorder(), open);
    assertEquals(result.files, 2);
    assertEquals(result.reused, 0);
    await expectTree(join(root, "t"), next);
  });
});
