/**
 * How tree transfers report: a folder that fails (either way) is counted
 * as a folder, not as a file; a rerun of an up-to-date tree says so once; staging folders
 * a killed `get -r` left are removed by the rerun at once.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { downloadTree } from "../client/tree_download.ts";
import type { TreeOptions } from "../client/tree_progress.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { startServer } from "./helpers/server.ts";
import { recorder } from "./helpers/recorder.ts";

const OPTIONS: TreeOptions = { resume: true, noClobber: false, verify: true };

async function withTree(
  fn: (ctx: { root: string; work: string; c: Connection }) => Promise<void>,
): Promise<void> {
  const { root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-report-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    await Deno.mkdir(join(root, "src", "sub"), { recursive: true });
    await Deno.writeTextFile(join(root, "src", "a.txt"), "a");
    await Deno.writeTextFile(join(root, "src", "b.txt"), "b");
    await Deno.writeTextFile(join(root, "src", "sub", "c.txt"), "c");
    await fn({ root, work, c });
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("get -r counts a folder it cannot make as a folder, not as a file, in one line", async () => {
  await withTree(async ({ work, c }) => {
    const local = join(work, "dst");
    await Deno.mkdir(local);
    await Deno.writeTextFile(
      join(local, "sub"),
      "a file where the folder goes",
    );
    const report = recorder({ errors: true });
    const error = await assertRejects(() =>
      downloadTree(c, "src", local, OPTIONS, report)
    );
    assertStringIncludes(String(error), "1 of 3 files and 1 folder failed");
    assertEquals(await Deno.readTextFile(join(local, "a.txt")), "a");
    assertEquals(await Deno.readTextFile(join(local, "b.txt")), "b");
    assert(
      report.lines.some((line) =>
        line.includes("received 2 files") && line.includes("1 folder failed")
      ),
      report.lines.join("\n"),
    );
    // One line for the folder; the file under it is counted, not named.
    assertEquals(
      report.lines.filter((line) => line.startsWith("error: ")).map((line) =>
        line.replace(/": .*$/, '"')
      ),
      [`error: cannot get "sub"`],
    );
  });
});

Deno.test("put -r counts a folder the server cannot make as a folder, not as a file, in one line", async () => {
  await withTree(async ({ root, work, c }) => {
    const local = join(work, "up");
    await Deno.mkdir(join(local, "sub"), { recursive: true });
    await Deno.writeTextFile(join(local, "a.txt"), "a");
    await Deno.writeTextFile(join(local, "b.txt"), "b");
    await Deno.writeTextFile(join(local, "sub", "c.txt"), "c");
    await Deno.mkdir(join(root, "dst"));
    await Deno.writeTextFile(
      join(root, "dst", "sub"),
      "a file where the folder goes",
    );
    const report = recorder({ errors: true });
    const error = await assertRejects(() =>
      uploadTree(c, local, "dst", OPTIONS, report)
    );
    assertStringIncludes(String(error), "1 of 3 files and 1 folder failed");
    assertEquals(await Deno.readTextFile(join(root, "dst", "a.txt")), "a");
    assertEquals(await Deno.readTextFile(join(root, "dst", "b.txt")), "b");
    assert(
      report.lines.some((line) =>
        line.includes("sent 2 files") && line.includes("1 folder failed")
      ),
      report.lines.join("\n"),
    );
    // One line for the folder; the file under it is counted, not named.
    assertEquals(
      report.lines.filter((line) => line.startsWith("error: ")).map((line) =>
        line.replace(/": .*$/, '"')
      ),
      [`error: cannot put "sub"`],
    );
  });
});

Deno.test("a rerun of an up-to-date tree says so once", async () => {
  await withTree(async ({ work, c }) => {
    const local = join(work, "dst");
    await downloadTree(c, "src", local, OPTIONS, recorder({ errors: true }));
    const again = recorder({ errors: true });
    await downloadTree(c, "src", local, OPTIONS, again);
    assertEquals(again.lines, ["all 3 files already up to date"]);
    const up = recorder({ errors: true });
    await uploadTree(c, local, "src", OPTIONS, up);
    assertEquals(up.lines, ["all 3 files already up to date"]);
  });
});

Deno.test("get -r removes the staging folders a killed run left, at once", async () => {
  await withTree(async ({ work, c }) => {
    const local = join(work, "dst");
    await Deno.mkdir(local);
    // A run whose process is gone (no process has pid 2^22 + 1 here).
    const dead = join(local, ".fts-partial-0badf00d-4194305-0");
    await Deno.mkdir(dead);
    await Deno.writeFile(join(dead, "0"), new Uint8Array(4096));
    await downloadTree(c, "src", local, OPTIONS, recorder({ errors: true }));
    const left = [...Deno.readDirSync(local)].map((entry) => entry.name);
    assertEquals(left.sort(), ["a.txt", "b.txt", "sub"]);
  });
});
