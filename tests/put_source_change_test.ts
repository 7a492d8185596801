/**
 * `put` of a source that changes while it is read: a file rewritten in place
 * at the same size (same length, so no byte count can tell) is refused as
 * changed rather than stored as a verified mix of old and new bytes, and
 * the server drops what it staged at once (it is keyed by the old size and
 * time, so no rerun could resume it).
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { startServer } from "./helpers/server.ts";
import { MAIN, randomBytes, waitForPartial } from "./helpers/cli.ts";

Deno.test("a source rewritten in place at the same size during a throttled put is refused as changed, and nothing lands or stays staged", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir({ prefix: "fts-put-change-" });
  try {
    const size = 4 * 1024 * 1024;
    const source = join(dir, "big.bin");
    await Deno.writeFile(source, randomBytes(size));
    const put = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "connect",
        `127.0.0.1:${server.port}`,
        "put",
        source,
        "big.bin",
        "--limit-rate",
        "1M",
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const partials = join(server.root, ".fts", "partial");
    await waitForPartial(partials, () => true, 256 * 1024);
    // Rewrite every byte in place: same inode, same size, new content.
    const file = await Deno.open(source, { write: true });
    const fresh = randomBytes(size);
    for (let at = 0; at < size;) at += await file.write(fresh.subarray(at));
    file.close();
    const result = await put.output();
    const stderr = new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 1, stderr);
    assertStringIncludes(stderr, 'cannot put "big.bin": the file changed');
    assertEquals(stderr.trim().split("\n").length, 1, stderr);
    assertEquals(
      await Deno.stat(join(server.root, "big.bin")).catch(() => null),
      null,
      "nothing lands under the target name",
    );
    const staged = [...Deno.readDirSync(partials)].map((e) => e.name);
    assertEquals(staged, [], "the staged upload is dropped at once");
    // The server still serves: a rerun of the now-stable file works.
    const rerun = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "connect",
        `127.0.0.1:${server.port}`,
        "put",
        source,
        "big.bin",
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    assertEquals(rerun.code, 0, new TextDecoder().decode(rerun.stderr));
    assert(
      (await Deno.readFile(join(server.root, "big.bin"))).every((b, i) =>
        b === fresh[i]
      ),
      "the rerun stores the new content",
    );
  } finally {
    await server.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
