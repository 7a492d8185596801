/**
 * The attacks of issue 9 against a real server on 127.0.0.1, with real
 * clients: a folder swapped for a symlink to outside (by a second
 * connection's `mv` at a synchronised point of the first request, or by a
 * local process flipping it as fast as the kernel allows) never lets a
 * request read, write, create, remove, chmod or list anything outside the
 * served folder. Every test compares a fingerprint of everything outside the
 * root (contents, modes, times, names) before and after, and checks that no
 * byte of the secret outside ever reaches a client.
 *
 * Also here: a `tree-put ""` leaves the served root's mode alone, a bad
 * client's `tree-want` gets nothing outside nor in `.fts`, an unreadable
 * folder in `get -r` is reported by name while the rest arrives (the server
 * runs without CAP_DAC_OVERRIDE, since these tests run as root), and a FIFO
 * planted in the root does not freeze the server.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import { downloadTree } from "../client/tree_download.ts";
import type { TreeOptions } from "../client/tree_progress.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { upload } from "../client/upload.ts";
import {
  FtsError,
  InvalidPathError,
  PermissionError,
} from "../protocol/mod.ts";
import { randomBytes, startServe } from "./helpers/cli.ts";
import { startFlipper } from "./helpers/storage_flipper.ts";
import { startRestrictedServe, whyNoDacDrop } from "./helpers/storage_serve.ts";
import {
  bytesIn,
  filesWithSecret,
  type Jail,
  type JailServer,
  SECRET,
  serveJail,
  waitUntil,
  withJail,
} from "./helpers/storage_fixture.ts";
import { fileItem, TreePutPeer } from "./helpers/storage_peer.ts";

const OPTIONS: TreeOptions = { resume: false, noClobber: false, verify: true };
const MiB = 1024 * 1024;

/** A reporter that keeps what it is told. */
function recorder(): Reporter & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    info: (text) => void lines.push(text),
    error: (text) => void errors.push(text),
    progress: () => null,
  };
}

/** Runs `test` with a jail served in-process; everything is cleaned up. */
async function withJailServer(
  test: (jail: Jail, served: JailServer) => Promise<void>,
  extraOutside: string[] = [],
): Promise<void> {
  await withJail(async (jail) => {
    const served = await serveJail(jail);
    try {
      await test(jail, served);
    } finally {
      await served.close();
    }
    await jail.assertOutsideUntouched();
  }, extraOutside);
}

/** Writes a local source file of `size` random bytes; returns its path. */
async function source(jail: Jail, name: string, size: number) {
  const path = join(jail.local, name);
  await Deno.writeFile(path, randomBytes(size));
  return path;
}

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

// ---------------------------------------------------------------------------
// Deterministic attacks through a second connection

for (
  const variant of [
    {
      how: "a symlink to outside",
      plant: (jail: Jail) => Deno.symlink("../outside", join(jail.root, "out")),
      link: "out",
    },
    {
      how: "an in-root link docs/up -> .. moved to the top",
      plant: async (jail: Jail) => {
        await Deno.mkdir(join(jail.root, "docs"));
        await Deno.symlink("..", join(jail.root, "docs", "up"));
      },
      link: "docs/up",
    },
  ]
) {
  Deno.test(`put refuses a target folder swapped mid-upload for ${variant.how}`, async () => {
    await withJailServer(async (jail, served) => {
      await variant.plant(jail);
      await Deno.mkdir(join(jail.root, "t"));
      const local = await source(jail, "evil.bin", 2 * MiB);
      const first = await served.connect();
      const second = await served.connect();
      // 2 MiB at 2 MiB/s: a second on the way, caught at 256 KiB.
      const putting = upload(first, local, "t/evil.txt", {
        ...OPTIONS,
        limitRate: 2 * MiB,
      }, recorder());
      putting.catch(() => {});
      await waitUntil(
        "the upload to be part-way",
        async () =>
          await bytesIn(join(jail.root, ".fts", "partial")) >= 256 * 1024,
      );
      await second.move("t", "t_old");
      await second.move(variant.link, "t");
      const error = await assertRejects(() => putting, InvalidPathError);
      assertStringIncludes(error.message, "outside the served folder");
      assertFalse(error.reason.includes(jail.base), error.reason);
      assertFalse(await exists(join(jail.base, "evil.txt")));
      assertFalse(await exists(join(jail.outside, "evil.txt")));
      assertFalse(await exists(join(jail.root, "t_old", "evil.txt")));
      // The session goes on, and nothing shows under the link.
      await assertRejects(() => first.list("t"), InvalidPathError);
      assertEquals(await first.list("t_old"), []);
    });
  });
}

