/**
 * Unit tests of the storage core on the local disk ({@linkcode LocalStore})
 * against a temporary folder, in both of its modes: race-free (held folder
 * descriptors through libc) and the checked fallback (`noLibc`). Every
 * operation of the {@linkcode Store} interface is exercised, with symlinks
 * inside the root followed for reads, never written through, links that
 * lead outside refused, and errors that name remote paths only. Every test
 * ends by proving that nothing outside the root changed.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import {
  AlreadyExistsError,
  DiskFullError,
  FtsError,
  InvalidPathError,
  NotFoundError,
  ReadOnlyError,
  WrongTypeError,
} from "../protocol/mod.ts";
import { LocalStore } from "../server/storage/local/local_store.ts";
import type { Store, WalkItem } from "../server/storage/store.ts";
import { type Jail, SECRET, withJail } from "./helpers/storage_fixture.ts";
import { canMountTmpfs, prerequisite } from "./helpers/prerequisite.ts";

/** The two ways `LocalStore` resolves paths. */
const MODES = [
  { name: "race-free", noLibc: false },
  { name: "fallback", noLibc: true },
] as const;

type Mode = typeof MODES[number];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function withStore(
  mode: Mode,
  test: (jail: Jail, store: LocalStore) => Promise<void>,
): Promise<void> {
  await withJail(async (jail) => {
    const store = await LocalStore.open(jail.root, { noLibc: mode.noLibc });
    try {
      // The mode under test is the one in use (Linux has libc).
      assertEquals(store.raceFree, !mode.noLibc);
      await test(jail, store);
    } finally {
      await store.close();
    }
    await jail.assertOutsideUntouched();
  });
}

/** Uploads `data` to `path` through the store and commits it. */
async function put(
  store: Store,
  path: string,
  data: string,
  options: { mode?: number; mtime?: number; noClobber?: boolean } = {},
): Promise<void> {
  const bytes = encoder.encode(data);
  const mtime = options.mtime ?? Date.UTC(2020, 1, 2);
  const upload = await store.beginUpload(path, {
    size: bytes.byteLength,
    mtime,
    resume: false,
  });
  try {
    await upload.write(bytes);
    await upload.commit({
      mode: options.mode ?? null,
      mtime,
      noClobber: options.noClobber ?? false,
    });
  } catch (error) {
    await upload.abort(false);
    throw error;
  }
}

/** Reads the whole file `path` (from `offset`) through the store. */
async function read(store: Store, path: string, offset = 0): Promise<string> {
  const handle = await store.open(path, offset);
  try {
    const parts: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (let n; (n = await handle.read(buffer)) !== null;) {
      parts.push(buffer.slice(0, n));
    }
    return parts.map((part) => decoder.decode(part)).join("");
  } finally {
    handle.close();
  }
}

/**
 * Expects `action` to fail with `Class`, a reason naming `shown` (when
 * given), and no host path in the message: neither the temporary folder
 * nor a `/proc/self/fd` path.
 */
async function refused<E extends FtsError>(
  jail: Jail,
  action: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  Class: new (...args: any[]) => E,
  shown?: string,
): Promise<E> {
  const error = await assertRejects(action, Class);
  assertInstanceOf(error, Class);
  assertFalse(error.message.includes(jail.base), error.message);
  assertFalse(error.message.includes("/proc/"), error.message);
  assertFalse(error.message.includes("/tmp"), error.message);
  if (shown !== undefined) assertStringIncludes(error.reason, shown);
  return error as E;
}

/** Names in folder `path` of the store. */
async function names(store: Store, path: string): Promise<string[]> {
  return (await store.list(path)).map((entry) => entry.name);
}

/** The usual links: in-root ones and ones that lead outside. */
async function plantLinks(jail: Jail): Promise<void> {
  const { root, outside } = jail;
  await Deno.mkdir(join(root, "real", "inner"), { recursive: true });
  await Deno.writeTextFile(join(root, "real", "f.txt"), "inside");
  await Deno.writeTextFile(join(root, "real", "inner", "g.txt"), "deeper");
  await Deno.symlink("real", join(root, "rel"));
  await Deno.symlink(join(root, "real"), join(root, "abs"));
  await Deno.symlink("real/f.txt", join(root, "alias.txt"));
  await Deno.mkdir(join(root, "docs"));
  // Harmless where it is (docs/.. is the root) …
  await Deno.symlink("..", join(root, "docs", "up"));
  // … and links that lead outside, relative and absolute.
  await Deno.symlink("../outside", join(root, "out"));
  await Deno.symlink(jail.outside, join(root, "outabs"));
  await Deno.symlink("../outside/secret.txt", join(root, "secret.txt"));
  await Deno.symlink("..", join(root, "up"));
  await Deno.symlink(join(outside, "sub"), join(root, "docs", "sub"));
}

