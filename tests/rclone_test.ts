/**
 * rclone (Debian's `rclone`) as a WebDAV client of fts: a tree of a few
 * hundred files plus one of 30 MiB copied in and out, `rclone check`
 * agreeing both ways. Skips with one printed line without rclone.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { run, startHttpServer } from "./helpers/http.ts";
import { needsProgram } from "./helpers/prerequisite.ts";
import { randomBytes, sha256File } from "./helpers/cli.ts";

Deno.test({
  name:
    "rclone copies a tree of 300 files and a 30 MiB file in and out over WebDAV, and rclone check agrees both ways (needs rclone)",
  ignore: needsProgram("rclone"),
}, async () => {
  const s = await startHttpServer();
  const work = await Deno.makeTempDir({ prefix: "fts-rclone-" });
  const config = join(work, "rclone.conf");
  await Deno.writeTextFile(config, "");
  const remote = `:webdav,url='${s.url}/',vendor=other:`;
  const rclone = (...args: string[]) =>
    run("rclone", [
      "--config",
      config,
      "--low-level-retries",
      "1",
      "--retries",
      "1",
      ...args,
    ], {
      timeoutMs: 240_000,
    });
  try {
    const src = join(work, "src");
    for (let d = 0; d < 10; d++) {
      await Deno.mkdir(join(src, `dir${d}`, "deeper"), { recursive: true });
      for (let f = 0; f < 30; f++) {
        const where = f % 3 === 0 ? `dir${d}/deeper` : `dir${d}`;
        await Deno.writeFile(
          join(src, where, `file ${f}.txt`),
          randomBytes(100 + f * 37),
        );
      }
    }
    await Deno.writeFile(join(src, "big.bin"), randomBytes(30 * 1024 * 1024));

    await rclone("copy", src, `${remote}in`);
    await rclone("check", src, `${remote}in`);
    assertEquals(
      await sha256File(join(s.root, "in/big.bin")),
      await sha256File(join(src, "big.bin")),
    );

    const back = join(work, "back");
    await rclone("copy", `${remote}in`, back);
    await rclone("check", `${remote}in`, back);
    await rclone("check", src, back);
    let count = 0;
    for await (const _ of walkFiles(back)) count++;
    assertEquals(count, 301);
  } finally {
    await s.cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

async function* walkFiles(dir: string): AsyncIterable<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walkFiles(path);
    else yield path;
  }
}
