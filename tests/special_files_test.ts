/**
 * Special files inside the served folder: a FIFO or a device node is never
 * opened for reading (that would wait forever for a writer), so `get` of one
 * is refused at once with a clear error and the server keeps serving.
 *
 * @module
 */

import {
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import { WrongTypeError } from "../protocol/mod.ts";
import { startServer } from "./helpers/server.ts";

const quiet: Reporter = { info: () => {}, progress: () => null };

Deno.test("get of a FIFO is refused at once and the session keeps serving", async () => {
  const { root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-fifo-" });
  const mkfifo = await new Deno.Command("mkfifo", {
    args: [join(root, "pipe")],
  }).output();
  if (!mkfifo.success) {
    console.log("skipped: mkfifo is not available");
    await cleanup();
    return;
  }
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    const error = await assertRejects(() =>
      download(c, "pipe", join(work, "pipe"), {
        resume: true,
        noClobber: false,
        verify: true,
      }, quiet)
    );
    assertInstanceOf(error, WrongTypeError);
    assertStringIncludes(String(error), "not a regular file");
    await Deno.writeTextFile(join(root, "ok.txt"), "fine");
    await download(c, "ok.txt", join(work, "ok.txt"), {
      resume: true,
      noClobber: false,
      verify: true,
    }, quiet);
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});
