/**
 * Whole folder trees with `put -r` and `get -r`, through a real server on
 * 127.0.0.1: identical round trips (names, contents, modes, mtimes, empty
 * files and folders, a 100 MiB file), `cp -r` destination rules, resuming
 * after a SIGKILL, symlinks skipped and never created, and per-file failures
 * reported by name while the rest arrive.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { createHash } from "node:crypto";
import { downloadTree } from "../client/tree_download.ts";
import type { TreeOptions } from "../client/tree_progress.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { FtsError } from "../protocol/mod.ts";
import { randomBytes, runFts, spawnFts, withServe } from "./helpers/cli.ts";
import { plant } from "./helpers/plant.ts";
import { withServerConnections } from "./helpers/server.ts";
import { recorder } from "./helpers/recorder.ts";

const OPTIONS: TreeOptions = { resume: true, noClobber: false, verify: true };

/** What a tree holds, path by path: type, mode bits, mtime, content hash. */
type Snapshot = Record<string, string>;

/** Describes every entry under `root` (without following symlinks). */
function snapshot(
  root: string,
  skip: (name: string) => boolean = () => false,
): Snapshot {
  const result: Snapshot = {};
  const visit = (relative: string) => {
    const host = relative === "" ? root : join(root, relative);
    const info = Deno.lstatSync(host);
    const mode = (info.mode! & 0o777).toString(8);
    const mtime = info.mtime!.getTime();
    if (info.isDirectory) {
      result[relative || "."] = `dir ${mode} ${mtime}`;
      for (const entry of Deno.readDirSync(host)) {
        if (skip(entry.name)) continue;
        visit(relative === "" ? entry.name : `${relative}/${entry.name}`);
      }
    } else if (info.isFile) {
      const hash = createHash("sha256");
      using file = Deno.openSync(host);
      const buffer = new Uint8Array(1 << 20);
      for (let n; (n = file.readSync(buffer)) !== null;) {
        hash.update(buffer.subarray(0, n));
      }
      result[relative] = `file ${mode} ${mtime} ${hash.digest("hex")}`;
    } else {
      result[relative] = info.isSymlink ? "symlink" : "other";
    }
  };
  visit("");
  return result;
}

/** Whether anything is at `path` (a link counts). */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

const notFts = (name: string) =>
  name === ".fts" || name.startsWith(".fts-partial-");

/**
 * A tree with nested folders, Unicode names, spaces, empty files, empty
 * folders, odd modes and old mtimes; `big` adds a file of that many bytes.
 */
function makeTree(root: string, big = 0): void {
  Deno.mkdirSync(root, { recursive: true });
  plant(root, "a b/ü日本/file with spaces.txt", randomBytes(1000), 0o640);
  plant(root, "a b/ü日本/Ω.md", "omega\n", 0o600);
  plant(root, "empty.txt", "");
  plant(root, "nested/deeper/deepest/x.bin", randomBytes(70 * 1024), 0o755);
  plant(root, "nested/y.bin", randomBytes(1024 * 1024 + 1));
  for (let i = 0; i < 50; i++) {
    plant(root, `many/f${i}.dat`, randomBytes(i * 100));
  }
  if (big > 0) plant(root, "big.bin", randomBytes(big));
  Deno.mkdirSync(join(root, "empty dir"));
  Deno.mkdirSync(join(root, "nested/emptier/still empty"), { recursive: true });
  Deno.chmodSync(join(root, "nested/emptier"), 0o700);
  // Folder times last, deepest first, as writing files changes them.
  const dirs = [
    "nested/emptier/still empty",
    "nested/emptier",
    "nested/deeper/deepest",
    "nested/deeper",
    "nested",
    "a b/ü日本",
    "a b",
    "many",
    "empty dir",
    "",
  ];
  dirs.forEach((dir, i) => {
    const when = new Date(Date.UTC(2022, 0, 1 + i, 12));
    Deno.utimeSync(join(root, dir), when, when);
  });
}