/** Remote paths that reach outside through a link. */
const THROUGH_LINKS_OUT = [
  "out/secret.txt",
  "outabs/secret.txt",
  "secret.txt",
  "up/outside/secret.txt",
  "docs/sub/keep.txt",
  "docs/up/out/secret.txt",
];

for (const mode of MODES) {
  const name = (behaviour: string) => `LocalStore (${mode.name}) ${behaviour}`;
  const storeTest = (
    behaviour: string,
    test: (jail: Jail, store: LocalStore) => Promise<void>,
  ) => Deno.test(name(behaviour), () => withStore(mode, test));

  storeTest(
    "stats and lists the root, hides .fts, sorts names",
    async (_jail, store) => {
      await put(store, "b.txt", "b");
      await put(store, "a.txt", "aa");
      await store.mkdirp("c/d");
      const root = await store.stat("");
      assertEquals(root.type, "dir");
      // Uploads made the staging area; it is never listed.
      assertEquals(await names(store, ""), ["a.txt", "b.txt", "c"]);
      assertEquals(await names(store, "./c/../c"), ["d"]);
      const a = await store.stat("a.txt");
      assertEquals([a.type, a.size, a.name], ["file", 2, "a.txt"]);
      await refused(_jail, () => store.stat("missing"), NotFoundError);
      await refused(
        _jail,
        () => store.list("a.txt"),
        WrongTypeError,
        "a.txt",
      );
      await refused(_jail, () => store.list(".fts"), InvalidPathError);
      await refused(
        _jail,
        () => store.list(".FTS/partial"),
        InvalidPathError,
      );
    },
  );

  storeTest(
    "follows symlinks inside the root for reads",
    async (jail, store) => {
      await plantLinks(jail);
      for (const path of ["rel/f.txt", "abs/f.txt", "alias.txt"]) {
        assertEquals(await read(store, path), "inside", path);
      }
      assertEquals(await read(store, "docs/up/real/inner/g.txt"), "deeper");
      assertEquals(await read(store, "rel/inner/g.txt", 2), "eper");
      assertEquals(
        (await store.stat("alias.txt", { follow: true })).type,
        "file",
      );
      assertEquals((await store.stat("alias.txt")).type, "symlink");
      assertEquals((await store.stat("rel", { follow: true })).type, "dir");
      assertEquals(await names(store, "rel"), ["f.txt", "inner"]);
      assertEquals(await names(store, "docs/up/abs/inner"), ["g.txt"]);
      // Trees never read through a link.
      await refused(
        jail,
        () => store.open("alias.txt", 0, { follow: false }),
        WrongTypeError,
        "symlink",
      );
    },
  );

  storeTest(
    "refuses every read through a link that leads outside, without saying what is there",
    async (jail, store) => {
      await plantLinks(jail);
      for (const path of [...THROUGH_LINKS_OUT, "out/missing.txt"]) {
        await refused(
          jail,
          () => store.open(path),
          InvalidPathError,
          "outside",
        );
        await refused(
          jail,
          () => store.stat(path, { follow: true }),
          InvalidPathError,
          "outside",
        );
      }
      for (const path of ["out", "outabs", "up", "docs/sub", "out/sub"]) {
        await refused(
          jail,
          () => store.list(path),
          InvalidPathError,
          "outside",
        );
      }
      // The link itself is an ordinary entry of its folder.
      assertEquals((await store.stat("out")).type, "symlink");
      assertEquals((await store.stat("secret.txt")).type, "symlink");
    },
  );

  storeTest(
    "refuses links into the reserved .fts folder, for reads and writes",
    async (jail, store) => {
      // An interrupted upload waits in the staging area.
      const upload = await store.beginUpload("private.bin", {
        size: 10,
        mtime: 1,
        resume: true,
      });
      await upload.write(encoder.encode("private"));
      await upload.abort(true);
      const key = [...Deno.readDirSync(join(jail.root, ".fts", "partial"))][0]
        .name;
      await Deno.symlink(".fts/partial", join(jail.root, "peek"));
      await Deno.symlink(join(jail.root, ".fts"), join(jail.root, "peekabs"));
      await Deno.mkdir(join(jail.root, "d"));
      await Deno.symlink("../.fts", join(jail.root, "d", "peek"));
      await Deno.symlink(`.fts/partial/${key}`, join(jail.root, "staged"));
      for (
        const path of [
          `peek/${key}`,
          `peekabs/partial/${key}`,
          `d/peek/partial/${key}`,
          "staged",
        ]
      ) {
        await refused(
          jail,
          () => store.open(path),
          InvalidPathError,
          "reserved",
        );
      }
      for (const path of [`peek/${key}`, `d/peek/partial/x`]) {
        await refused(jail, () => put(store, path, "x"), InvalidPathError);
      }
      for (const path of ["peek", "peekabs", "d/peek/partial"]) {
        await refused(
          jail,
          () => store.list(path),
          InvalidPathError,
          "reserved",
        );
        await refused(
          jail,
          () => store.mkdirp(`${path}/x`),
          InvalidPathError,
        );
      }
      const again = await store.beginUpload("private.bin", {
        size: 10,
        mtime: 1,
        resume: true,
      });
      assertEquals(again.offset, 7);
      await again.abort(false);
    },
  );

  storeTest(
    "stages an upload invisibly and commits it atomically with mode and mtime",
    async (jail, store) => {
      await store.mkdirp("dst");
      await Deno.writeTextFile(join(jail.root, "dst", "f.txt"), "old");
      const mtime = Date.UTC(2019, 3, 4, 5, 6, 7);
      const upload = await store.beginUpload("dst/f.txt", {
        size: 6,
        mtime,
        resume: false,
      });
      assertEquals(upload.offset, 0);
      await upload.write(encoder.encode("new"));
      // Half-way: the old version is all anyone sees.
      assertEquals(await read(store, "dst/f.txt"), "old");
      assertEquals(await names(store, "dst"), ["f.txt"]);
      await upload.write(encoder.encode("new"));
      await upload.commit({ mode: 0o604, mtime, noClobber: false });
      assertEquals(await read(store, "dst/f.txt"), "newnew");
      const entry = await store.stat("dst/f.txt");
      assertEquals(entry.mode! & 0o777, 0o604);
      assertEquals(entry.mtime, mtime);
      // No clobbering, checked at the rename.
      await refused(
        jail,
        () => put(store, "dst/f.txt", "x", { noClobber: true }),
        AlreadyExistsError,
        "dst/f.txt",
      );
      assertEquals(await read(store, "dst/f.txt"), "newnew");
      await refused(
        jail,
        () => put(store, "dst", "x"),
        WrongTypeError,
        "dst",
      );
      await refused(jail, () => put(store, "nope/f.txt", "x"), NotFoundError);
      await refused(jail, () => put(store, "", "x"), InvalidPathError);
      await refused(jail, () => put(store, ".Fts/x", "x"), InvalidPathError);
    },
  );

  storeTest(
    "abort(keep) keeps staged bytes for a resume; abort without keep frees them",
    async (jail, store) => {
      const source = { size: 10, mtime: 1_600_000_000_000 };
      const first = await store.beginUpload("r.bin", {
        ...source,
        resume: true,
      });
      assert(first.resumable);
      await first.write(encoder.encode("01234"));
      await first.abort(true);
      await refused(jail, () => store.stat("r.bin"), NotFoundError);
      const second = await store.beginUpload("r.bin", {
        ...source,
        resume: true,
      });
      assertEquals(second.offset, 5);
      const staged = await second.openStaged();
      const prefix = new Uint8Array(5);
      assertEquals(await staged.read(prefix), 5);
      staged.close();
      assertEquals(decoder.decode(prefix), "01234");
      await second.abort(false);
      const third = await store.beginUpload("r.bin", {
        ...source,
        resume: true,
      });
      assertEquals(third.offset, 0);
      await third.write(encoder.encode("abcdefghij"));
      await third.truncate(3);
      await third.write(encoder.encode("DEFGHIJ"));
      await third.commit({
        mode: null,
        mtime: source.mtime,
        noClobber: false,
      });
      assertEquals(await read(store, "r.bin"), "abcDEFGHIJ");
      // A source of unknown size never resumes; its bytes go on abort.
      const piped = await store.beginUpload("p.bin", {
        size: null,
        mtime: 0,
        resume: true,
      });
      assertFalse(piped.resumable);
      await piped.write(encoder.encode("xx"));
      await piped.abort(true);
      const partials = [
        ...Deno.readDirSync(join(jail.root, ".fts", "partial")),
      ];
      assertEquals(partials.length, 0, JSON.stringify(partials));
    },
  );

  storeTest(
    "never writes through a symlink: the link is replaced, its target untouched",
    async (jail, store) => {
      await plantLinks(jail);
      await put(store, "alias.txt", "replaced");
      assertEquals((await store.stat("alias.txt")).type, "file");
      assertEquals(await read(store, "real/f.txt"), "inside");
      // A link to a file outside is replaced in the root, nothing outside.
      await put(store, "secret.txt", "mine");
      assertEquals(
        (await Deno.lstat(join(jail.root, "secret.txt"))).isFile,
        true,
      );
      // A folder link inside the root on the way is followed (os.Root).
      await put(store, "rel/new.txt", "via link");
      assertEquals(
        await Deno.readTextFile(join(jail.root, "real", "new.txt")),
        "via link",
      );
      // setMeta never acts on a link (chmod would follow it).
      await refused(
        jail,
        () => store.setMeta("rel", { mode: 0o700 }),
        WrongTypeError,
        "symlink",
      );
      await refused(
        jail,
        () => store.setMeta("out", { mode: 0o777, mtime: 0 }),
        WrongTypeError,
        "symlink",
      );
      assertEquals(
        (await Deno.stat(join(jail.root, "real"))).mode! & 0o777,
        0o755,
      );
    },
  );

  storeTest(
    "refuses every write through a link that leads outside",
    async (jail, store) => {
      await plantLinks(jail);
      // Folders that are outside/ (or outside/sub) through a link, with a
      // file and a folder that exist there.
      const ways: [string, string, string][] = [
        ["out", "file.txt", "sub"],
        ["outabs", "file.txt", "sub"],
        ["up/outside", "file.txt", "sub"],
        ["docs/up/out", "file.txt", "sub"],
        ["docs/sub", "keep.txt", "x"],
      ];
      for (const [folder, file, dir] of ways) {
        const writes: (() => Promise<unknown>)[] = [
          () => put(store, `${folder}/evil.txt`, "evil"),
          () => put(store, `${folder}/${file}`, "evil"),
          () => store.mkdirp(`${folder}/made`),
          () => store.mkdirp(`${folder}/${dir}/made`),
          () => store.remove(`${folder}/${file}`),
          () => store.remove(`${folder}/${dir}`, { recursive: true }),
          () => store.setMeta(`${folder}/${file}`, { mode: 0o777, mtime: 0 }),
          () => store.setMeta(`${folder}/${dir}`, { mode: 0o777, mtime: 0 }),
          () => store.move(`${folder}/${file}`, "stolen.txt"),
          () => store.move(`${folder}/${dir}`, "stolen"),
          () => store.move("real/f.txt", `${folder}/planted.txt`),
          () => store.move("real/inner", `${folder}/planted`),
          () => store.copy(`${folder}/${file}`, "copied.txt"),
          () => store.copy(`${folder}/${dir}`, "copied"),
          () => store.copy("real/f.txt", `${folder}/copied.txt`),
          () => store.copy("real", `${folder}/copied`),
        ];
        for (const write of writes) {
          await refused(jail, write, InvalidPathError, "outside");
        }
      }
      for (const name of ["stolen.txt", "stolen", "copied.txt", "copied"]) {
        assertFalse(await exists(join(jail.root, name)), name);
      }
      assertEquals(await read(store, "real/f.txt"), "inside");
      assertEquals(await names(store, "real"), ["f.txt", "inner"]);
    },
  );

  storeTest(
    "mkdirp makes nested folders, follows in-root links, and refuses files and .fts on the way",
    async (jail, store) => {
      await plantLinks(jail);
      await store.mkdirp("a/b/c");
      await store.mkdirp("a/b/c");
      assert((await Deno.stat(join(jail.root, "a", "b", "c"))).isDirectory);
      await store.mkdirp("rel/made");
      assert((await Deno.stat(join(jail.root, "real", "made"))).isDirectory);
      await Deno.writeTextFile(join(jail.root, "a", "file"), "x");
      await refused(jail, () => store.mkdirp("a/file"), FtsError, "file");
      await refused(
        jail,
        () => store.mkdirp("a/file/sub"),
        WrongTypeError,
        "file",
      );
      await refused(
        jail,
        () => store.mkdirp(".fts/partial/x"),
        InvalidPathError,
      );
      await refused(jail, () => store.mkdirp(".FTS"), InvalidPathError);
      await refused(jail, () => store.mkdirp("up/escaped"), InvalidPathError);
      await refused(jail, () => store.mkdirp("../escaped"), InvalidPathError);
      assertFalse(await exists(join(jail.base, "escaped")));
    },
  );

  storeTest(
    "remove deletes files and whole trees, removes links without following them, and refuses the root",
    async (jail, store) => {
      await plantLinks(jail);
      await store.mkdirp("t/a/b");
      await put(store, "t/a/b/f.txt", "f");
      await put(store, "t/top.txt", "t");
      // Links inside the tree: one to a folder outside, one to one inside.
      await Deno.symlink(jail.outside, join(jail.root, "t", "a", "outlink"));
      await Deno.symlink("../../real", join(jail.root, "t", "a", "inlink"));
      await refused(jail, () => store.remove("t"), WrongTypeError, "t");
      await store.remove("t", { recursive: true });
      assertFalse(await exists(join(jail.root, "t")));
      assertEquals(await read(store, "real/f.txt"), "inside");
      await store.remove("alias.txt");
      assertEquals(await read(store, "real/f.txt"), "inside");
      await store.remove("out", { recursive: true });
      assertFalse(await exists(join(jail.root, "out")));
      for (const path of ["", ".", "a/..", "./"]) {
        await refused(
          jail,
          () => store.remove(path, { recursive: true }),
          InvalidPathError,
        );
      }
      await refused(jail, () => store.remove("missing"), NotFoundError);
      assert((await Deno.stat(jail.root)).isDirectory);
    },
  );

  storeTest(
    "move renames files and folders, never into itself, never the root",
    async (jail, store) => {
      await plantLinks(jail);
      await put(store, "a.txt", "a");
      await store.move("a.txt", "real/b.txt");
      assertEquals(await read(store, "real/b.txt"), "a");
      await store.mkdirp("m/n");
      await store.move("m", "moved");
      assertEquals(await names(store, "moved"), ["n"]);
      // A link moves as a link.
      await store.move("rel", "rel2");
      assertEquals((await store.stat("rel2")).type, "symlink");
      await refused(
        jail,
        () => store.move("moved", "moved/n/x"),
        WrongTypeError,
        "itself",
      );
      // Into itself through a link inside the root: the same refusal.
      await store.move("rel2", "rel");
      await refused(
        jail,
        () => store.move("real", "rel/inner/x"),
        WrongTypeError,
        "itself",
      );
      await refused(jail, () => store.move("", "x"), InvalidPathError);
      await refused(jail, () => store.move("moved", ""), InvalidPathError);
      await refused(jail, () => store.move("missing", "x"), NotFoundError);
      await put(store, "c.txt", "c");
      await refused(
        jail,
        () => store.move("c.txt", "real/b.txt", { noClobber: true }),
        AlreadyExistsError,
        "real/b.txt",
      );
      assertEquals(await read(store, "real/b.txt"), "a");
    },
  );

  storeTest(
    "copy copies a file and a folder tree, without following links in it",
    async (jail, store) => {
      await plantLinks(jail);
      await Deno.symlink(
        jail.outside,
        join(jail.root, "real", "inner", "out"),
      );
      await store.copy("real/f.txt", "f-copy.txt");
      assertEquals(await read(store, "f-copy.txt"), "inside");
      await store.copy("real", "real-copy");
      assertEquals(await names(store, "real-copy"), ["f.txt", "inner"]);
      assertEquals(await names(store, "real-copy/inner"), ["g.txt"]);
      assertEquals(await read(store, "real-copy/inner/g.txt"), "deeper");
      await refused(
        jail,
        () => store.copy("real", "real/inner/x"),
        WrongTypeError,
        "itself",
      );
      await refused(
        jail,
        () => store.copy("real/f.txt", "f-copy.txt", { noClobber: true }),
        AlreadyExistsError,
      );
      await refused(jail, () => store.copy("out", "loot"), InvalidPathError);
      assertFalse(await exists(join(jail.root, "loot")));
    },
  );

  storeTest(
    "setMeta sets mode and time, but not on the served root",
    async (jail, store) => {
      await store.mkdirp("d");
      await put(store, "d/f", "x");
      const when = Date.UTC(2011, 1, 1);
      await store.setMeta("d/f", { mode: 0o600, mtime: when });
      await store.setMeta("d", { mode: 0o711, mtime: when });
      const file = await Deno.stat(join(jail.root, "d", "f"));
      assertEquals([file.mode! & 0o777, file.mtime!.getTime()], [
        0o600,
        when,
      ]);
      const folder = await Deno.stat(join(jail.root, "d"));
      assertEquals([folder.mode! & 0o777, folder.mtime!.getTime()], [
        0o711,
        when,
      ]);
      const rootBefore = await Deno.stat(jail.root);
      for (const path of ["", ".", "d/.."]) {
        await refused(
          jail,
          () => store.setMeta(path, { mode: 0o700, mtime: 0 }),
          InvalidPathError,
        );
      }
      const rootAfter = await Deno.stat(jail.root);
      assertEquals(rootAfter.mode, rootBefore.mode);
      assertEquals(rootAfter.mtime, rootBefore.mtime);
      await refused(
        jail,
        () => store.setMeta("d/none", { mode: 0o600 }),
        NotFoundError,
      );
    },
  );

  storeTest(
    "walk lists each folder before what is in it, names sorted, links listed but not followed, .fts left out",
    async (jail, store) => {
      await plantLinks(jail);
      await put(store, "z.txt", "z");
      const items: WalkItem[] = [];
      for await (const item of store.walk("")) items.push(item);
      const seen = items.map((item) => `${item.path} ${item.entry?.type}`);
      assertEquals(seen.toSorted(), [
        "abs symlink",
        "alias.txt symlink",
        "docs dir",
        "docs/sub symlink",
        "docs/up symlink",
        "out symlink",
        "outabs symlink",
        "real dir",
        "real/f.txt file",
        "real/inner dir",
        "real/inner/g.txt file",
        "rel symlink",
        "secret.txt symlink",
        "up symlink",
        "z.txt file",
      ]);
      // Each folder comes before what is in it, and a folder's names come
      // in sorted order.
      const paths = items.map((item) => item.path);
      for (const [i, path] of paths.entries()) {
        const parent = path.split("/").slice(0, -1).join("/");
        if (parent !== "") assert(paths.indexOf(parent) < i, path);
        const siblings = paths.filter((other) =>
          other.split("/").slice(0, -1).join("/") === parent
        );
        assertEquals(siblings, siblings.toSorted(), parent);
      }
      const sub: string[] = [];
      for await (const item of store.walk("rel")) sub.push(item.path);
      assertEquals(sub, ["f.txt", "inner", "inner/g.txt"]);
      await assertRejects(async () => {
        for await (const _ of store.walk("out")) break;
      }, InvalidPathError);
    },
  );

  storeTest(
    "errors name the remote path and never a host path",
    async (jail, store) => {
      await plantLinks(jail);
      await put(store, "f.txt", "x");
      await store.mkdirp("full/inner");
      await put(store, "full/inner/x", "x");
      const cases: [() => Promise<unknown>, string][] = [
        [() => store.list("f.txt"), "f.txt"],
        [() => store.mkdirp("f.txt/sub"), "f.txt"],
        [() => put(store, "f.txt/sub", "x"), "f.txt"],
        [() => store.remove("full"), "full"],
        [() => store.open("real"), "real"],
        [() => put(store, "real", "x"), "real"],
        [() => store.open("alias.txt", 0, { follow: false }), "alias.txt"],
        [
          () => store.move("f.txt", "real/f.txt", { noClobber: true }),
          "real/f.txt",
        ],
        [() => store.mkdirp(`long/${"n".repeat(300)}`), "n".repeat(300)],
      ];
      for (const [action, shown] of cases) {
        await refused(jail, action, FtsError, shown);
      }
      // Not found says so without guessing a path (a missing name leaks nothing).
      await refused(jail, () => store.open("missing/deeper"), NotFoundError);
    },
  );

  for (
    const [how, plant, link] of [
      [
        "a link to outside",
        (jail: Jail) => Deno.symlink("../outside", join(jail.root, "out")),
        "out",
      ],
      [
        "a harmless link moved to the top (docs/up -> ..)",
        async (jail: Jail) => {
          await Deno.mkdir(join(jail.root, "docs"));
          await Deno.symlink("..", join(jail.root, "docs", "up"));
        },
        "docs/up",
      ],
    ] as const
  ) {
    storeTest(
      `refuses an upload whose folder was swapped for ${how} before the commit`,
      async (jail, store) => {
        await store.mkdirp("t");
        await plant(jail);
        const upload = await store.beginUpload("t/evil.txt", {
          size: 4,
          mtime: 0,
          resume: false,
        });
        await upload.write(encoder.encode("evil"));
        // What a second connection can do while the body is on its way.
        await store.move("t", "t_old");
        await store.move(link, "t");
        await refused(
          jail,
          () => upload.commit({ mode: 0o666, mtime: 0, noClobber: false }),
          InvalidPathError,
        );
        await upload.abort(false);
        assertFalse(await exists(join(jail.base, "evil.txt")));
        assertFalse(await exists(join(jail.outside, "evil.txt")));
        assertFalse(await exists(join(jail.root, "t_old", "evil.txt")));
        await refused(
          jail,
          () => store.list("t"),
          InvalidPathError,
          "outside",
        );
      },
    );
  }
}

