/**
 * Delta with older peers and from the command line: a build without delta
 * (main before it), or one naming its chunks by another hash, gets whole
 * files both ways, in both roles, and the
 * command line says `(delta)` and gives the bytes sent and reused in
 * `--json`.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import type { TransferOptions } from "../client/options.ts";
import { upload } from "../client/upload.ts";
import { randomBytes, runFts, startServe } from "./helpers/cli.ts";
import { connectOlder, sourcesOf } from "./helpers/old_sources.ts";

/** The last commit of main before delta transfers. */
const BEFORE_DELTA = "22a5b80";
/**
 * A delta build that cut the same chunks but named them by XXH3-128 (before
 * XXH64 in the chunker): its summaries are refused by name both ways, after
 * this build's side has started cutting and hashing its file meanwhile.
 */
const OTHER_CHUNKING = "4084e22";

/** The older builds a test runs against, and how each is described. */
const OLDER = [
  { commit: BEFORE_DELTA, without: "without delta" },
  { commit: OTHER_CHUNKING, without: "with another chunk hash" },
];

const MiB = 1024 * 1024;
const OPTIONS: TransferOptions = {
  resume: true,
  noClobber: false,
  verify: true,
};
const quiet: Reporter = { info: () => {}, progress: () => null };

function edited(data: Uint8Array): Uint8Array {
  const next = data.slice();
  for (let i = 0; i < 10; i++) {
    next.set(randomBytes(4096), Math.floor((i + 0.5) * next.byteLength / 10));
  }
  return next;
}

async function withDirs(
  fn: (root: string, work: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "fts-delta-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-delta-work-" });
  try {
    await fn(root, work);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
}

/**
 * Runs `fn` with the sources of the build at `commit` and a served root
 * holding `f`, an old version of 4 MiB.
 */
async function withOldBuild(
  commit: string,
  fn: (ctx: {
    sources: string;
    root: string;
    work: string;
    old: Uint8Array;
  }) => Promise<void>,
): Promise<void> {
  const sources = await sourcesOf(commit);
  try {
    await withDirs(async (root, work) => {
      const old = randomBytes(4 * MiB);
      await Deno.writeFile(join(root, "f"), old);
      await fn({ sources, root, work, old });
    });
  } finally {
    await Deno.remove(sources, { recursive: true });
  }
}

for (const { commit, without } of OLDER) {
  Deno.test(`a server ${without} gets and sends whole files to this client`, async () => {
    await withOldBuild(commit, async ({ sources, root, work, old }) => {
      const serve = await startServe(root, [], {
        main: join(sources, "main.ts"),
      });
      const c = await Connection.open({
        hostname: "127.0.0.1",
        port: serve.port,
      });
      try {
        const local = join(work, "f");
        const next = edited(old);
        await Deno.writeFile(local, next);
        const sent = await upload(c, local, "f", OPTIONS, quiet);
        assertEquals(sent.reused, undefined);
        assertEquals(sent.bytes, next.byteLength);
        assertEquals(await Deno.readFile(join(root, "f")), next);
        await Deno.writeFile(join(root, "f"), edited(next));
        const got = await download(c, "f", local, OPTIONS, quiet);
        assertEquals(got.reused, undefined);
        assertEquals(got.bytes, next.byteLength);
        assertEquals(
          await Deno.readFile(local),
          await Deno.readFile(join(root, "f")),
        );
      } finally {
        c.abort();
        await serve.stop();
      }
    });
  });

  Deno.test(`a client ${without} puts and gets whole files with this server`, async () => {
    await withOldBuild(commit, async ({ sources, root, work, old }) => {
      const serve = await startServe(root);
      try {
        const local = join(work, "f");
        const next = edited(old);
        await Deno.writeFile(local, next);
        const fts = (...args: string[]) =>
          connectOlder(sources, serve.address, args);
        const put = await fts("put", local, "f");
        assertEquals(put.code, 0, put.stderr);
        assertMatch(put.stderr, /sent 4\.0 MiB in/);
        assertEquals(await Deno.readFile(join(root, "f")), next);
        await Deno.writeFile(join(root, "f"), edited(next));
        const get = await fts("get", "f", local);
        assertEquals(get.code, 0, get.stderr);
        assertEquals(
          await Deno.readFile(local),
          await Deno.readFile(join(root, "f")),
        );
      } finally {
        await serve.stop();
      }
    });
  });
}

Deno.test("the command line says (delta) and --json gives the bytes sent and reused", async () => {
  await withDirs(async (root, work) => {
    const old = randomBytes(8 * MiB);
    await Deno.writeFile(join(root, "f"), old);
    const serve = await startServe(root);
    try {
      const local = join(work, "f");
      await Deno.writeFile(local, edited(old));
      const put = await runFts(["connect", serve.address, "put", local, "f"]);
      assertEquals(put.code, 0, put.stderr);
      assertMatch(put.stderr, /sent [\d.]+ kiB of 8\.0 MiB \(delta\) in /);
      await Deno.writeFile(join(root, "f"), edited(old));
      const get = await runFts([
        "connect",
        serve.address,
        "get",
        "--json",
        "f",
        local,
      ]);
      assertEquals(get.code, 0, get.stderr);
      const summary = JSON.parse(get.stdout);
      assertEquals(summary.delta, true);
      assert(summary.received < MiB, get.stdout);
      assertEquals(summary.size, 8 * MiB);
      assert(summary.reused > 7 * MiB, get.stdout);
      const whole = await runFts([
        "connect",
        serve.address,
        "put",
        "--whole-file",
        "--json",
        local,
        "f",
      ]);
      assertEquals(whole.code, 0, whole.stderr);
      assertEquals(JSON.parse(whole.stdout).sent, 8 * MiB);
    } finally {
      await serve.stop();
    }
  });
});
