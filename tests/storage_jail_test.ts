/**
 * Tests of the storage jail (server/storage.ts): every path that would lead
 * outside the served folder, or into fts's own `.fts` folder, is refused with
 * an {@linkcode InvalidPathError}, both when calling {@linkcode Storage}
 * directly and end to end through a real server and a real client
 * {@linkcode Connection}, whose session keeps working after each refusal.
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
import { upload } from "../client/upload.ts";
import {
  AlreadyExistsError,
  InvalidPathError,
  NotFoundError,
} from "../protocol/mod.ts";
import { Storage } from "../server/storage.ts";
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
  ["C:/Windows", "absolute"],
  ["a\0b", "NUL"],
  ["a.txt\0.jpg", "NUL"],
  ["..\\x", "backslash"],
  ["a\\b", "backslash"],
  [".fts", "reserved"],
  [".fts/partial", "reserved"],
  ["./.fts/partial/x", "reserved"],
  ["a/../.fts", "reserved"],
];

/** A jail of `root/` with `outside/secret.txt` next to it (not inside). */
interface Jail {
  base: string;
  root: string;
  outside: string;
  storage: Storage;
}

async function withJail(test: (jail: Jail) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "fts-jail-" });
  try {
    const root = join(base, "root");
    const outside = join(base, "outside");
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
    const storage = await Storage.open(root);
    await test({ base, root, outside, storage });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

Deno.test("Storage refuses paths that climb out, are absolute, hold NUL bytes or backslashes, or name .fts", async () => {
  await withJail(async ({ storage }) => {
    await Deno.mkdir(join(storage.root, "a"));
    for (const [path, word] of BAD_PATHS) {
      const shown = JSON.stringify(path);
      assertThrows(
        () => storage.segments(path),
        InvalidPathError,
        word,
        shown,
      );
      assertThrows(() => storage.lexical(path), InvalidPathError, word, shown);
      await assertRejects(
        () => storage.resolveExisting(path),
        InvalidPathError,
        word,
        shown,
      );
      // "/" normalises to the root itself, which resolveNew refuses anyway.
      await assertRejects(
        () => storage.resolveNew(path),
        InvalidPathError,
        undefined,
        shown,
      );
      await assertRejects(
        () => storage.mkdirs(path),
        InvalidPathError,
        undefined,
        shown,
      );
    }
  });
});

Deno.test("Storage creates nothing outside the root when refusing mkdirs", async () => {
  await withJail(async ({ base, storage }) => {
    await assertRejects(
      () => storage.mkdirs("../escaped/deeper"),
      InvalidPathError,
    );
    const names = [];
    for await (const entry of Deno.readDir(base)) names.push(entry.name);
    assertEquals(names.sort(), ["outside", "root"]);
  });
});

Deno.test("Storage allows a/../b and other .. that stays inside the root", async () => {
  await withJail(async ({ root, storage }) => {
    await Deno.mkdir(join(root, "b"));
    await Deno.writeTextFile(join(root, "b", "f.txt"), "x");
    assertEquals(storage.segments("a/../b"), ["b"]);
    assertEquals(storage.lexical("a/../b/./f.txt"), join(root, "b", "f.txt"));
    assertEquals(
      await storage.resolveExisting("a/../b/f.txt"),
      join(root, "b", "f.txt"),
    );
    assertEquals(
      await storage.resolveNew("x/../b/new.txt"),
      join(root, "b", "new.txt"),
    );
    // The root itself, however it is spelt.
    for (const path of ["", ".", "./", "a/..", "a/b/../.."]) {
      assertEquals(storage.segments(path), []);
      assertEquals(await storage.resolveExisting(path), root);
    }
    // .fts is reserved only at the top; deeper it is an ordinary name.
    assertEquals(storage.segments("b/.fts"), ["b", ".fts"]);
    assertEquals(storage.segments(".ftsx"), [".ftsx"]);
  });
});

Deno.test("Storage refuses a symlink inside the root that points outside", async () => {
  await withJail(async ({ root, outside, storage }) => {
    await Deno.symlink(outside, join(root, "out"));
    await Deno.symlink(join(outside, "secret.txt"), join(root, "secret"));
    await Deno.mkdir(join(root, "d"));
    await Deno.symlink("../../outside", join(root, "d", "up"));
    // Missing paths behind the link are refused too: a "not found" would tell
    // what exists outside.
    for (
      const path of [
        "out",
        "out/secret.txt",
        "secret",
        "d/up/secret.txt",
        "out/missing.txt",
        "out/missing/deeper",
        "d/up/missing.txt",
      ]
    ) {
      await assertRejects(
        () => storage.resolveExisting(path),
        InvalidPathError,
        "outside the served folder (through a symlink)",
        path,
      );
    }
    for (const path of ["out/new.txt", "d/up/new.txt", "out/missing/new.txt"]) {
      await assertRejects(
        () => storage.resolveNew(path),
        InvalidPathError,
        "through a symlink",
        path,
      );
    }
    await assertRejects(
      () => storage.mkdirs("out/made"),
      InvalidPathError,
      "through a symlink",
    );
    // Nothing was created outside.
    const names = [];
    for await (const entry of Deno.readDir(outside)) names.push(entry.name);
    assertEquals(names, ["secret.txt"]);
  });
});

Deno.test("Storage refuses a symlink to a sibling folder whose name starts with the root's", async () => {
  const base = await Deno.makeTempDir({ prefix: "fts-jail-" });
  try {
    const root = join(base, "data");
    const sibling = join(base, "data-private");
    await Deno.mkdir(sibling);
    await Deno.writeTextFile(join(sibling, "key"), "k");
    const storage = await Storage.open(root);
    await Deno.symlink(sibling, join(root, "link"));
    await assertRejects(
      () => storage.resolveExisting("link/key"),
      InvalidPathError,
      "through a symlink",
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("Storage follows a symlink that points inside the root", async () => {
  await withJail(async ({ root, storage }) => {
    await Deno.mkdir(join(root, "real"));
    await Deno.writeTextFile(join(root, "real", "f.txt"), "in");
    await Deno.symlink("real", join(root, "relative"));
    await Deno.symlink(join(root, "real"), join(root, "absolute"));
    for (const link of ["relative", "absolute"]) {
      const host = await storage.resolveExisting(`${link}/f.txt`);
      assertEquals(host, join(root, link, "f.txt"));
      assertEquals(await Deno.readTextFile(host), "in");
      assertEquals(
        await storage.resolveNew(`${link}/new.txt`),
        join(root, link, "new.txt"),
      );
      await storage.mkdirs(`${link}/sub-${link}`);
    }
    assert((await Deno.stat(join(root, "real", "sub-relative"))).isDirectory);
    assert((await Deno.stat(join(root, "real", "sub-absolute"))).isDirectory);
  });
});

Deno.test("Storage reports a missing path as NotFoundError, not as a jail breach", async () => {
  await withJail(async ({ storage }) => {
    await assertRejects(() => storage.resolveExisting("nope"), NotFoundError);
    await assertRejects(
      () => storage.resolveNew("nope/new.txt"),
      NotFoundError,
      'the folder "nope" does not exist',
    );
  });
});

Deno.test("Storage.mkdirs over an existing file reports AlreadyExistsError", async () => {
  await withJail(async ({ root, storage }) => {
    await Deno.writeTextFile(join(root, "file"), "x");
    await assertRejects(
      () => storage.mkdirs("file"),
      AlreadyExistsError,
      '"file" exists and is a file',
    );
    await assertRejects(
      () => storage.mkdirs("file/sub"),
      AlreadyExistsError,
      '"file" exists and is a file',
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