Deno.test("put -r: a folder swapped for a link to outside after its dir message receives no file and no chmod", async () => {
  await withJailServer(async (jail, served) => {
    await Deno.mkdir(join(jail.root, "dst"));
    await Deno.symlink(join(jail.outside, "sub"), join(jail.root, "lnk"));
    const big = randomBytes(3 * MiB);
    const small = new TextEncoder().encode("attacker's bytes\n");
    const peer = await TreePutPeer.connect(served.port);
    const mover = await served.connect();
    try {
      const manifest = [
        fileItem("sub/keep.txt", small.byteLength),
        fileItem("sub/new.bin", big.byteLength),
        fileItem("sub/x/keep.txt", small.byteLength),
      ];
      assertEquals(await peer.start("dst", manifest), 3);
      await peer.dir("", 0o777);
      await peer.dir("sub", 0o777);
      await peer.dir("sub/x", 0o777);
      // The folders exist now, in the root; then swapped by an mv.
      await waitUntil(
        "dst/sub/x to be made",
        () => exists(join(jail.root, "dst", "sub", "x")),
      );
      await mover.move("dst/sub", "dst/sub_old");
      await mover.move("lnk", "dst/sub");
      await peer.file("sub/keep.txt", small);
      await peer.file("sub/new.bin", big);
      await peer.file("sub/x/keep.txt", small);
      const { failed, last } = await peer.end();
      assertEquals(last.op, "tree-done", JSON.stringify(last));
      const paths = failed.map((failure) => failure.path).sort();
      // Every file failed, and so did setting the two folders' modes.
      assertEquals(paths, [
        "sub",
        "sub/keep.txt",
        "sub/new.bin",
        "sub/x",
        "sub/x/keep.txt",
      ]);
      for (const failure of failed) {
        assertFalse(failure.reason.includes(jail.base), failure.reason);
        assertFalse(failure.reason.includes("/proc/"), failure.reason);
      }
      // Nothing landed in the folder moved away either.
      assertEquals(
        [...Deno.readDirSync(join(jail.root, "dst", "sub_old"))]
          .map((entry) => entry.name),
        ["x"],
      );
    } finally {
      peer.close();
    }
  });
});

Deno.test("tree-put into the served root leaves the root's own mode and time alone", async () => {
  await withJailServer(async (jail, served) => {
    await Deno.chmod(jail.root, 0o755);
    const rootBefore = await Deno.stat(jail.root);
    // A raw dir "" with a mode and an old time …
    const peer = await TreePutPeer.connect(served.port);
    try {
      const data = new TextEncoder().encode("x");
      assertEquals(await peer.start("", [fileItem("a.txt", 1)]), 1);
      await peer.dir("", 0o700, 0);
      await peer.file("a.txt", data);
      const { failed, last } = await peer.end();
      assertEquals([last.op, failed], ["tree-done", []]);
    } finally {
      peer.close();
    }
    let root = await Deno.stat(jail.root);
    assertEquals(root.mode! & 0o7777, 0o755);
    assert(root.mtime!.getTime() >= rootBefore.mtime!.getTime());
    // … and the real client's put -r of a folder with mode 0700 to "".
    const local = join(jail.local, "src");
    await Deno.mkdir(local);
    await Deno.writeTextFile(join(local, "b.txt"), "b");
    await Deno.chmod(local, 0o700);
    const old = new Date("2002-02-02T00:00:00Z");
    await Deno.utime(local, old, old);
    const c = await served.connect();
    await uploadTree(c, local, "", OPTIONS, recorder());
    root = await Deno.stat(jail.root);
    assertEquals(root.mode! & 0o7777, 0o755);
    assert(root.mtime!.getTime() > old.getTime());
    assertEquals(await Deno.readTextFile(join(jail.root, "b.txt")), "b");
    await Deno.remove(local, { recursive: true });
  });
});

