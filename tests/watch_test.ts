/**
 * `fts connect HOST watch --json` against a real `fts serve --http 0`, both
 * run as a person runs them: it prints one line per change as it happens,
 * whoever made it (another fts client, a WebDAV PUT with curl, a local
 * process on the server's machine), a file once it is complete, moves as
 * moves; the scanning fallback (`serve --watch-poll`) says so and reports
 * the same kinds of change; an older server gets a clear line.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import {
  connectFts,
  runProgram,
  type ServeProcess,
  startServe,
} from "./helpers/cli.ts";
import type { LineStream } from "./helpers/line_stream.ts";
import { startWatch } from "./helpers/watch_client.ts";
import { canLimitWatches, fewWatches } from "./helpers/few_watches.ts";
import { prerequisite } from "./helpers/prerequisite.ts";
import { sourcesOf } from "./helpers/old_sources.ts";

/** A running `watch --json` and the server it watches. */
interface Watching {
  serve: ServeProcess;
  root: string;
  httpPort: number;
  /** The change lines (JSON). */
  out: LineStream;
  /** What the client says on stderr. */
  err: LineStream;
  /** Resolves with the change whose `event` and `path` match. */
  change(event: string, path: string): Promise<Record<string, unknown>>;
}

async function withWatch(
  serveArgs: string[],
  test: (w: Watching) => Promise<void>,
  prepare: (root: string) => void = () => {},
  start: typeof startServe = startServe,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "fts-watch-" });
  prepare(root);
  const serve = await start(root, ["--http", "0", ...serveArgs], {
    lines: 2,
  });
  const httpPort = Number(/:(\d+)$/.exec(serve.lines[1])![1]);
  const watch = await startWatch(serve.address).catch(async (error) => {
    await serve.stop();
    throw error;
  });
  const { out, err } = watch;
  try {
    await test({
      serve,
      root,
      httpPort,
      out,
      err,
      change: async (event, path) => {
        const line = await out.waitFor((text) => {
          const value = JSON.parse(text);
          return value.event === event && value.path === path;
        });
        return JSON.parse(line);
      },
    });
  } finally {
    await watch.stop();
    await serve.stop();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("watch reports changes by a local process, an fts client and a WebDAV PUT as they happen", async () => {
  await withWatch([], async (w) => {
    assertStringIncludes(w.err.lines.join("\n"), "(inotify)");
    Deno.writeTextFileSync(join(w.root, "local.txt"), "from a local process");
    const local = await w.change("created", "local.txt");
    assertEquals(local.type, "file");
    assertEquals(local.size, 20);

    const source = join(w.root, "..", `${crypto.randomUUID()}.txt`);
    Deno.writeTextFileSync(source, "sent by fts");
    try {
      const put = await connectFts(w.serve.address, `put ${source} sent.txt`);
      assertEquals(put.code, 0, put.stderr);
    } finally {
      Deno.removeSync(source);
    }
    const sent = await w.change("modified", "sent.txt");
    assertEquals(sent.size, 11);

    const dav = await runProgram("curl", [
      "-sf",
      "-T",
      "-",
      `http://127.0.0.1:${w.httpPort}/dav.txt`,
    ], { stdin: "by webdav" });
    assertEquals(dav.code, 0, dav.stderr);
    await w.change("modified", "dav.txt");

    Deno.renameSync(join(w.root, "local.txt"), join(w.root, "moved.txt"));
    const moved = await w.change("moved", "local.txt");
    assertEquals(moved.to, "moved.txt");

    const rm = await connectFts(w.serve.address, `rm sent.txt`);
    assertEquals(rm.code, 0, rm.stderr);
    await w.change("deleted", "sent.txt");

    Deno.mkdirSync(join(w.root, "new/deeper"), { recursive: true });
    Deno.writeTextFileSync(join(w.root, "new/deeper/f.txt"), "inside");
    await w.change("created", "new");
    await w.change("created", "new/deeper/f.txt");
    assert(
      !w.out.lines.some((line) => line.includes(".fts")),
      "the staging folder is never reported",
    );
  });
});

Deno.test("a file written in several steps is reported once, when its writer closes it", async () => {
  await withWatch([], async (w) => {
    const file = Deno.openSync(join(w.root, "slow.bin"), {
      write: true,
      create: true,
    });
    for (let i = 0; i < 5; i++) file.writeSync(new Uint8Array(100_000));
    file.close();
    // A later change: once it is in, the slow file's line would be too.
    Deno.writeTextFileSync(join(w.root, "marker.txt"), "after");
    await w.change("created", "marker.txt");
    const lines = w.out.lines.filter((line) => line.includes("slow.bin"));
    assertEquals(lines.length, 1, lines.join("\n"));
    assertEquals(JSON.parse(lines[0]).size, 500_000);
  });
});

Deno.test("the scanning fallback (serve --watch-poll) says so and reports changes", async () => {
  await withWatch(["--watch-poll", "0.2"], async (w) => {
    assertStringIncludes(w.err.lines.join("\n"), "(poll)");
    Deno.writeTextFileSync(join(w.root, "seen.txt"), "by a scan");
    await w.change("created", "seen.txt");
    Deno.writeTextFileSync(join(w.root, "seen.txt"), "changed, and longer");
    await w.change("modified", "seen.txt");
    Deno.removeSync(join(w.root, "seen.txt"));
    await w.change("deleted", "seen.txt");
  });
});

Deno.test("watch against a server without it says so in one line", async () => {
  const sources = await sourcesOf("6bc0ceb");
  const root = await Deno.makeTempDir({ prefix: "fts-old-" });
  const serve = await startServe(root, [], { main: join(sources, "main.ts") });
  try {
    const run = await connectFts(serve.address, `watch`);
    assertEquals(run.code, 1);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assertStringIncludes(run.stderr, "the server does not support watch");
  } finally {
    await serve.stop();
    await Deno.remove(sources, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});

const limited = !prerequisite(
  "unshare -U (a user namespace whose inotify watch limit can be lowered)",
  canLimitWatches(),
);

Deno.test({
  name:
    "running out of inotify watches falls back to the scan and says so once",
  ignore: !limited,
  fn: async () => {
    const { wrap, cleanup } = await fewWatches();
    try {
      await withWatch(
        [],
        async (w) => {
          const said = w.err.lines.filter((line) => line.includes("inotify"));
          assertEquals(said.length, 1, w.err.lines.join("\n"));
          assertStringIncludes(said[0], "(poll)");
          assertStringIncludes(said[0], "max_user_watches");
          assert(!said[0].includes(w.root), "no host path is shown");
          Deno.writeTextFileSync(join(w.root, "d3/seen.txt"), "by a scan");
          await w.change("created", "d3/seen.txt");
        },
        (root) => {
          for (let i = 0; i < 20; i++) Deno.mkdirSync(join(root, `d${i}`));
        },
        (root, extra, options) => startServe(root, extra, { ...options, wrap }),
      );
    } finally {
      await cleanup();
    }
  },
});

Deno.test("a server shutting down ends its watches at once instead of waiting out the grace", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-watch-" });
  const serve = await startServe(root, ["--grace", "300"]);
  const watch = await startWatch(serve.address);
  try {
    const stopped = serve.stop("SIGTERM");
    // With 300 s of grace, only the watch ending itself lets both finish
    // within the test's deadline.
    await watch.err.waitFor((line) => line.includes("shut"), 60_000);
    assertEquals((await stopped).code, 0);
  } finally {
    await watch.stop();
    await serve.stop();
    await Deno.remove(root, { recursive: true });
  }
});
