/**
 * The permission bits of uploaded files when the client sends none (stdin,
 * HTTP): a new file gets the server's default (0666 less its umask), and a
 * replaced file keeps the mode it had.
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { runFts, runProgram, startServe } from "./helpers/cli.ts";

/** The mode a new file of the server process gets: 0666 less its umask. */
function defaultMode(): number {
  return 0o666 & ~Deno.umask();
}

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

Deno.test("put from stdin and curl -T make new files with the server's default mode and keep a replaced file's mode", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-mode-" });
  const serve = await startServe(root, ["--http", "127.0.0.1:0"], {
    lines: 2,
  });
  try {
    const http = /http listening on (127\.0\.0\.1:\d+)/.exec(
      serve.lines.join("\n"),
    )![1];
    const piped = await runFts(
      ["connect", serve.address, "put", "-", "piped.txt"],
      { stdin: "p\n" },
    );
    assertEquals(piped.code, 0, piped.stderr);
    assertEquals(await modeOf(join(root, "piped.txt")), defaultMode());

    const body = join(root, "..", `${root.split("/").pop()}-body.txt`);
    await Deno.writeTextFile(body, "over http\n");
    try {
      const curl = (name: string) =>
        runProgram("curl", [
          ...["-sS", "-f", "-T", body, `http://${http}/${name}`],
        ]);
      assertEquals((await curl("new.txt")).code, 0);
      assertEquals(await modeOf(join(root, "new.txt")), defaultMode());

      await Deno.writeTextFile(join(root, "kept.txt"), "old\n");
      await Deno.chmod(join(root, "kept.txt"), 0o644);
      assertEquals((await curl("kept.txt")).code, 0);
      assertEquals(
        await Deno.readTextFile(join(root, "kept.txt")),
        "over http\n",
      );
      assertEquals(await modeOf(join(root, "kept.txt")), 0o644);

      await Deno.chmod(join(root, "piped.txt"), 0o640);
      const again = await runFts(
        ["connect", serve.address, "put", "-", "piped.txt"],
        { stdin: "q\n" },
      );
      assertEquals(again.code, 0, again.stderr);
      assertEquals(await modeOf(join(root, "piped.txt")), 0o640);
    } finally {
      await Deno.remove(body);
    }
  } finally {
    await serve.stop();
    await Deno.remove(root, { recursive: true });
  }
});