Deno.test("tree-want hands out nothing outside the root nor in .fts, whatever paths a client asks for", async () => {
  await withJailServer(async (jail, served) => {
    await Deno.mkdir(join(jail.root, "src"));
    await Deno.writeTextFile(join(jail.root, "src", "ok.txt"), "ok");
    await Deno.symlink(jail.outside, join(jail.root, "src", "out"));
    await Deno.symlink("../../outside/secret.txt", join(jail.root, "src", "s"));
    // Someone's interrupted upload waits in the staging area.
    const c = await served.connect();
    const local = await source(jail, "private.bin", 3 * MiB);
    const putting = upload(c, local, "private.bin", {
      ...OPTIONS,
      resume: true,
      limitRate: 4 * MiB,
    }, recorder());
    putting.catch(() => {});
    const partial = join(jail.root, ".fts", "partial");
    await waitUntil(
      "a partial to be staged",
      async () => await bytesIn(partial) > 64 * 1024,
    );
    c.abort();
    await putting.catch(() => {});
    const key = [...Deno.readDirSync(partial)][0].name;
    const peer = await TreePutPeer.connect(served.port);
    try {
      for (const root of ["", "src"]) {
        const { files, errors } = await peer.want(root, [
          "ok.txt",
          "../outside/secret.txt",
          "../../outside/secret.txt",
          "out/secret.txt",
          "s",
          `.fts/partial/${key}`,
          `.FTS/partial/${key}`,
          `../.fts/partial/${key}`,
          "/etc/passwd",
          "a\\b",
        ]);
        for (const [path, data] of files) {
          assertEquals(path, "ok.txt");
          assertEquals(new TextDecoder().decode(data), "ok");
        }
        assertEquals(files.size, root === "src" ? 1 : 0);
        assertEquals(errors.length, root === "src" ? 9 : 10);
      }
    } finally {
      peer.close();
    }
  });
});

/**
 * Small files after the big one, and their namesakes outside: enough that
 * some are read only after the swap, whatever the server reads ahead (it
 * reads two windows of 32 wanted files ahead of the one it sends).
 */
const MIRROR = Array.from(
  { length: 120 },
  (_, i) => `mirror/f${String(i).padStart(3, "0")}.txt`,
);

Deno.test("get -r paused in a large file while its folder is swapped for a link sends no file from outside", async () => {
  await withJailServer(async (jail, served) => {
    const sub = join(jail.root, "src", "sub");
    await Deno.mkdir(sub, { recursive: true });
    const big = randomBytes(24 * MiB);
    await Deno.writeFile(join(sub, "0big.bin"), big);
    for (const path of MIRROR) {
      await Deno.writeTextFile(join(sub, path.slice(7)), `inside ${path}`);
    }
    await Deno.symlink(join(jail.outside, "mirror"), join(jail.root, "lnk"));
    const back = join(jail.local, "back");
    const first = await served.connect();
    const mover = await served.connect();
    const report = recorder();
    // 24 MiB at 16 MiB/s: the big file takes 1.5 s; swapped at 2 MiB.
    const getting = downloadTree(first, "src", back, {
      ...OPTIONS,
      limitRate: 16 * MiB,
    }, report);
    getting.catch(() => {});
    await waitUntil(
      "the big file to be part-way",
      async () => await bytesIn(back) >= 2 * MiB,
    );
    await mover.move("src/sub", "src/sub_old");
    await mover.move("lnk", "src/sub");
    const error = await getting.then(() => null, (error) => error);
    assertEquals(await filesWithSecret(back), []);
    // The big file was opened before the swap: it is the one from inside.
    assertEquals(await Deno.readFile(join(back, "sub", "0big.bin")), big);
    // Files opened after the swap were refused, by name.
    assertInstanceOf(error, FtsError);
    assertGreater(report.errors.length, 0);
    for (const line of report.errors) {
      assertMatch(line, /^cannot get "sub\/f\d{3}\.txt": .*outside/, line);
      assertFalse(line.includes(jail.base), line);
    }
    for (const entry of Deno.readDirSync(join(back, "sub"))) {
      if (!entry.name.startsWith("f")) continue;
      assertEquals(
        await Deno.readTextFile(join(back, "sub", entry.name)),
        `inside mirror/${entry.name}`,
      );
    }
  }, MIRROR);
});

