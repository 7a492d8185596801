/**
 * What a crash leaves in the staging area: a tree upload's staging folders
 * are never resumed from, so a restarted server removes every one that no
 * live session holds, at once; interrupted single-file partials stay for
 * resume until `--partial-ttl`.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { FtsServer } from "../server/server.ts";

Deno.test("a restarted server removes tree staging folders a crash left, and keeps resumable partials", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-sweep-" });
  const partial = join(root, ".fts", "partial");
  await Deno.mkdir(join(partial, "tree-deadbeef-0"), { recursive: true });
  await Deno.writeFile(
    join(partial, "tree-deadbeef-0", "7"),
    new Uint8Array(9),
  );
  await Deno.writeFile(join(partial, "0123456789abcdef"), new Uint8Array(5));
  const server = await FtsServer.start({
    root,
    hostname: "127.0.0.1",
    port: 0,
    log: null,
  });
  try {
    let names: string[] = [];
    for (let i = 0; i < 50; i++) {
      names = [];
      for await (const entry of Deno.readDir(partial)) names.push(entry.name);
      if (!names.some((name) => name.startsWith("tree-"))) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert(!names.some((name) => name.startsWith("tree-")), names.join());
    assertEquals(names, ["0123456789abcdef"]);
  } finally {
    await server.shutdown(100);
    await Deno.remove(root, { recursive: true });
  }
});