for (const mode of MODES) {
  Deno.test(`LocalStore (${mode.name}) place holds the target folders: a folder swapped for a link after place does not redirect the rename`, async () => {
    await withStore(mode, async (jail, store) => {
      await store.mkdirp("dst/sub");
      await Deno.symlink(jail.outside, join(jail.root, "lnk"));
      // What a tree commit does: place, (sync the staged files), rename.
      const staged = join(jail.root, "staged.tmp");
      await Deno.writeTextFile(staged, "tree file");
      const placement = await store.place(["dst/sub/a.txt"]);
      let moves: Promise<void>;
      try {
        // Another connection's mv during the sync. Race-free, it goes
        // through at once and the held folder keeps the rename; in the
        // fallback it waits for the placement's turn.
        moves = store.move("dst/sub", "dst/sub_old")
          .then(() => store.move("lnk", "dst/sub"));
        await new Promise((resolve) => setTimeout(resolve, 20));
        await Deno.rename(staged, placement.targets[0]).catch(() => {});
      } finally {
        placement.release();
      }
      await moves;
      await Deno.remove(staged).catch(() => {});
      // The file went where the folder was when it was placed (outside/a.txt
      // is checked by withStore).
      const landed = await exists(join(jail.root, "dst", "sub_old", "a.txt"));
      assert(landed, "the file did not land in the folder it was placed in");
      await store.place(["dst/sub/b.txt"]).then(
        (later) => {
          later.release();
          throw new Error("placed through a link to outside");
        },
        (error) => assertInstanceOf(error, InvalidPathError),
      );
    });
  });
}

