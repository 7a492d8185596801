/**
 * Tests of the lexical half of confinement (server/remote_path.ts) and of the
 * storage core's refusals (server/local_store.ts): every path that would
 * lead outside the served folder, or into fts's own `.fts` folder (in any
 * letter case), is refused with an {@linkcode InvalidPathError}, both when
 * calling the store directly and end to end through a real server and a
 * real client {@linkcode Connection}, whose session keeps working after
 * each refusal.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import { downloadTree } from "../client/tree_download.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { upload } from "../client/upload.ts";
import {
  InvalidPathError,
  NotFoundError,
  WrongTypeError,
} from "../protocol/mod.ts";
import { LocalStore } from "../server/storage/local/local_store.ts";
import {
  normalizePath,
  remoteSegments,
} from "../server/storage/remote_path.ts";
import { startServer } from "./helpers/server.ts";

/** Paths that must be refused, and a word their refusal must contain. */
const BAD_PATHS: [string, string][] = [
  ["..", "outside"],
  ["../x", "outside"],
  ["../../../../etc/passwd", "outside"],
  ["a/../../x", "outside"],
  ["./a/./../..", "outside"],
  ["/etc/passwd", "absolute"],
  ["/", "absolute"],
  ["a\0b", "NUL"],
  ["a.txt\0.jpg", "NUL"],
  ["..\\x", "backslash"],
  ["a\\b", "backslash"],
  ["C:\\Windows", "backslash"],
  [".fts", "reserved"],
  [".fts/partial", "reserved"],
  ["./.fts/partial/x", "reserved"],
  ["a/../.fts", "reserved"],
  [".FTS", "reserved"],
  [".Fts/partial/x", "reserved"],
];

/** A root `root/` with `outside/secret.txt` next to it (not inside). */
interface Jail {
  base: string;
  root: string;
  outside: string;
  store: LocalStore;
}

async function withJail(test: (jail: Jail) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "fts-jail-" });
  let store: LocalStore | undefined;
  try {
    const root = join(base, "root");
    const outside = join(base, "outside");
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
    store = await LocalStore.open(root);
    await test({ base, root, outside, store });
  } finally {
    await store?.close();
    await Deno.remove(base, { recursive: true });
  }
}

/** Reads a whole file through the store. */
async function readText(store: LocalStore, path: string): Promise<string> {
  const handle = await store.open(path);
  try {
    const buffer = new Uint8Array(handle.entry.size + 1);
    const n = await handle.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  } finally {
    handle.close();
  }
}

Deno.test("remote paths that climb out, are absolute, hold NUL bytes or backslashes, or name .fts in any case are refused", async () => {
  await withJail(async ({ store }) => {
    await store.mkdirp("a");
    for (const [path, word] of BAD_PATHS) {
      const shown = JSON.stringify(path);
      assertThrows(() => remoteSegments(path), InvalidPathError, word, shown);
      assertThrows(() => normalizePath(path), InvalidPathError, word, shown);
      await assertRejects(
        () => store.stat(path),
        InvalidPathError,
        word,
        shown,
      );
      await assertRejects(
        () => store.list(path),
        InvalidPathError,
        word,
        shown,
      );
      await assertRejects(
        () => store.open(path),
        InvalidPathError,
        word,
        shown,
      );
      await assertRejects(
        () => store.beginUpload(path, { size: 1, mtime: 0, resume: false }),
        InvalidPathError,
        word,
        shown,
      );
      await assertRejects(
        () => store.mkdirp(path),
        InvalidPathError,
        word,
        shown,
      );
      await assertRejects(
        () => store.remove(path, { recursive: true }),
        InvalidPathError,
        word,
        shown,
      );
    }
  });
});

Deno.test("refusing mkdir -p creates nothing outside the root", async () => {
  await withJail(async ({ base, store }) => {
    await assertRejects(
      () => store.mkdirp("../escaped/deeper"),
      InvalidPathError,
    );
    const names = [];
    for await (const entry of Deno.readDir(base)) names.push(entry.name);
    assertEquals(names.sort(), ["outside", "root"]);
  });
});

