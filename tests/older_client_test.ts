/**
 * The older client against today's server: the real round-1 program (before
 * XXH3-128 and zstd) and the one from before trees negotiated their checksum,
 * extracted with `sourcesOf()` and run as subprocesses, put, get, list and
 * copy trees with today's `fts serve`. The wire, through a recording relay,
 * shows the checksum each one used.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { randomBytes, runProgram, startServe } from "./helpers/cli.ts";
import { ROUND_ONE, sourcesOf } from "./helpers/old_sources.ts";
import { startRelay } from "./helpers/relay.ts";

/** The last commit before trees negotiated their checksum and compression. */
const BEFORE_TREES = "d9ea6fa";

const sha256 = (data: Uint8Array) =>
  createHash("sha256").update(data).digest("hex");

// Round 1 knew only SHA-256; the pre-tree client used XXH3-128 for single
// files already, and SHA-256 for trees.
const CLIENTS = [
  { name: "round-1", commit: ROUND_ONE, files: "SHA-256" },
  { name: "pre-tree", commit: BEFORE_TREES, files: "XXH3-128" },
];

for (const { name, commit, files } of CLIENTS) {
  Deno.test(`the ${name} client puts, gets, lists and copies trees with today's server, files verified with ${files}, trees with SHA-256`, async () => {
    const sources = await sourcesOf(commit);
    const root = await Deno.makeTempDir({ prefix: "fts-today-root-" });
    const work = await Deno.makeTempDir({ prefix: "fts-old-client-" });
    const serve = await startServe(root);
    await using relay = startRelay(serve.port);
    const old = (...args: string[]) =>
      runProgram(Deno.execPath(), [
        "run",
        "-A",
        join(sources, "main.ts"),
        "connect",
        `127.0.0.1:${relay.port}`,
        ...args,
      ], { cwd: work, env: { NO_COLOR: "1" }, timeoutMs: 120_000 });
    try {
      const big = randomBytes(3 * 1024 * 1024 + 5);
      await Deno.writeFile(join(work, "big.bin"), big);
      await Deno.mkdir(join(work, "tree", "sub"), { recursive: true });
      const tree = new Map<string, Uint8Array>([
        ["a.txt", new TextEncoder().encode("older clients still work\n")],
        ["sub/b.bin", randomBytes(200_000)],
      ]);
      for (const [path, data] of tree) {
        await Deno.writeFile(join(work, "tree", path), data);
      }

      const put = await old("put", "big.bin", "big.bin");
      assertEquals(put.code, 0, put.stderr);
      assertEquals(await Deno.readFile(join(root, "big.bin")), big);
      const get = await old("get", "big.bin", "back.bin");
      assertEquals(get.code, 0, get.stderr);
      assertEquals(await Deno.readFile(join(work, "back.bin")), big);
      const ls = await old("ls");
      assertEquals(ls.code, 0, ls.stderr);
      assertStringIncludes(ls.stdout, "big.bin");

      const putTree = await old("put", "-r", "tree", "up");
      assertEquals(putTree.code, 0, putTree.stderr);
      const getTree = await old("get", "-r", "up", "down");
      assertEquals(getTree.code, 0, getTree.stderr);
      for (const [path, data] of tree) {
        assertEquals(await Deno.readFile(join(root, "up", path)), data, path);
        assertEquals(await Deno.readFile(join(work, "down", path)), data);
      }

      const wire = relay.captured();
      for (const [path, data] of tree) {
        assertStringIncludes(wire, sha256(data), `${path}'s SHA-256`);
      }
      if (files === "SHA-256") {
        assertStringIncludes(wire, sha256(big), "the big file's SHA-256");
        assert(!/"xxh128":"/.test(wire), "no XXH3-128 digest on the wire");
      } else {
        assert(/"xxh128":"/.test(wire), "the single file's XXH3-128");
      }
    } finally {
      await serve.stop();
      for (const dir of [sources, root, work]) {
        await Deno.remove(dir, { recursive: true });
      }
    }
  });
}