// ---------------------------------------------------------------------------
// Bounded races against a local process flipping a folder

/** How long each race runs, and the most requests it makes. */
const RACE_MS = 2000;
const RACE_ROUNDS = 400;

/**
 * Serves a jail whose `d/` (with `file.txt`, `a.txt`, `sub/keep.txt`,
 * `sub/x/keep.txt`, the names that also exist outside) a local process
 * flips with a symlink to `outside/` while `race` runs rounds of requests.
 */
async function withFlippedFolder(
  race: (ctx: {
    jail: Jail;
    c: Connection;
    round: number;
  }) => Promise<void>,
  minRounds = 20,
): Promise<void> {
  await withJailServer(async (jail, served) => {
    const d = join(jail.root, "d");
    await Deno.mkdir(join(d, "sub", "x"), { recursive: true });
    for (
      const name of ["file.txt", "a.txt", "sub/keep.txt", "sub/x/keep.txt"]
    ) {
      await Deno.writeTextFile(join(d, name), `inside ${name}`);
    }
    const c = await served.connect();
    const flipper = await startFlipper(jail.root, "d", jail.outside, RACE_MS);
    let rounds = 0;
    let flips = 0;
    try {
      const deadline = Date.now() + RACE_MS - 100;
      while (Date.now() < deadline && rounds < RACE_ROUNDS) {
        await race({ jail, c, round: rounds++ });
      }
    } finally {
      flipper.stop();
      flips = await flipper.done;
    }
    // The race really ran: many flips during many requests.
    assertGreater(flips, 1000);
    assertGreater(rounds, minRounds);
    assert((await Deno.lstat(d)).isDirectory);
  });
}

/** Runs `request`; a refusal is fine (the folder was a link then). */
async function attempt<T>(request: () => Promise<T>): Promise<T | null> {
  try {
    return await request();
  } catch (error) {
    if (!(error instanceof FtsError)) throw error;
    assertFalse(error.reason.includes("/tmp/"), error.message);
    assertFalse(error.reason.includes("/proc/"), error.message);
    return null;
  }
}

Deno.test("mkdir -p racing a local process that flips its parent folder creates nothing outside", async () => {
  await withFlippedFolder(async ({ c, round }) => {
    await attempt(() => c.mkdir(`d/sub/x/m${round}/deeper`));
    await attempt(() => c.mkdir(`d/canary/m${round}`));
  });
});

Deno.test("mv racing a local process that flips its parent folder moves nothing outside and nothing in", async () => {
  await withFlippedFolder(async ({ jail, c }) => {
    await attempt(() => c.move("d/a.txt", "d/moved.txt"));
    await attempt(() => c.move("d/moved.txt", "d/a.txt"));
    await attempt(() => c.move("d/sub", "d/sub2"));
    await attempt(() => c.move("d/sub2", "d/sub"));
    // Taking a file out of the flipped folder: never one from outside.
    if (await attempt(() => c.move("d/file.txt", "taken.txt")) !== null) {
      const taken = await Deno.readTextFile(join(jail.root, "taken.txt"));
      assertFalse(taken.includes(SECRET));
      await attempt(() => c.move("taken.txt", "d/file.txt"));
    }
  });
});

Deno.test("rm -r racing a local process that flips its parent folder deletes nothing outside", async () => {
  await withFlippedFolder(async ({ c, round }) => {
    await attempt(() => c.mkdir(`d/sub/x`));
    await attempt(() => c.remove(`d/sub/x/keep.txt`));
    await attempt(() => c.remove(`d/sub`, true));
    await attempt(() => c.remove(`d/canary`, true));
    if (round % 4 === 0) await attempt(() => c.remove(`d/file.txt`));
  });
});