Deno.test("LocalStore's fallback and race-free modes list the same tree", async () => {
  await withJail(async (jail) => {
    await plantLinks(jail);
    const walks: string[][] = [];
    for (const mode of MODES) {
      const store = await LocalStore.open(jail.root, { noLibc: mode.noLibc });
      try {
        const seen: string[] = [];
        for await (const item of store.walk("")) {
          seen.push(`${item.path} ${item.entry?.type} ${item.entry?.size}`);
        }
        walks.push(seen);
      } finally {
        await store.close();
      }
    }
    assertEquals(walks[0], walks[1]);
    assert(walks[0].length > 5);
    await jail.assertOutsideUntouched();
  });
});

Deno.test("LocalStore never returns the secret through any read", async () => {
  await withJail(async (jail) => {
    await plantLinks(jail);
    const store = await LocalStore.open(jail.root);
    try {
      for (const path of THROUGH_LINKS_OUT) {
        const content = await read(store, path).catch(() => "");
        assertFalse(content.includes(SECRET), path);
      }
    } finally {
      await store.close();
    }
  });
});

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** The tmpfs tests are ignored without root (a failure under CI=true). */
const noTmpfs = prerequisite("root, to mount a tmpfs", canMountTmpfs());

/**
 * Runs `test` with a small tmpfs mounted at a new folder (root only). The
 * mount is always removed.
 */