Deno.test("a/../b and other .. that stays inside the root is allowed, and names a POSIX server allows are ordinary", async () => {
  await withJail(async ({ root, store }) => {
    await Deno.mkdir(join(root, "b"));
    await Deno.writeTextFile(join(root, "b", "f.txt"), "x");
    assertEquals(remoteSegments("a/../b"), ["b"]);
    assertEquals(normalizePath("a/../b/./f.txt"), "b/f.txt");
    assertEquals(await readText(store, "a/../b/f.txt"), "x");
    const upload = await store.beginUpload("x/../b/new.txt", {
      size: 1,
      mtime: 0,
      resume: false,
    });
    await upload.write(new Uint8Array([65]));
    await upload.commit({ mode: null, mtime: 0, noClobber: false });
    assertEquals(await Deno.readTextFile(join(root, "b", "new.txt")), "A");
    // The root itself, however it is spelt.
    for (const path of ["", ".", "./", "a/..", "a/b/../.."]) {
      assertEquals(remoteSegments(path), []);
      assertEquals((await store.stat(path)).type, "dir");
    }
    // .fts is reserved only at the top; deeper it is an ordinary name.
    assertEquals(remoteSegments("b/.fts"), ["b", ".fts"]);
    assertEquals(remoteSegments("b/.FTS/x"), ["b", ".FTS", "x"]);
    assertEquals(remoteSegments(".ftsx"), [".ftsx"]);
    // On a POSIX server these are plain relative names.
    assertEquals(remoteSegments("C:/Windows"), ["C:", "Windows"]);
    assertEquals(remoteSegments("a:b.txt"), ["a:b.txt"]);
    await store.mkdirp("b/.fts/C:/Windows");
    assert(
      (await Deno.stat(join(root, "b", ".fts", "C:", "Windows"))).isDirectory,
    );
  });
});

Deno.test("a symlink inside the root that points outside is refused, also for missing paths behind it", async () => {
  await withJail(async ({ root, outside, store }) => {
    await Deno.symlink(outside, join(root, "out"));
    await Deno.symlink(join(outside, "secret.txt"), join(root, "secret"));
    await Deno.mkdir(join(root, "d"));
    await Deno.symlink("../../outside", join(root, "d", "up"));
    // A "not found" would tell what exists outside.
    for (
      const path of [
        "out/secret.txt",
        "secret",
        "d/up/secret.txt",
        "out/missing.txt",
        "out/missing/deeper",
        "d/up/missing.txt",
      ]
    ) {
      await assertRejects(
        () => store.open(path),
        InvalidPathError,
        "outside the served folder (through a symlink)",
        path,
      );
    }
    for (const path of ["out", "d/up"]) {
      await assertRejects(() => store.list(path), InvalidPathError, "symlink");
    }
    for (const path of ["out/new.txt", "d/up/new.txt", "out/missing/new.txt"]) {
      await assertRejects(
        () => store.beginUpload(path, { size: 1, mtime: 0, resume: false }),
        InvalidPathError,
        "through a symlink",
        path,
      );
    }
    await assertRejects(
      () => store.mkdirp("out/made"),
      InvalidPathError,
      "through a symlink",
    );
    // Nothing was created outside.
    const names = [];
    for await (const entry of Deno.readDir(outside)) names.push(entry.name);
    assertEquals(names, ["secret.txt"]);
  });
});