Deno.test("get and ls racing a local process that flips the folder never return anything from outside", async () => {
  let gotten = 0;
  await withFlippedFolder(async ({ jail, c, round }) => {
    const local = join(jail.local, `got-${round}`);
    const ok = await attempt(() =>
      download(c, "d/file.txt", local, OPTIONS, recorder())
    );
    if (ok !== null) {
      gotten++;
      assertEquals(await Deno.readTextFile(local), "inside file.txt");
      await Deno.remove(local);
    }
    const listed = await attempt(() => c.list("d/sub"));
    if (listed) {
      assertEquals(listed.map((entry) => entry.name).sort(), ["keep.txt", "x"]);
    }
    const stat = await attempt(() => c.stat("d/secret.txt"));
    assertEquals(stat, null);
  });
  assertGreater(gotten, 0);
});

Deno.test("put racing a local process that flips the target's folder writes nothing outside", async () => {
  let written = 0;
  await withFlippedFolder(async ({ jail, c, round }) => {
    const local = join(jail.local, "payload.txt");
    if (round === 0) await Deno.writeTextFile(local, "attacker ".repeat(8000));
    const target = round % 2 ? "d/file.txt" : `d/sub/new${round}.txt`;
    if (await attempt(() => upload(c, local, target, OPTIONS, recorder()))) {
      written++;
    }
  });
  assertGreater(written, 0);
});

Deno.test("put -r racing a local process that flips its target folder writes and chmods nothing outside", async () => {
  let trees = 0;
  await withFlippedFolder(async ({ jail, c, round }) => {
    const tree = join(jail.local, "tree");
    if (round === 0) {
      // Folder names that exist outside too (sub, sub/x), with modes to set.
      for (const path of ["sub/x/n.txt", "sub/m.txt", "canary/c.txt"]) {
        await Deno.mkdir(join(tree, path, ".."), { recursive: true });
        await Deno.writeTextFile(join(tree, path), "attacker");
      }
      for (const dir of ["sub/x", "sub", "canary"]) {
        await Deno.chmod(join(tree, dir), 0o777);
      }
    }
    if (round >= 40) return;
    await attempt(() => uploadTree(c, tree, "d", OPTIONS, recorder()));
    trees++;
  }, 2);
  assertGreater(trees, 0);
});

Deno.test("get -r racing a local process that flips a subfolder sends nothing from outside", async () => {
  let trees = 0;
  await withFlippedFolder(async ({ jail, c, round }) => {
    if (round >= 30) return;
    const back = join(jail.local, `tree-${round}`);
    await downloadTree(c, "", back, OPTIONS, recorder()).catch(() => {});
    assertEquals(await filesWithSecret(back), []);
    trees++;
    await Deno.remove(back, { recursive: true }).catch(() => {});
  }, 2);
  assertGreater(trees, 0);
});

// ---------------------------------------------------------------------------
// Unreadable folders and special files

/**
 * Serves a jail holding `src/` with unreadable parts (`locked/` and
 * `zz-locked/`, mode 000 folders, and `closed.txt`, a mode 000 file) to
 * `test` over a client connection. As root, permission bits stop nothing;
 * so the server runs as root without CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH, where they do (as another user, they stop it anyway).
 */
async function withUnreadableTree(
  test: (jail: Jail, c: Connection) => Promise<void>,
): Promise<void> {
  const why = await whyNoDacDrop();
  if (why) console.log(`running the server as it is: ${why}`);
  await withJail(async (jail) => {
    const src = join(jail.root, "src");
    await Deno.mkdir(join(src, "locked", "inner"), { recursive: true });
    await Deno.mkdir(join(src, "ok"));
    await Deno.writeTextFile(join(src, "ok", "a.txt"), "a");
    await Deno.writeTextFile(join(src, "b.txt"), "b");
    await Deno.writeTextFile(join(src, "locked", "hidden.txt"), "h");
    await Deno.writeTextFile(join(src, "closed.txt"), "c");
    // One unreadable folder in the middle of its folder's names, one last.
    await Deno.mkdir(join(src, "zz-locked"));
    await Deno.writeTextFile(join(src, "zz-locked", "hidden.txt"), "h");
    for (const path of ["zz-locked", "locked", "closed.txt"]) {
      await Deno.chmod(join(src, path), 0o000);
    }
    const serve = await startRestrictedServe(jail.root, { dropDac: !why });
    try {
      const c = await Connection.open({
        hostname: "127.0.0.1",
        port: serve.port,
      });
      try {
        await test(jail, c);
      } finally {
        await c.close();
      }
    } finally {
      await serve.stop();
    }
    await jail.assertOutsideUntouched();
  });
}

