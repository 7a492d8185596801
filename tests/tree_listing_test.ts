/**
 * Tree listings on both ends: the folder reader that lists a held folder
 * with `getdents64` and `fstatat`, the client's `put -r` walk built on it,
 * the server's walk that lists many folders per worker message, its
 * streamed `tree-get` listing, and the
 * quick check of a `put -r` rerun over more folders and lines than one
 * batch holds; and the staging workers' writes and renames straight on held
 * folder descriptors.
 *
 * @module
 */

import { assert, assertEquals, assertFalse, assertRejects } from "@std/assert";
import { join } from "@std/path";
import {
  treeItem,
  walkLocalTree,
  walkLocalTreeInTurns,
} from "../client/tree_walk.ts";
import { readFolderStats } from "../transfer/folder_stats.ts";
import { readSmallFile } from "../transfer/small_file_read.ts";
import { renameHeld, writeHeldFile } from "../transfer/durable/held_paths.ts";
import {
  closeFd,
  haveLibc,
  O_DIRECTORY,
  O_RDONLY,
  openAt,
} from "../transfer/libc.ts";
import { LocalStore } from "../server/storage/local/local_store.ts";
import type { WalkItem } from "../server/storage/store.ts";
import { listingLines } from "../server/native/tree_listing.ts";
import type { TreeItem } from "../protocol/mod.ts";
import { runFts, withServe } from "./helpers/cli.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

/** Names that test the decoding: spaces, a newline, non-ASCII, a dot name. */
const ODD_NAMES = ["a b.txt", "line\nbreak", "ünï©ødé.txt", ".hidden", "..x"];

/** Makes a folder of odd names, a subfolder, a symlink and a FIFO. */
async function oddFolder(root: string): Promise<void> {
  for (const name of ODD_NAMES) {
    await Deno.writeTextFile(join(root, name), name);
  }
  await Deno.mkdir(join(root, "sub"));
  await Deno.writeTextFile(join(root, "sub", "inner.txt"), "inner");
  await Deno.symlink("sub", join(root, "link"));
  await new Deno.Command("mkfifo", { args: [join(root, "fifo")] }).output();
  // A time with sub-millisecond digits: both readers must cut it alike.
  await Deno.utime(
    join(root, "a b.txt"),
    1_700_000_000.1239,
    1_700_000_000.1239,
  );
}

/** The tree as Deno's own calls see it, walked as `put -r` walks. */
function referenceWalk(root: string): string[] {
  const out: string[] = [];
  const visit = (relative: string) => {
    const folder = relative === "" ? root : join(root, relative);
    const names = [...Deno.readDirSync(folder)].map((e) => e.name).sort();
    const subfolders: string[] = [];
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const item = treeItem(path, Deno.lstatSync(join(folder, name)));
      out.push(JSON.stringify(item));
      if (item.type === "dir") subfolders.push(path);
    }
    subfolders.forEach(visit);
  };
  visit("");
  return out;
}