Deno.test("put -r then get -r gives back an identical tree, 100 MiB file included", async () => {
  await withServerConnections(async ({ root, work, open }) => {
    const source = join(work, "src");
    makeTree(source, 100 * 1024 * 1024);
    const expected = snapshot(source);
    const c = await open();
    const report = recorder({ errors: true });
    const sent = await uploadTree(c, source, "copy", OPTIONS, report);
    assertEquals(sent.failed, 0);
    assertEquals(sent.files, 56);
    assertEquals(snapshot(join(root, "copy")), expected);
    const back = join(work, "back");
    const got = await downloadTree(
      c,
      "copy",
      back,
      OPTIONS,
      recorder({ errors: true }),
    );
    assertEquals(got.files, 56);
    assertEquals(snapshot(back, notFts), expected);
    // Nothing is left behind in the staging areas.
    assertEquals([...Deno.readDirSync(join(root, ".fts", "partial"))], []);
    assertEquals(
      [...Deno.readDirSync(back)].filter((e) => notFts(e.name)),
      [],
    );
    // A second run moves nothing.
    const again = recorder({ errors: true });
    const rerun = await uploadTree(c, source, "copy", OPTIONS, again);
    assertEquals(rerun.files, 0);
    assertEquals(rerun.upToDate, 56);
    assert(again.lines.includes("all 56 files already up to date"));
    const reget = await downloadTree(
      c,
      "copy",
      back,
      OPTIONS,
      recorder({ errors: true }),
    );
    assertEquals(reget.files, 0);
    assertEquals(snapshot(back, notFts), expected);
  });
});

Deno.test("put -r and get -r over several connections (-P 3) give the same tree", async () => {
  await withServerConnections(async ({ root, work, open }) => {
    const source = join(work, "src");
    makeTree(source);
    const expected = snapshot(source);
    const c = await open();
    const options = { ...OPTIONS, parallel: 3 };
    const sent = await uploadTree(
      c,
      source,
      "p",
      options,
      recorder({ errors: true }),
      open,
    );
    assertEquals(sent.files, 55);
    assertEquals(snapshot(join(root, "p")), expected);
    const back = join(work, "back");
    await downloadTree(c, "p", back, options, recorder({ errors: true }), open);
    assertEquals(snapshot(back, notFts), expected);
  });
});

Deno.test("put -r and get -r follow cp -r: a new destination becomes the copy, an existing folder gets it inside", async () => {
  await withServe(async (address, root, work) => {
    const source = join(work, "photos");
    makeTree(source);
    const expected = snapshot(source);
    const fts = (...args: string[]) =>
      runFts(["connect", address, ...args], { cwd: work });

    // Default destination: the source's name in the remote working folder.
    assertEquals((await fts("put", "-r", "photos")).code, 0);
    assertEquals(snapshot(join(root, "photos")), expected);
    // A destination that does not exist becomes the copy.
    const fresh = await fts("put", "-r", "photos", "backup");
    assertEquals(fresh.code, 0, fresh.stderr);
    assertEquals(snapshot(join(root, "backup")), expected);
    // An existing folder gets the source folder inside it.
    const inside = await fts("put", "-r", "photos", "backup");
    assertEquals(inside.code, 0, inside.stderr);
    assertEquals(snapshot(join(root, "backup", "photos")), expected);
    // A file in the way is refused.
    Deno.writeTextFileSync(join(root, "a-file"), "x");
    const onFile = await fts("put", "-r", "photos", "a-file");
    assertEquals(onFile.code, 1);
    assertStringIncludes(onFile.stderr, 'cannot put -r "photos"');

    // The same both ways for get -r.
    const getDefault = await fts("get", "-r", "backup/photos");
    assertEquals(getDefault.code, 0, getDefault.stderr);
    assertEquals(snapshot(join(work, "photos"), notFts), expected);
    const getFresh = await fts("get", "-r", "photos", "restored");
    assertEquals(getFresh.code, 0, getFresh.stderr);
    assertEquals(snapshot(join(work, "restored"), notFts), expected);
    const getInside = await fts("get", "-r", "photos", "restored");
    assertEquals(getInside.code, 0, getInside.stderr);
    assertEquals(snapshot(join(work, "restored", "photos"), notFts), expected);
    // get -r of a file is refused with a hint.
    const notDir = await fts("get", "-r", "a-file", "x");
    assertEquals(notDir.code, 1);
    assertStringIncludes(notDir.stderr, "use get without -r");
  });
});

Deno.test("put -r SRC/ DEST and get -r SRC/ DEST copy into DEST itself when it exists, so a rerun after a first run that made DEST does not nest", async () => {
  await withServe(async (address, root, work) => {
    const source = join(work, "photos");
    makeTree(source);
    const expected = snapshot(source);
    const fts = (...args: string[]) =>
      runFts(["connect", address, ...args], { cwd: work });
    assertEquals((await fts("put", "-r", "photos", "backup")).code, 0);
    const again = await fts("put", "-r", "photos/", "backup");
    assertEquals(again.code, 0, again.stderr);
    assertStringIncludes(again.stderr, "already up to date");
    assertEquals(snapshot(join(root, "backup")), expected);
    assert(!exists(join(root, "backup", "photos")));

    assertEquals((await fts("get", "-r", "backup", "restored")).code, 0);
    const reget = await fts("get", "-r", "backup/", "restored");
    assertEquals(reget.code, 0, reget.stderr);
    assertEquals(snapshot(join(work, "restored"), notFts), expected);
    assert(!exists(join(work, "restored", "backup")));
  });
});