Deno.test("get -r reports each unreadable folder and file by name, and the rest arrives", async () => {
  await withUnreadableTree(async (jail, c) => {
    const report = recorder();
    const back = join(jail.local, "back");
    const error = await downloadTree(c, "src", back, OPTIONS, report)
      .then(() => null, (error) => error);
    assertInstanceOf(error, FtsError);
    assertStringIncludes(error.message, "failed");
    assertEquals(await Deno.readTextFile(join(back, "ok", "a.txt")), "a");
    assertEquals(await Deno.readTextFile(join(back, "b.txt")), "b");
    assertFalse(await exists(join(back, "locked", "hidden.txt")));
    assertFalse(await exists(join(back, "zz-locked", "hidden.txt")));
    const errors = report.errors.join("\n");
    assertFalse(errors.includes('"?"'), errors);
    assertFalse(errors.includes(jail.base), errors);
    assertMatch(errors, /cannot get "closed\.txt": .*"src\/closed\.txt"/);
    assertMatch(errors, /cannot get "zz-locked": .*"src\/zz-locked"/);
    assertMatch(errors, /cannot get "locked": .*"src\/locked"/);
  });
});

Deno.test("requests on unreadable paths say permission denied and name the remote path", async () => {
  await withUnreadableTree(async (jail, c) => {
    const local = await source(jail, "x.txt", 10);
    const requests: [() => Promise<unknown>, string][] = [
      [() => c.list("src/locked"), "src/locked"],
      [() => c.mkdir("src/locked/new"), "src/locked"],
      [() => c.stat("src/locked/hidden.txt"), "src/locked"],
      [
        () =>
          download(
            c,
            "src/closed.txt",
            join(jail.local, "c"),
            OPTIONS,
            recorder(),
          ),
        "src/closed.txt",
      ],
      [
        () => upload(c, local, "src/locked/x.txt", OPTIONS, recorder()),
        "src/locked",
      ],
    ];
    for (const [request, shown] of requests) {
      const refusal = await assertRejects(request, PermissionError);
      assertStringIncludes(refusal.reason, `"${shown}`);
      assertFalse(refusal.reason.includes(jail.base), refusal.reason);
    }
  });
});

Deno.test("a FIFO planted in the root is refused by get without freezing the server for other sessions", async () => {
  await withJail(async (jail) => {
    const made = await new Deno.Command("mkfifo", {
      args: [join(jail.root, "pipe")],
    }).output();
    assert(made.success);
    await Deno.writeTextFile(join(jail.root, "ok.txt"), "ok");
    // A subprocess server: a frozen one must not freeze this test runner.
    const serve = await startServe(jail.root);
    let unblock: Deno.FsFile | undefined;
    const peer = await TreePutPeer.connect(serve.port);
    try {
      // The real client stats first and never asks; an attacker's does.
      const reply = peer.ask({
        op: "get",
        path: "pipe",
        offset: 0,
        verify: true,
      });
      reply.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 300));
      const timeout = "no answer within 2 s";
      const other = await Promise.race([
        (async () => {
          const c = await Connection.open({
            hostname: "127.0.0.1",
            port: serve.port,
          });
          try {
            return (await c.list("")).map((entry) => entry.name);
          } finally {
            c.abort();
          }
        })(),
        new Promise<string>((resolve) =>
          setTimeout(() => resolve(timeout), 2000)
        ),
      ]);
      const answer = await Promise.race([
        reply,
        new Promise<string>((resolve) =>
          setTimeout(() => resolve(timeout), 1000)
        ),
      ]);
      if (other === timeout || answer === timeout) {
        // Let the stuck open return, so the server can be stopped.
        unblock = await Deno.open(join(jail.root, "pipe"), { write: true });
      }
      assertEquals(other, ["ok.txt", "pipe"], "another session was frozen");
      if (typeof answer !== "object" || answer?.op !== "error") {
        throw new Error(`get was not refused: ${JSON.stringify(answer)}`);
      }
      assertStringIncludes(answer.reason, "pipe");
    } finally {
      peer.close();
      unblock?.close();
      await serve.stop("SIGKILL");
    }
    await jail.assertOutsideUntouched();
  });
});