async function withTmpfs(
  test: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fts-tmpfs-" });
  try {
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir],
      stderr: "null",
    }).output().catch(() => null);
    assert(mounted?.success, "mounted a tmpfs");
    try {
      await test(dir);
    } finally {
      await new Deno.Command("umount", { args: ["-l", dir] }).output();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

for (const mode of MODES) {
  const full =
    `LocalStore (${mode.name}) reports a full disk as DiskFullError without a host path, and frees the staged bytes (needs root for a tmpfs)`;
  Deno.test({ name: full, ignore: noTmpfs }, async () => {
    await withTmpfs(async (dir) => {
      const store = await LocalStore.open(join(dir, "served"), mode);
      try {
        const upload = await store.beginUpload("big.bin", {
          size: null,
          mtime: 0,
          resume: false,
        });
        const error = await assertRejects(async () => {
          for (let i = 0; i < 8; i++) {
            await upload.write(new Uint8Array(64 * 1024).fill(1));
          }
        }, DiskFullError);
        // The client's action names the file ("cannot put "big.bin": …").
        assertStringIncludes(error.reason, "disk is full");
        assertFalse(error.message.includes(dir), error.message);
        await upload.abort(true);
        assertEquals(
          [...Deno.readDirSync(join(dir, "served", ".fts", "partial"))],
          [],
        );
        assertEquals(await names(store, ""), []);
      } finally {
        await store.close();
      }
    });
  });

  const readOnly =
    `LocalStore (${mode.name}) reports a read-only disk as ReadOnlyError for every write (needs root for a tmpfs)`;
  Deno.test({ name: readOnly, ignore: noTmpfs }, async () => {
    await withTmpfs(async (dir) => {
      const store = await LocalStore.open(join(dir, "served"), mode);
      try {
        await store.mkdirp("d");
        await put(store, "d/f.txt", "f");
        const remount = await new Deno.Command("mount", {
          args: ["-o", "remount,ro", dir],
        }).output();
        assert(remount.success);
        const writes: [() => Promise<unknown>, string][] = [
          [() => store.mkdirp("d/new"), "mkdirp"],
          [() => put(store, "d/g.txt", "g"), "put"],
          [() => store.remove("d/f.txt"), "remove"],
          [() => store.remove("d", { recursive: true }), "remove -r"],
          [() => store.move("d/f.txt", "moved.txt"), "move"],
          [() => store.setMeta("d/f.txt", { mode: 0o600 }), "setMeta"],
        ];
        for (const [write, shown] of writes) {
          const error = await assertRejects(write, ReadOnlyError);
          assertStringIncludes(error.reason, "read-only", shown);
          assertFalse(error.message.includes(dir), error.message);
        }
        // Reads still work.
        assertEquals(await read(store, "d/f.txt"), "f");
      } finally {
        await store.close();
      }
    });
  });

  Deno.test(`LocalStore (${mode.name}) reports a name that is too long as InvalidPathError naming it`, async () => {
    await withStore(mode, async (jail, store) => {
      const long = "n".repeat(300);
      for (
        const action of [
          () => store.mkdirp(`a/${long}`),
          () => put(store, long, "x"),
          () => store.stat(long),
        ]
      ) {
        const error = await refused(jail, action, InvalidPathError, "too long");
        assertStringIncludes(error.reason, long);
      }
    });
  });
}

for (const mode of MODES) {
  Deno.test(`LocalStore (${mode.name}) refuses to copy a folder into itself through an in-root link, and ends`, async () => {
    await withJail(async (jail) => {
      await plantLinks(jail);
      // Run in a subprocess: a copy that never ends must not hang the tests.
      const code = `
        const { LocalStore } = await import(${
        JSON.stringify(
          new URL("../server/storage/local/local_store.ts", import.meta.url),
        )
      });
        const store = await LocalStore.open(Deno.args[0], { noLibc: Deno.args[1] === "1" });
        for (const [from, to] of [["real", "rel/inner/copy"], ["rel", "real/inner/copy2"]]) {
          try {
            await store.copy(from, to);
            console.log("copied " + from);
          } catch (error) {
            console.log(error.constructor.name + ": " + error.message);
          }
        }
        Deno.exit(0);`;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          "--config",
          new URL("../deno.json", import.meta.url).pathname,
          code,
          jail.root,
          mode.noLibc ? "1" : "0",
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // A generous deadline: a copy into itself would never end, but a
      // loaded machine may take long to start the subprocess.
      const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
      const output = await child.output();
      clearTimeout(timer);
      const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
      assertEquals(output.code, 0, "the copy did not end within 2 minutes");
      assertEquals(lines.length, 2, lines.join("\n"));
      for (const line of lines) {
        assertMatch(line, /^WrongTypeError: .*itself/);
      }
      const store = await LocalStore.open(jail.root, mode);
      try {
        assertEquals(await names(store, "real/inner"), ["g.txt"]);
      } finally {
        await store.close();
      }
      await jail.assertOutsideUntouched();
    });
  });
}