Deno.test("a tree upload killed halfway resumes: only the missing files move", async () => {
  const { log } = await withServe(async (address, root, work) => {
    const source = join(work, "tree");
    const count = 120;
    for (let i = 0; i < count; i++) {
      plant(source, `d${i % 3}/f${i}.bin`, randomBytes(32 * 1024));
    }
    const expected = snapshot(source);
    // 120 x 32 KiB at 1 MiB/s takes about 4 s; kill it part-way.
    const child = spawnFts(
      ["connect", address, "put", "-r", "tree", "--limit-rate", "1M"],
      work,
    );
    const arrived = () => {
      let n = 0;
      for (let d = 0; d < 3; d++) {
        try {
          n += [...Deno.readDirSync(join(root, "tree", `d${d}`))].length;
        } catch {
          // Not there yet.
        }
      }
      return n;
    };
    const deadline = Date.now() + 20_000;
    while (arrived() < 30 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill("SIGKILL");
    await child.status;
    const before = arrived();
    assert(before >= 30 && before < count, `${before} files arrived`);
    // Files already in place are complete: same bytes as the source.
    for (let d = 0; d < 3; d++) {
      for (const entry of Deno.readDirSync(join(root, "tree", `d${d}`))) {
        assertEquals(
          expected[`d${d}/${entry.name}`],
          snapshot(join(root, "tree"))[`d${d}/${entry.name}`],
        );
      }
    }
    const rerun = await runFts(["connect", address, "put", "-r", "tree"], {
      cwd: work,
    });
    assertEquals(rerun.code, 0, rerun.stderr);
    const skipped = Number(
      /(\d+) already up to date/.exec(rerun.stderr)?.[1],
    );
    assert(skipped >= before, `${skipped} skipped, ${before} had arrived`);
    assertStringIncludes(rerun.stderr, `sent ${count - skipped} files`);
    assertEquals(snapshot(join(root, "tree")), expected);
    assertEquals([...Deno.readDirSync(join(root, ".fts", "partial"))], []);
  });
  // The server's log agrees: the rerun received only the missing files.
  const runs = [
    ...log.matchAll(
      /tree-put "tree" \d+B \S+ ok, (\d+) files, (\d+) up to date, 0 failed/g,
    ),
  ];
  assertEquals(runs.length, 1);
  assertEquals(Number(runs[0][1]) + Number(runs[0][2]), 120);
  assert(Number(runs[0][2]) >= 30);
});

Deno.test("symlinks are skipped and reported, never followed or created, both ways", async () => {
  await withServe(async (address, root, work) => {
    const source = join(work, "src");
    plant(source, "real.txt", "real");
    Deno.symlinkSync("/etc", join(source, "etc-link"));
    Deno.symlinkSync("/etc/passwd", join(source, "passwd-link"));
    Deno.mkdirSync(join(source, "sub"));
    Deno.symlinkSync("../real.txt", join(source, "sub", "inside-link"));
    const put = await runFts(["connect", address, "put", "-r", "src"], {
      cwd: work,
    });
    assertEquals(put.code, 0, put.stderr);
    assertStringIncludes(put.stderr, 'skipped symlink "etc-link"');
    assertStringIncludes(put.stderr, 'skipped symlink "passwd-link"');
    assertStringIncludes(put.stderr, 'skipped symlink "sub/inside-link"');
    assertEquals(Object.keys(snapshot(join(root, "src"))).sort(), [
      ".",
      "real.txt",
      "sub",
    ]);

    // A symlink planted inside the served tree is not sent either.
    Deno.symlinkSync("/etc", join(root, "src", "sub", "escape"));
    Deno.symlinkSync("/etc/passwd", join(root, "src", "pw"));
    const get = await runFts(
      ["connect", address, "get", "-r", "src", "back"],
      { cwd: work },
    );
    assertEquals(get.code, 0, get.stderr);
    assertStringIncludes(get.stderr, 'skipped symlink "sub/escape"');
    assertStringIncludes(get.stderr, 'skipped symlink "pw"');
    assertEquals(Object.keys(snapshot(join(work, "back"))).sort(), [
      ".",
      "real.txt",
      "sub",
    ]);
  });
});

Deno.test("a file that fails is reported by name, the rest arrive, and the exit status is 1", async () => {
  await withServe(async (address, root, work) => {
    const source = join(work, "src");
    for (let i = 0; i < 10; i++) plant(source, `f${i}.txt`, `file ${i}`);
    // On the server a folder occupies the place of f3.txt.
    Deno.mkdirSync(join(root, "src", "f3.txt", "blocker"), { recursive: true });
    const put = await runFts(["connect", address, "put", "-r", "src"], {
      cwd: work,
    });
    assertEquals(put.code, 1);
    assertMatch(put.stderr, /cannot put "f3\.txt": .*folder/);
    assertStringIncludes(
      put.stderr,
      'cannot put -r "src": 1 of 10 files failed',
    );
    for (let i = 0; i < 10; i++) {
      if (i === 3) continue;
      assertEquals(
        Deno.readTextFileSync(join(root, "src", `f${i}.txt`)),
        `file ${i}`,
      );
    }

    // The same for get -r: a local folder where a file should go.
    Deno.removeSync(join(root, "src", "f3.txt"), { recursive: true });
    Deno.writeTextFileSync(join(root, "src", "f3.txt"), "file 3");
    // "back" exists, so the tree lands in back/src (cp -r).
    Deno.mkdirSync(join(work, "back", "src", "f7.txt"), { recursive: true });
    const get = await runFts(["connect", address, "get", "-r", "src", "back"], {
      cwd: work,
    });
    assertEquals(get.code, 1);
    assertMatch(get.stderr, /cannot get "f7\.txt": .*folder/);
    assertStringIncludes(
      get.stderr,
      'cannot get -r "src": 1 of 10 files failed',
    );
    for (let i = 0; i < 10; i++) {
      if (i === 7) continue;
      assertEquals(
        Deno.readTextFileSync(join(work, "back", "src", `f${i}.txt`)),
        `file ${i}`,
      );
    }
  });
});

Deno.test("uploadTree throws one typed error counting the failures", async () => {
  await withServerConnections(async ({ root, work, open }) => {
    const source = join(work, "src");
    for (let i = 0; i < 4; i++) plant(source, `f${i}`, "x");
    Deno.mkdirSync(join(root, "dst", "f1"), { recursive: true });
    Deno.mkdirSync(join(root, "dst", "f2"), { recursive: true });
    const report = recorder({ errors: true });
    const c = await open();
    await assertRejects(
      () => uploadTree(c, source, "dst", OPTIONS, report),
      FtsError,
      'cannot put -r "' + source + '": 2 of 4 files failed',
    );
    assertEquals(report.lines.filter((l) => l.startsWith("error:")).length, 2);
    assertEquals(Deno.readTextFileSync(join(root, "dst", "f3")), "x");
  });
});

Deno.test("tree transfers honour --limit-rate both ways", async () => {
  await withServerConnections(async ({ work, open }) => {
    const source = join(work, "src");
    for (let i = 0; i < 12; i++) {
      plant(source, `f${i}.bin`, randomBytes(128 * 1024));
    }
    plant(source, "big.bin", randomBytes(2 * 1024 * 1024));
    const expected = snapshot(source);
    const c = await open();
    // 3.5 MiB at 2 MiB/s: at least about 1.5 s each way.
    const options = { ...OPTIONS, limitRate: 2 * 1024 * 1024 };
    let started = performance.now();
    await uploadTree(c, source, "slow", options, recorder({ errors: true }));
    const up = performance.now() - started;
    started = performance.now();
    const back = join(work, "back");
    await downloadTree(c, "slow", back, options, recorder({ errors: true }));
    const down = performance.now() - started;
    assert(up > 1400, `put -r took ${up} ms`);
    assert(down > 1400, `get -r took ${down} ms`);
    assertEquals(snapshot(back, notFts), expected);
  });
});

Deno.test("the shell runs put -r and get -r", async () => {
  await withServe(async (address, root, work) => {
    const source = join(work, "docs");
    makeTree(source);
    const expected = snapshot(source);
    Deno.mkdirSync(join(work, "out"));
    const shell = await runFts(["connect", address], {
      cwd: work,
      stdin: "mkdir remote\ncd remote\nput -r docs\nlcd out\nget -r docs\n",
    });
    assertEquals(shell.code, 0, shell.stderr);
    assertEquals(snapshot(join(root, "remote", "docs")), expected);
    assertEquals(snapshot(join(work, "out", "docs"), notFts), expected);
  });
});