// ---------------------------------------------------------------------------
// Requests racing other connections' mv, in both resolution modes

for (const mode of ["race-free", "fallback (no FFI)"] as const) {
  Deno.test(`requests racing another connection's mv of their folder for a link cannot get out (${mode})`, async () => {
    await withJail(async (jail) => {
      const d = join(jail.root, "d");
      await Deno.mkdir(join(d, "sub", "x"), { recursive: true });
      for (const name of ["file.txt", "a.txt", "sub/keep.txt"]) {
        await Deno.writeTextFile(join(d, name), `inside ${name}`);
      }
      await Deno.symlink(jail.outside, join(jail.root, "lnk"));
      const payload = join(jail.local, "payload.txt");
      await Deno.writeTextFile(payload, "attacker ".repeat(4000));
      const serve = await startRestrictedServe(jail.root, {
        noFfi: mode !== "race-free",
      });
      const opened: Connection[] = [];
      const connect = async () => {
        const c = await Connection.open({
          hostname: "127.0.0.1",
          port: serve.port,
        });
        opened.push(c);
        return c;
      };
      try {
        const deadline = Date.now() + RACE_MS;
        let swaps = 0;
        let done = 0;
        const swapper = (async () => {
          const c = await connect();
          // d is the real folder, then the link, then the real folder again.
          while (Date.now() < deadline && swaps < 4 * RACE_ROUNDS) {
            await attempt(() => c.move("d", "d_real"));
            await attempt(() => c.move("lnk", "d"));
            await attempt(() => c.move("d", "lnk"));
            await attempt(() => c.move("d_real", "d"));
            swaps++;
          }
        })();
        const tree = join(jail.local, "tree");
        for (let i = 0; i < 30; i++) {
          await Deno.mkdir(join(tree, `s${i % 3}`), { recursive: true });
          await Deno.writeTextFile(join(tree, `s${i % 3}`, `t${i}.txt`), "t");
        }
        const treeWorker = async () => {
          const c = await connect();
          for (let i = 0; Date.now() < deadline && i < RACE_ROUNDS; i++) {
            await attempt(() =>
              uploadTree(c, tree, "d/tree", OPTIONS, recorder())
            );
            await attempt(() => c.remove("d/tree", true));
          }
        };
        const worker = async (id: number) => {
          const c = await connect();
          for (let i = 0; Date.now() < deadline && i < RACE_ROUNDS; i++) {
            await attempt(() => c.mkdir(`d/sub/x/w${id}-${i}`));
            await attempt(() =>
              upload(c, payload, `d/file.txt`, OPTIONS, recorder())
            );
            const local = join(jail.local, `got-${id}-${i}`);
            if (
              await attempt(() =>
                download(c, "d/a.txt", local, OPTIONS, recorder())
              ) !== null
            ) {
              assertEquals(await Deno.readTextFile(local), "inside a.txt");
              await Deno.remove(local);
            }
            const listed = await attempt(() => c.list("d"));
            for (const entry of listed ?? []) {
              assertFalse(entry.name === "secret.txt", "listed outside");
              assertFalse(entry.name === "canary", "listed outside");
            }
            await attempt(() => c.remove("d/sub", true));
            await attempt(() => c.mkdir("d/sub/x"));
            done++;
          }
        };
        await Promise.all([swapper, worker(1), worker(2), treeWorker()]);
        assertGreater(swaps, 10);
        assertGreater(done, 10);
      } finally {
        for (const c of opened) c.abort();
        await serve.stop();
      }
      await jail.assertOutsideUntouched();
    });
  });
}
