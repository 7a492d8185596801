/**
 * Live mirrors (`put -r --watch`, `get -r --watch`), run as a person runs
 * them against a real `fts serve`: each change arrives on the other side,
 * deletions too with `--delete`; a kill -9 and restart of the server does
 * not end the run (it says so, reconnects and catches up with what changed
 * meanwhile); Ctrl-C ends it cleanly with no partial file under a target
 * name; a second live mirror into the same target is refused. Every wait is
 * for the effect itself, with a generous deadline.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import {
  MAIN,
  randomBytes,
  runFts,
  startServe,
  waitForPartial,
} from "./helpers/cli.ts";
import type { ServeProcess } from "./helpers/cli.ts";
import { LineStream } from "./helpers/line_stream.ts";
import { PtySession } from "./helpers/pty.ts";
import { plant } from "./helpers/plant.ts";
import { canLimitWatches, fewWatches } from "./helpers/few_watches.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

/** A running `fts connect ... ARGS` with its stderr lines. */
interface Client {
  child: Deno.ChildProcess;
  err: LineStream;
  /** Sends SIGINT and returns the exit code. */
  interrupt(): Promise<number>;
}

function spawnClient(
  args: string[],
  config: string,
  wrap: string[] = [Deno.execPath()],
): Client {
  const [program, ...prefix] = wrap;
  const child = new Deno.Command(program, {
    args: [...prefix, "run", "-A", MAIN, "connect", ...args],
    env: { NO_COLOR: "1", FTS_CONFIG_DIR: config },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const err = new LineStream(child.stderr);
  return {
    child,
    err,
    async interrupt() {
      try {
        child.kill("SIGINT");
      } catch {
        // Ended already: its status and lines tell the test why.
      }
      const { code } = await child.status;
      await err.done;
      return code;
    },
  };
}

/** Waits until `check` passes (polling the file system), or fails after `ms`. */
async function until(
  what: string,
  check: () => boolean,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function readOr(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Runs `test` with a served root, a work folder and a config folder. */
async function withServe(
  test: (
    t: {
      serve: () => ServeProcess;
      restart: () => Promise<void>;
      kill: () => Promise<void>;
      root: string;
      work: string;
      config: string;
      address: string;
    },
  ) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "fts-live-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-live-" });
  const config = join(work, "config");
  let serve = await startServe(root);
  const port = serve.port;
  try {
    await test({
      serve: () => serve,
      kill: async () => void await serve.stop("SIGKILL"),
      restart: async () => {
        serve = await startServe(root, [], { port });
      },
      root,
      work,
      config,
      address: serve.address,
    });
  } finally {
    await serve.stop();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("put -r --watch --delete follows local changes and survives a kill -9 and restart of the server", async () => {
  await withServe(async ({ root, work, config, address, kill, restart }) => {
    const src = join(work, "src");
    plant(src, "keep.txt", "keep");
    plant(src, "doomed.txt", "doomed");
    const site = join(root, "site");
    const client = spawnClient(
      [address, "put", "-r", "--watch", "--delete", "-v", `${src}/`, "site"],
      config,
    );
    try {
      await client.err.waitFor((line) => line.startsWith("following"), 60_000);
      assertEquals(readOr(join(site, "keep.txt")), "keep");

      Deno.writeTextFileSync(join(src, "new.txt"), "new");
      await until(
        "new.txt on the server",
        () => readOr(join(site, "new.txt")) === "new",
      );
      Deno.mkdirSync(join(src, "a/b"), { recursive: true });
      Deno.writeTextFileSync(join(src, "a/b/deep.txt"), "deep");
      await until(
        "a/b/deep.txt on the server",
        () => readOr(join(site, "a/b/deep.txt")) === "deep",
      );
      Deno.removeSync(join(src, "doomed.txt"));
      await until(
        "doomed.txt gone on the server",
        () => readOr(join(site, "doomed.txt")) === null,
      );

      await kill();
      Deno.writeTextFileSync(
        join(src, "while-down.txt"),
        "written while the server was down",
      );
      Deno.writeTextFileSync(join(src, "keep.txt"), "changed while down");
      await client.err.waitFor((line) => line.startsWith("lost the link"));
      await restart();
      await client.err.waitFor(
        (line) => line.startsWith("reconnected"),
        60_000,
      );
      await until(
        "while-down.txt on the server",
        () =>
          readOr(join(site, "while-down.txt")) ===
            "written while the server was down",
      );
      assertEquals(readOr(join(site, "keep.txt")), "changed while down");
    } finally {
      assertEquals(await client.interrupt(), 0, client.err.lines.join("\n"));
    }
    assertStringIncludes(client.err.lines.join("\n"), "stopped:");
    assertStringIncludes(client.err.lines.join("\n"), "sent new.txt");
  });
});

Deno.test("get -r --watch --delete follows the server's changes and survives a kill -9 and restart of the server", async () => {
  await withServe(async ({ root, work, config, address, kill, restart }) => {
    const site = join(root, "site");
    plant(site, "first.txt", "first");
    const dst = join(work, "dst");
    const client = spawnClient(
      [address, "get", "-r", "--watch", "--delete", "site/", dst],
      config,
    );
    try {
      await client.err.waitFor((line) => line.startsWith("following"), 60_000);
      assertEquals(readOr(join(dst, "first.txt")), "first");

      Deno.writeTextFileSync(join(site, "local.txt"), "by a local process");
      await until(
        "local.txt fetched",
        () => readOr(join(dst, "local.txt")) === "by a local process",
      );
      const source = join(work, "upload.txt");
      Deno.writeTextFileSync(source, "by an fts client");
      const put = await runFts([
        "connect",
        address,
        "put",
        source,
        "site/put.txt",
      ]);
      assertEquals(put.code, 0, put.stderr);
      await until(
        "put.txt fetched",
        () => readOr(join(dst, "put.txt")) === "by an fts client",
      );
      Deno.removeSync(join(site, "first.txt"));
      await until(
        "first.txt gone locally",
        () => readOr(join(dst, "first.txt")) === null,
      );

      await kill();
      await client.err.waitFor((line) => line.startsWith("lost the link"));
      Deno.writeTextFileSync(
        join(site, "while-down.txt"),
        "changed while down",
      );
      await restart();
      await client.err.waitFor(
        (line) => line.startsWith("reconnected"),
        60_000,
      );
      await until(
        "while-down.txt fetched",
        () => readOr(join(dst, "while-down.txt")) === "changed while down",
      );
      Deno.writeTextFileSync(join(site, "after.txt"), "after the restart");
      await until(
        "after.txt fetched",
        () => readOr(join(dst, "after.txt")) === "after the restart",
      );
    } finally {
      assertEquals(await client.interrupt(), 0, client.err.lines.join("\n"));
    }
  });
});

Deno.test("Ctrl-C during a live get leaves no partial file under a target name", async () => {
  await withServe(async ({ root, work, config, address }) => {
    const site = join(root, "site");
    plant(site, "small.txt", "small");
    const dst = join(work, "dst");
    const client = spawnClient(
      [address, "get", "-r", "--watch", "--limit-rate", "2M", "site/", dst],
      config,
    );
    const big = randomBytes(16 * 1024 * 1024);
    try {
      await client.err.waitFor((line) => line.startsWith("following"), 60_000);
      Deno.writeFileSync(join(site, "big.bin"), big);
      // Wait until the big file is on its way: its bytes sit in a partial.
      await until(
        "a partial of big.bin",
        () =>
          [...Deno.readDirSync(dst)].some((entry) =>
            entry.name !== "small.txt" && entry.name !== "big.bin"
          ),
      );
    } finally {
      assertEquals(await client.interrupt(), 0, client.err.lines.join("\n"));
    }
    const landed = readOr(join(dst, "big.bin")) === null
      ? null
      : Deno.readFileSync(join(dst, "big.bin"));
    assert(
      landed === null || landed.byteLength === big.byteLength,
      "big.bin is either absent or whole",
    );
  });
});

Deno.test("a second live mirror into the same target is refused in one line, both ways", async () => {
  await withServe(async ({ work, config, address }) => {
    const src = join(work, "src");
    plant(src, "a.txt", "a");
    const first = spawnClient(
      [address, "put", "-r", "--watch", `${src}/`, "site"],
      config,
    );
    try {
      await first.err.waitFor((line) => line.startsWith("following"), 60_000);
      const second = await runFts(
        ["connect", address, "put", "-r", "--watch", `${src}/`, "./site/"],
        { env: { FTS_CONFIG_DIR: config } },
      );
      assertEquals(second.code, 1);
      assertEquals(second.stderr.trim().split("\n").length, 1, second.stderr);
      assertStringIncludes(second.stderr, "another live mirror");
      // The same for two live gets into one local folder.
      const dst = join(work, "dst");
      const get = spawnClient(
        [address, "get", "-r", "--watch", "site/", dst],
        config,
      );
      try {
        await get.err.waitFor((line) => line.startsWith("following"), 60_000);
        const again = await runFts(
          ["connect", address, "get", "-r", "--watch", "site/", `${dst}/`],
          { env: { FTS_CONFIG_DIR: config } },
        );
        assertEquals(again.code, 1);
        assertEquals(again.stderr.trim().split("\n").length, 1, again.stderr);
        assertStringIncludes(again.stderr, "another live mirror");
      } finally {
        assertEquals(await get.interrupt(), 0, get.err.lines.join("\n"));
      }
    } finally {
      assertEquals(await first.interrupt(), 0, first.err.lines.join("\n"));
    }
  });
});

const limited = !prerequisite(
  "unshare -U (a user namespace whose inotify watch limit can be lowered)",
  canLimitWatches(),
);

Deno.test({
  name:
    "put -r --watch scans instead where inotify runs out of watches, and says so",
  ignore: !limited,
  fn: async () => {
    await withServe(async ({ root, work, config, address }) => {
      const src = join(work, "src");
      for (let i = 0; i < 20; i++) plant(src, `d${i}/f.txt`, String(i));
      const { wrap, cleanup } = await fewWatches();
      const client = spawnClient(
        [address, "put", "-r", "--watch", `${src}/`, "site"],
        config,
        wrap,
      );
      try {
        await client.err.waitFor(
          (line) => line.startsWith("following"),
          60_000,
        );
        const said = client.err.lines.filter((l) => l.includes("inotify"));
        assertEquals(said.length, 1, client.err.lines.join("\n"));
        assertStringIncludes(said[0], "scanning");
        Deno.writeTextFileSync(join(src, "d7/new.txt"), "seen by a scan");
        await until(
          "d7/new.txt on the server",
          () => readOr(join(root, "site/d7/new.txt")) === "seen by a scan",
        );
      } finally {
        assertEquals(await client.interrupt(), 0, client.err.lines.join("\n"));
        await cleanup();
      }
    });
  },
});

Deno.test("Ctrl-C in the shell ends a live mirror and the shell goes on", async () => {
  await withServe(async ({ root, work, config, address }) => {
    const src = join(work, "src");
    plant(src, "a.txt", "a");
    const shell = new PtySession(["connect", address], {
      cwd: work,
      env: { FTS_CONFIG_DIR: config },
    });
    try {
      await shell.waitFor("> ");
      await shell.type(`put -r --watch ${src}/ site\r`);
      let at = await shell.waitFor("following", 0, 60_000);
      Deno.writeTextFileSync(join(src, "b.txt"), "b");
      await until(
        "b.txt on the server",
        () => readOr(join(root, "site/b.txt")) === "b",
      );
      await shell.type("\x03");
      at = await shell.waitFor("stopped:", at, 30_000);
      await shell.command("ls site", "b.txt", at);
      await shell.type("quit\r");
      assertEquals(await shell.exit(), 0);
    } finally {
      await shell.exit(1000).catch(() => {});
    }
  });
});

Deno.test("a large file cut off by a server restart resumes where it stopped", async () => {
  await withServe(async ({ root, work, config, address, kill, restart }) => {
    const src = join(work, "src");
    plant(src, "small.txt", "small");
    const client = spawnClient(
      [
        address,
        "put",
        "-r",
        "--watch",
        "--limit-rate",
        "4M",
        `${src}/`,
        "site",
      ],
      config,
    );
    const big = randomBytes(40 * 1024 * 1024);
    try {
      await client.err.waitFor((line) => line.startsWith("following"), 60_000);
      Deno.writeFileSync(join(src, "big.bin"), big);
      await waitForPartial(
        join(root, ".fts", "partial"),
        () => true,
        8 << 20,
        60_000,
      );
      await kill();
      await client.err.waitFor((line) => line.startsWith("lost the link"));
      await restart();
      await client.err.waitFor((line) => line.includes("resuming"), 60_000);
      await until("big.bin whole on the server", () => {
        try {
          return Deno.statSync(join(root, "site/big.bin")).size ===
            big.byteLength;
        } catch {
          return false;
        }
      }, 120_000);
      assertEquals(Deno.readFileSync(join(root, "site/big.bin")), big);
    } finally {
      assertEquals(await client.interrupt(), 0, client.err.lines.join("\n"));
    }
  });
});

Deno.test("a live mirror replaces an entry of another type under --delete, both ways", async () => {
  await withServe(async ({ root, work, config, address }) => {
    const src = join(work, "src");
    plant(src, "x/in.txt", "x was a folder");
    plant(src, "y", "y was a file");
    const site = join(root, "site");
    const put = spawnClient(
      [address, "put", "-r", "--watch", "--delete", `${src}/`, "site"],
      config,
    );
    const dst = join(work, "dst");
    await put.err.waitFor((line) => line.startsWith("following"), 60_000);
    const get = spawnClient(
      [address, "get", "-r", "--watch", "--delete", "site/", dst],
      join(work, "config-get"),
    );
    try {
      await get.err.waitFor((line) => line.startsWith("following"), 60_000);
      await until("y fetched", () => readOr(join(dst, "y")) === "y was a file");
      Deno.removeSync(join(src, "x"), { recursive: true });
      plant(src, "x", "x is a file now");
      Deno.removeSync(join(src, "y"));
      plant(src, "y/in.txt", "y is a folder now");
      for (const side of [site, dst]) {
        await until(
          `x a file and y a folder in ${side}`,
          () =>
            readOr(join(side, "x")) === "x is a file now" &&
            readOr(join(side, "y/in.txt")) === "y is a folder now",
        );
      }
      assert(
        !put.err.lines.some((line) => line.startsWith("cannot")),
        put.err.lines.join("\n"),
      );
    } finally {
      assertEquals(await put.interrupt(), 0, put.err.lines.join("\n"));
      assertEquals(await get.interrupt(), 0, get.err.lines.join("\n"));
    }
  });
});

Deno.test("a live mirror whose source folder vanishes ends with one clear line and deletes nothing, both ways", async () => {
  await withServe(async ({ root, work, config, address }) => {
    const src = join(work, "src");
    plant(src, "a/keep.txt", "keep");
    const put = spawnClient(
      [address, "put", "-r", "--watch", "--delete", `${src}/`, "site"],
      config,
    );
    await put.err.waitFor((line) => line.startsWith("following"), 60_000);
    Deno.removeSync(src, { recursive: true });
    const putCode = (await put.child.status).code;
    await put.err.done;
    assertEquals(putCode, 1, put.err.lines.join("\n"));
    const putLast = put.err.lines.filter((line) => line !== "").at(-1)!;
    assertEquals(
      put.err.lines.filter((line) => line.includes("vanished")),
      [putLast],
    );
    assertStringIncludes(putLast, "the local folder vanished");
    assertEquals(readOr(join(root, "site/a/keep.txt")), "keep");

    const dst = join(work, "dst");
    const get = spawnClient(
      [address, "get", "-r", "--watch", "--delete", "site/", dst],
      join(work, "config-get"),
    );
    await get.err.waitFor((line) => line.startsWith("following"), 60_000);
    Deno.removeSync(join(root, "site"), { recursive: true });
    const getCode = (await get.child.status).code;
    await get.err.done;
    assertEquals(getCode, 1, get.err.lines.join("\n"));
    const getLast = get.err.lines.filter((line) => line !== "").at(-1)!;
    assertStringIncludes(getLast, "the remote folder vanished");
    assertEquals(readOr(join(dst, "a/keep.txt")), "keep");
  });
});

Deno.test("a live put whose source is emptied deletes nothing without --force, and says so", async () => {
  await withServe(async ({ root, work, config, address }) => {
    const src = join(work, "src");
    // One entry, removed in one call, so one batch sees the source empty.
    plant(src, "b/a.txt", "a");
    plant(src, "b/c.txt", "c");
    const put = spawnClient(
      [address, "put", "-r", "--watch", "--delete", `${src}/`, "site"],
      config,
    );
    try {
      await put.err.waitFor((line) => line.startsWith("following"), 60_000);
      Deno.removeSync(join(src, "b"), { recursive: true });
      const said = await put.err.waitFor(
        (line) => line.includes("the source is empty"),
        60_000,
      );
      assertStringIncludes(said, "add --force");
      assertEquals(readOr(join(root, "site/b/a.txt")), "a");
      assertEquals(readOr(join(root, "site/b/c.txt")), "c");
    } finally {
      assertEquals(await put.interrupt(), 0, put.err.lines.join("\n"));
    }
  });
});
