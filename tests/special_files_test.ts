/**
 * Special files inside the served folder: a FIFO or a device node is never
 * opened for reading (that would wait forever for a writer), so `get` of one
 * is refused at once with a clear error and the server keeps serving.
 *
 * @module
 */

import {
  assert,
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
import { needsProgram } from "./helpers/prerequisite.ts";

const quiet: Reporter = { info: () => {}, progress: () => null };

Deno.test({
  name:
    "get of a FIFO is refused at once and the session keeps serving (needs mkfifo)",
  ignore: needsProgram("mkfifo"),
}, async () => {
  const { root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-fifo-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    const mkfifo = await new Deno.Command("mkfifo", {
      args: [join(root, "pipe")],
    }).output();
    assert(mkfifo.success, "mkfifo made the FIFO");
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