Deno.test({
  name:
    "readFolderStats lists a held folder's entries with lstat's type, size, mode and time, odd names intact (needs libc by FFI)",
  ignore: prerequisite("libc by FFI", haveLibc()),
}, async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-listing-" });
  try {
    await oddFolder(root);
    const fd = openAt(-100, root, O_RDONLY | O_DIRECTORY);
    let found;
    try {
      // The stat object is reused: each entry copies what it keeps.
      found = readFolderStats(fd, (name, stat) => ({ name, ...stat }));
    } finally {
      closeFd(fd);
    }
    const names = found.map((entry) => entry.name).sort();
    assertEquals(
      names,
      [...ODD_NAMES, "sub", "link", "fifo"].sort(),
    );
    for (const entry of found) {
      const info = Deno.lstatSync(join(root, entry.name));
      assertEquals(entry.size, info.size, entry.name);
      assertEquals(entry.mode & 0o7777, info.mode! & 0o7777, entry.name);
      assertEquals(entry.mtimeMs, info.mtime!.getTime(), entry.name);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the put -r walk sees what Deno's lstat sees, in the same order: odd names, links and FIFOs as themselves, sub-millisecond times cut alike", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-walk-" });
  try {
    await oddFolder(root);
    for (let i = 0; i < 30; i++) {
      await Deno.mkdir(join(root, `d${i}`, "deeper"), { recursive: true });
      await Deno.writeTextFile(join(root, `d${i}`, "deeper", "f"), `${i}`);
    }
    const tree = walkLocalTree(root);
    const walked = [...tree.dirs.slice(1), ...tree.files, ...tree.skipped]
      .map((item) => JSON.stringify(item));
    assertEquals(walked.toSorted(), referenceWalk(root).toSorted());
    // Files in walk order: by folder, depth first, names sorted.
    const files = referenceWalk(root).filter((line) =>
      JSON.parse(line).type === "file"
    );
    assertEquals(tree.files.map((item) => JSON.stringify(item)), files);
    assertEquals(tree.skipped.map((item) => item.path).sort(), [
      "fifo",
      "link",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the walk that takes turns gives the same tree as the plain walk and lets timers and I/O run while it walks", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-walk-turns-" });
  try {
    for (let i = 0; i < 40; i++) {
      await Deno.mkdir(join(root, `d${i}`, "deeper"), { recursive: true });
      await Deno.writeTextFile(join(root, `d${i}`, "deeper", "f"), `${i}`);
    }
    let ran = false;
    setTimeout(() => ran = true, 0);
    // A slice of 0 ms yields after every folder.
    const tree = await walkLocalTreeInTurns(root, 0);
    assert(ran, "a timer set before the walk ran before it ended");
    assertEquals(tree, walkLocalTree(root));
    assertEquals(tree.files.length, 40);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the server's walk lists a tree wider than one worker batch in order, the same in both store modes, and listMany answers each folder or its error", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-serverwalk-" });
  try {
    // 150 folders side by side (more than one batch), each with two below.
    for (let i = 0; i < 150; i++) {
      const name = `f${String(i).padStart(3, "0")}`;
      for (const below of ["x", "y"]) {
        await Deno.mkdir(join(root, name, below), { recursive: true });
        await Deno.writeTextFile(join(root, name, below, "a.txt"), name);
      }
    }
    await Deno.symlink("f000", join(root, "link"));
    const walks: string[][] = [];
    for (const noLibc of [false, true]) {
      const store = await LocalStore.open(root, { noLibc });
      try {
        const seen: string[] = [];
        for await (const item of store.walk("")) {
          const { type, size, mtime, mode } = item.entry!;
          seen.push(`${item.path} ${type} ${size} ${mtime} ${mode}`);
        }
        walks.push(seen);
        const listed = await store.folderListings.listMany([
          "f001",
          "missing",
          "f002/x",
          "link",
        ]);
        assertEquals((listed[0] as { name: string }[]).map((e) => e.name), [
          "x",
          "y",
        ]);
        assert(listed[1] instanceof Error);
        assertEquals((listed[2] as { name: string }[]).map((e) => e.name), [
          "a.txt",
        ]);
        // A link inside the root is followed for a listing, as list() does.
        assertEquals((listed[3] as { name: string }[]).map((e) => e.name), [
          "x",
          "y",
        ]);
      } finally {
        await store.close();
      }
    }
    assertEquals(walks[0], walks[1]);
    const paths = walks[0].map((line) => line.split(" ")[0]);
    const expected = ["f000"];
    for (let i = 1; i < 150; i++) {
      expected.push(`f${String(i).padStart(3, "0")}`);
    }
    expected.push("link");
    for (let i = 0; i < 150; i++) {
      const name = `f${String(i).padStart(3, "0")}`;
      expected.push(
        `${name}/x`,
        `${name}/y`,
        `${name}/x/a.txt`,
        `${name}/y/a.txt`,
      );
    }
    assertEquals(paths, expected);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a put -r rerun over more folders and lines than one quick-check batch sends exactly the files changed in between, wherever they fall", async () => {
  const { log } = await withServe(async (address, root, work) => {
    const source = join(work, "tree");
    // 100 folders of 30 files: 3,000 lines, more than one batch of lines
    // and of folders.
    for (let d = 0; d < 100; d++) {
      await Deno.mkdir(join(source, `d${d}`), { recursive: true });
      for (let f = 0; f < 30; f++) {
        await Deno.writeTextFile(join(source, `d${d}`, `f${f}`), `${d}.${f}`);
      }
    }
    const first = await runFts(["connect", address, "put", "-r", "tree"], {
      cwd: work,
    });
    assertEquals(first.code, 0, first.stderr);
    // Changes in the first, a middle and the last folder, and one new file.
    const changed = ["d0/f0", "d49/f29", "d50/f0", "d99/f29"];
    for (const path of changed) {
      await Deno.writeTextFile(join(source, path), "changed, longer");
    }
    await Deno.writeTextFile(join(source, "d77", "new"), "new");
    const rerun = await runFts(["connect", address, "put", "-r", "tree"], {
      cwd: work,
    });
    assertEquals(rerun.code, 0, rerun.stderr);
    for (const path of [...changed, "d77/new"]) {
      assertEquals(
        await Deno.readTextFile(join(root, "tree", path)),
        await Deno.readTextFile(join(source, path)),
      );
    }
  });
  const runs = [
    ...log.matchAll(
      /tree-put "tree" \d+B \S+ ok, (\d+) files, (\d+) up to date, 0 failed/g,
    ),
  ].map((match) => [Number(match[1]), Number(match[2])]);
  assertEquals(runs, [[3000, 0], [5, 2996]]);
});

Deno.test({
  name:
    "a staged file in a held folder is written and renamed straight on the folder's descriptor, never through an existing name or link, and plain paths are left to Deno (needs libc by FFI)",
  ignore: prerequisite("libc by FFI", haveLibc()),
}, async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-held-" });
  const dir = openAt(-100, root, O_RDONLY | O_DIRECTORY);
  try {
    const at = (name: string) => `/proc/self/fd/${dir}/${name}`;
    const mtime = 1_700_000_000_123;
    assert(
      writeHeldFile(at("staged"), new TextEncoder().encode("hi"), 0o640, mtime),
    );
    const info = await Deno.lstat(join(root, "staged"));
    assertEquals(await Deno.readTextFile(join(root, "staged")), "hi");
    assertEquals(info.mtime!.getTime(), mtime);
    assertEquals(info.mode! & 0o777, 0o640 & ~Deno.umask());
    // An existing name, or a link, is never written through.
    await Deno.writeTextFile(join(root, "kept"), "old");
    await Deno.symlink("kept", join(root, "link"));
    assertFalse(writeHeldFile(at("kept"), new Uint8Array(1), 0o600, null));
    assertFalse(writeHeldFile(at("link"), new Uint8Array(1), 0o600, null));
    assertEquals(await Deno.readTextFile(join(root, "kept")), "old");
    // A plain path is the caller's to write.
    assertFalse(
      writeHeldFile(join(root, "plain"), new Uint8Array(1), 0o600, null),
    );
    await assertRejects(() => Deno.lstat(join(root, "plain")));
    assert(renameHeld(at("staged"), at("kept")));
    assertEquals(await Deno.readTextFile(join(root, "kept")), "hi");
    assertFalse(renameHeld(at("missing"), at("other")));
    assertFalse(renameHeld(join(root, "kept"), join(root, "moved")));
  } finally {
    closeFd(dir);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name:
    "put -r's small-file read gives a file's bytes, fewer when it shrank, and leaves a file that grew, a link or a missing file to Deno (needs libc by FFI)",
  ignore: prerequisite("libc by FFI", haveLibc()),
}, async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-read-" });
  try {
    const path = join(root, "f.txt");
    await Deno.writeTextFile(path, "hello");
    assertEquals(new TextDecoder().decode(readSmallFile(path, 5)!), "hello");
    assertEquals(new TextDecoder().decode(readSmallFile(path, 9)!), "hello");
    assertEquals(readSmallFile(path, 3), null);
    await Deno.symlink("f.txt", join(root, "link"));
    assertEquals(readSmallFile(join(root, "link"), 5), null);
    assertEquals(readSmallFile(join(root, "missing"), 5), null);
    assertEquals(readSmallFile(join(root, "empty"), 0), null);
    await Deno.writeFile(join(root, "empty"), new Uint8Array());
    assertEquals(readSmallFile(join(root, "empty"), 0)!.byteLength, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a streamed tree listing puts each folder before what it holds, a folder's read error on its own line, empty folders last, in chunks of a thousand lines", async () => {
  const file = (name: string) => ({
    name,
    type: "file" as const,
    size: 1,
    mtime: 5,
    mode: 0o644,
  });
  const dir = (name: string) => ({ ...file(name), type: "dir" as const });
  // A walk of: a/ (1,500 files), b/ (unreadable), c/ (empty), d.txt.
  const walked: WalkItem[] = [
    { path: "a", entry: dir("a") },
    { path: "b", entry: dir("b") },
    { path: "c", entry: dir("c") },
    { path: "d.txt", entry: file("d.txt") },
  ];
  for (let i = 0; i < 1500; i++) {
    walked.push({ path: `a/f${i}`, entry: file(`f${i}`) });
  }
  walked.push({ path: "b", error: new Deno.errors.PermissionDenied("no") });
  async function* walk(): AsyncGenerator<WalkItem> {
    yield* walked.slice(1);
  }
  const counts = { entries: 0, failed: 0 };
  const root: TreeItem = {
    path: "",
    type: "dir",
    size: 0,
    mtime: 1,
    mode: 0o755,
  };
  const chunks: Uint8Array[] = [];
  for await (
    const chunk of listingLines(
      root,
      { done: false, value: walked[0] },
      walk(),
      counts,
    )
  ) chunks.push(chunk);
  const lines = chunks.flatMap((chunk) =>
    new TextDecoder().decode(chunk).trimEnd().split("\n")
  ).map((line) => JSON.parse(line) as TreeItem);
  assertEquals(chunks.length, 2);
  assertEquals(lines.length, 1 + 4 + 1500);
  assertEquals(counts, { entries: 1505, failed: 1 });
  const order = lines.map((item) => item.path);
  assertEquals(order.slice(0, 4), ["", "d.txt", "a", "a/f0"]);
  assertEquals(order.slice(-2), ["b", "c"]);
  assertEquals(lines.at(-2)!.error?.code, "permission");
  assertEquals(lines.at(-1)!.error, undefined);
});

/** `path`'s change time to the nanosecond (Deno's `ctime` has seconds). */
function changeTime(path: string): string {
  const { stdout } = new Deno.Command("stat", { args: ["-c", "%z", path] })
    .outputSync();
  return new TextDecoder().decode(stdout).trim();
}

Deno.test("a put -r rerun that sends no file still gives back a folder the time and mode the server's copy lost, and leaves the others alone", async () => {
  await withServe(async (address, root, work) => {
    const source = join(work, "tree");
    for (const folder of ["a", "b", "b/c"]) {
      await Deno.mkdir(join(source, folder), { recursive: true });
      await Deno.writeTextFile(join(source, folder, "f.txt"), folder);
    }
    await Deno.chmod(join(source, "b"), 0o750);
    await Deno.utime(join(source, "b"), 1_600_000_000, 1_600_000_000);
    await Deno.utime(join(source, "a"), 1_500_000_000, 1_500_000_000);
    const put = () =>
      runFts(["connect", address, "put", "-r", "tree"], { cwd: work });
    assertEquals((await put()).code, 0);
    const served = (path: string) => Deno.statSync(join(root, "tree", path));
    await Deno.chmod(join(root, "tree", "b"), 0o700);
    await Deno.utime(join(root, "tree", "b"), 1_700_000_000, 1_700_000_000);
    const aBefore = changeTime(join(root, "tree", "a"));
    const rerun = await put();
    assertEquals(rerun.code, 0, rerun.stderr);
    assertEquals(served("b").mtime!.getTime(), 1_600_000_000_000);
    assertEquals(served("b").mode! & 0o777, 0o750);
    assertEquals(served("a").mtime!.getTime(), 1_500_000_000_000);
    // Folder "a" already had its time and mode: nothing touched it.
    assertEquals(changeTime(join(root, "tree", "a")), aBefore);
  });
});