Deno.test("a symlink to a sibling folder whose name starts with the root's is refused", async () => {
  const base = await Deno.makeTempDir({ prefix: "fts-jail-" });
  try {
    const root = join(base, "data");
    const sibling = join(base, "data-private");
    await Deno.mkdir(sibling);
    await Deno.writeTextFile(join(sibling, "key"), "k");
    for (const noLibc of [false, true]) {
      const store = await LocalStore.open(root, { noLibc });
      try {
        await Deno.symlink(sibling, join(root, "link"));
        await Deno.symlink("../data-private", join(root, "rel"));
        for (const path of ["link/key", "rel/key"]) {
          await assertRejects(
            () => store.open(path),
            InvalidPathError,
            "through a symlink",
          );
        }
      } finally {
        await store.close();
        await Deno.remove(join(root, "link"));
        await Deno.remove(join(root, "rel"));
      }
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("a symlink that points inside the root is followed, relative or absolute", async () => {
  await withJail(async ({ root, store }) => {
    await Deno.mkdir(join(root, "real"));
    await Deno.writeTextFile(join(root, "real", "f.txt"), "in");
    await Deno.symlink("real", join(root, "relative"));
    await Deno.symlink(join(root, "real"), join(root, "absolute"));
    for (const link of ["relative", "absolute"]) {
      assertEquals(await readText(store, `${link}/f.txt`), "in");
      assertEquals((await store.stat(`${link}/f.txt`)).type, "file");
      await store.mkdirp(`${link}/sub-${link}`);
    }
    assert((await Deno.stat(join(root, "real", "sub-relative"))).isDirectory);
    assert((await Deno.stat(join(root, "real", "sub-absolute"))).isDirectory);
  });
});

Deno.test("a missing path is reported as NotFoundError, not as a breach", async () => {
  await withJail(async ({ store }) => {
    await assertRejects(() => store.stat("nope"), NotFoundError);
    await assertRejects(() => store.open("nope/deeper.txt"), NotFoundError);
    await assertRejects(
      () =>
        store.beginUpload("nope/new.txt", { size: 1, mtime: 0, resume: false }),
      NotFoundError,
    );
  });
});

Deno.test("mkdir -p over an existing file says it is not a folder", async () => {
  await withJail(async ({ root, store }) => {
    await Deno.writeTextFile(join(root, "file"), "x");
    await assertRejects(
      () => store.mkdirp("file"),
      WrongTypeError,
      '"file" is not a folder',
    );
    await assertRejects(
      () => store.mkdirp("file/sub"),
      WrongTypeError,
      '"file" in "file/sub" is not a folder',
    );
  });
});

// ---------------------------------------------------------------------------
// End to end

const silent: Reporter = { info() {}, progress: () => null };
const transfer = { resume: false, noClobber: false, verify: true };

Deno.test("the server refuses each bad path with a clear InvalidPathError, and the session keeps working", async () => {
  const { root, port, cleanup } = await startServer();
  const local = await Deno.makeTempDir({ prefix: "fts-jail-local-" });
  let connection: Connection | undefined;
  try {
    await Deno.writeTextFile(join(root, "hello.txt"), "hi");
    const outside = join(local, "outside");
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
    await Deno.symlink(outside, join(root, "out"));
    const source = join(local, "source.txt");
    await Deno.writeTextFile(source, "payload");

    connection = await Connection.open({ hostname: "127.0.0.1", port });
    const conn = connection;
    const requests: [string, (path: string) => Promise<unknown>][] = [
      ["stat", (path) => conn.stat(path)],
      ["list", (path) => conn.list(path)],
      ["create folder", (path) => conn.mkdir(path)],
      ["remove", (path) => conn.remove(path, true)],
      ["move", (path) => conn.move(path, "moved")],
      ["move", (path) => conn.move("hello.txt", path)],
      ["put", (path) => upload(conn, source, path, transfer, silent)],
      [
        "get",
        (path) => download(conn, path, join(local, "got"), transfer, silent),
      ],
    ];
    const paths = [
      ...BAD_PATHS.map(([path]) => path),
      "out",
      "out/secret.txt",
      "out/new.txt",
    ];
    let refused = 0;
    for (const path of paths) {
      for (const [verb, request] of requests) {
        // Moving the root away or onto it is refused for other reasons.
        if (verb === "move" && (path === "/" || path === "a/../.fts")) continue;
        // Creating or removing through the link replaces/creates nothing
        // outside, but "out" itself is a legitimate symlink entry.
        if (path === "out" && verb !== "stat" && verb !== "list") continue;
        const what = `${verb} ${JSON.stringify(path)}`;
        const error = await assertRejects(
          () => request(path),
          InvalidPathError,
          undefined,
          what,
        );
        assertInstanceOf(error, InvalidPathError);
        assertMatch(error.message, /^cannot /, what);
        assertStringIncludes(error.message, verb, what);
        assertEquals(error.code, "invalid_path");
        assert(!conn.closed, `${what} closed the connection`);
        refused++;
        // The session is still in step: a following list succeeds.
        const names = (await conn.list("")).map((entry) => entry.name);
        assertEquals(names, ["hello.txt", "out"], `after ${what}`);
      }
    }
    assert(refused > 100, `only ${refused} refusals tried`);

    // Nothing escaped: the folder outside is untouched, and nothing new
    // appeared next to it or in the served folder.
    const outsideNames = [];
    for await (const entry of Deno.readDir(outside)) {
      outsideNames.push(entry.name);
    }
    assertEquals(outsideNames, ["secret.txt"]);
    assertEquals(
      await Deno.readTextFile(join(outside, "secret.txt")),
      "secret",
    );
    const localNames = [];
    for await (const entry of Deno.readDir(local)) localNames.push(entry.name);
    assertEquals(localNames.sort(), ["outside", "source.txt"]);
    assertEquals(await Deno.readTextFile(join(root, "hello.txt")), "hi");

    // And ordinary requests still work on the same connection.
    await upload(conn, source, "sub/../uploaded.txt", transfer, silent);
    assertEquals(
      await Deno.readTextFile(join(root, "uploaded.txt")),
      "payload",
    );
    assertEquals((await conn.stat("a/../uploaded.txt")).size, 7);
  } finally {
    await connection?.close();
    await cleanup();
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("put -r and get -r refuse a tree root that leads outside through a link, and the session keeps working", async () => {
  const { root, port, cleanup } = await startServer();
  const local = await Deno.makeTempDir({ prefix: "fts-jail-local-" });
  let connection: Connection | undefined;
  try {
    const outside = join(local, "outside");
    await Deno.mkdir(join(outside, "deep"), { recursive: true });
    await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
    await Deno.symlink(outside, join(root, "out"));
    const source = join(local, "src");
    await Deno.mkdir(join(source, "sub"), { recursive: true });
    await Deno.writeTextFile(join(source, "sub", "f.txt"), "f");
    connection = await Connection.open({ hostname: "127.0.0.1", port });
    const options = { resume: false, noClobber: false, verify: true };
    for (const target of ["out", "out/deep", "out/new", "../x", ".fts/x"]) {
      await assertRejects(
        () => uploadTree(connection!, source, target, options, silent),
        InvalidPathError,
        undefined,
        target,
      );
      await assertRejects(
        () =>
          downloadTree(
            connection!,
            target,
            join(local, "back"),
            options,
            silent,
          ),
        InvalidPathError,
        undefined,
        target,
      );
    }
    const names = [];
    for await (const entry of Deno.readDir(outside)) names.push(entry.name);
    assertEquals(names.sort(), ["deep", "secret.txt"]);
    assertEquals([...Deno.readDirSync(join(outside, "deep"))], []);
    assertEquals(
      await Deno.lstat(join(local, "back")).then(() => true, () => false),
      false,
    );
    // The same session still moves a tree.
    await uploadTree(connection, source, "ok", options, silent);
    assertEquals(
      await Deno.readTextFile(join(root, "ok", "sub", "f.txt")),
      "f",
    );
  } finally {
    await connection?.close();
    await cleanup();
    await Deno.remove(local, { recursive: true });
  }
});
