/**
 * Mirrors with `put -r --delete` and `get -r --delete`, run as a person
 * does (main.ts in a subprocess against a real server on 127.0.0.1): the
 * target ends equal to the source both ways; a dry run lists every change
 * with rsync-like marks (or JSON) and changes nothing; `--max-delete`
 * refuses the whole deletion step; a source part that cannot be read skips
 * deletion and fails the run; an empty source needs `--force`; a link in
 * the target is removed as a link, never followed; an older server gets a
 * clear line.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import {
  connectFts,
  MAIN,
  runFts,
  runProgram,
  startServe,
} from "./helpers/cli.ts";
import { sourcesOf } from "./helpers/old_sources.ts";
import { plant } from "./helpers/plant.ts";
import { prerequisite } from "./helpers/prerequisite.ts";
import { startServer } from "./helpers/server.ts";

/** Every entry under `root` as `path: kind [content]`, links unfollowed. */
function contents(root: string): Record<string, string> {
  const result: Record<string, string> = {};
  const visit = (relative: string) => {
    const host = relative === "" ? root : join(root, relative);
    const info = Deno.lstatSync(host);
    if (info.isDirectory) {
      if (relative !== "") result[relative] = "dir";
      for (const entry of Deno.readDirSync(host)) {
        if (entry.name === ".fts") continue;
        visit(relative === "" ? entry.name : `${relative}/${entry.name}`);
      }
    } else if (info.isFile) {
      result[relative] = `file ${Deno.readTextFileSync(host)}`;
    } else result[relative] = "link";
  };
  visit("");
  return result;
}

/** A source tree: files at three depths and an empty folder. */
function makeSource(root: string): void {
  plant(root, "keep.txt", "keep");
  plant(root, "a/one.txt", "one");
  plant(root, "a/b/two.txt", "two");
  Deno.mkdirSync(join(root, "empty"), { recursive: true });
}

/** Things only the target has: a file, a folder tree, a file in a kept folder. */
function makeExtras(root: string): void {
  plant(root, "stale.txt", "stale");
  plant(root, "old/deep/er.txt", "old");
  plant(root, "a/gone.txt", "gone");
}

async function withServer(
  test: (address: string, root: string, work: string) => Promise<void>,
): Promise<void> {
  const server = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-mirror-" });
  try {
    await test(`127.0.0.1:${server.port}`, server.root, work);
  } finally {
    await server.cleanup();
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("put -r --delete makes the remote folder equal to the local one", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeSource(src);
    makeExtras(join(root, "site"));
    const run = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(run.code, 0, run.stderr);
    assertEquals(contents(join(root, "site")), contents(src));
    assertStringIncludes(run.stderr, "deleted 5 entries");
  });
});

Deno.test("get -r --delete makes the local folder equal to the remote one", async () => {
  await withServer(async (address, root, work) => {
    makeSource(join(root, "site"));
    const dst = join(work, "dst");
    makeExtras(dst);
    const run = await connectFts(address, `get -r --delete site/ ${dst}`);
    assertEquals(run.code, 0, run.stderr);
    assertEquals(contents(dst), contents(join(root, "site")));
  });
});

Deno.test("a dry run lists every change with rsync -i marks or JSON and changes nothing", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeSource(src);
    const site = join(root, "site");
    makeExtras(site);
    plant(site, "keep.txt", "kept but older", 0o644, new Date("2001-01-01"));
    const before = contents(site);
    const put = await connectFts(address, `put -r -n --delete ${src}/ site`);
    assertEquals(put.code, 0, put.stderr);
    const lines = put.stdout.trim().split("\n");
    assert(lines.includes("<f+++++++++ a/one.txt"), put.stdout);
    assert(lines.includes("cd+++++++++ a/b/"), put.stdout);
    assert(lines.includes("<f.st...... keep.txt"), put.stdout);
    assert(lines.includes("*deleting   old/"), put.stdout);
    assert(lines.includes("*deleting   stale.txt"), put.stdout);
    assertEquals(contents(site), before);

    const dst = join(work, "dst");
    makeExtras(dst);
    plant(dst, "only-here.txt", "x");
    const localBefore = contents(dst);
    const get = await connectFts(
      address,
      `get -r --dry-run --delete --json site/ ${dst}`,
    );
    assertEquals(get.code, 0, get.stderr);
    const changes = get.stdout.trim().split("\n").map((line) =>
      JSON.parse(line)
    );
    assert(changes.some((c) => c.change === "add" && c.path === "keep.txt"));
    assert(
      changes.some((c) => c.change === "delete" && c.path === "only-here.txt"),
      get.stdout,
    );
    assertEquals(contents(dst), localBefore);
  });
});

Deno.test("--max-delete refuses the whole deletion step, says how many, deletes nothing", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeSource(src);
    const site = join(root, "site");
    makeExtras(site);
    const run = await connectFts(
      address,
      `put -r --delete --max-delete 4 ${src}/ site`,
    );
    assertEquals(run.code, 25, "rsync's status for --max-delete");
    assertStringIncludes(
      run.stderr,
      "5 entries would be deleted, more than --max-delete 4; deleted nothing",
    );
    assertEquals(contents(site)["stale.txt"], "file stale");
    assertEquals(
      contents(site)["a/b/two.txt"],
      "file two",
      "the transfer still happened",
    );
  });
});

Deno.test("an empty source asks for --force before it empties the target", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "empty");
    Deno.mkdirSync(src);
    makeExtras(join(root, "site"));
    const refused = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(refused.code, 25, "a safety limit stopped the deletion");
    assertMatch(
      refused.stderr,
      /the source is empty: this would delete all 6 entries .*add --force/,
    );
    assertEquals(contents(join(root, "site"))["stale.txt"], "file stale");
    const forced = await connectFts(
      address,
      `put -r --delete --force ${src}/ site`,
    );
    assertEquals(forced.code, 0, forced.stderr);
    assertEquals(contents(join(root, "site")), {});
  });
});

Deno.test("a link in the target is removed as a link; what it points to stays", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeSource(src);
    const outside = join(work, "outside");
    plant(outside, "precious.txt", "precious");
    const site = join(root, "site");
    makeSource(site);
    Deno.symlinkSync(outside, join(site, "link"));
    const dst = join(work, "dst");
    makeSource(dst);
    Deno.symlinkSync(outside, join(dst, "link"));
    const put = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(put.code, 0, put.stderr);
    const get = await connectFts(address, `get -r --delete site/ ${dst}`);
    assertEquals(get.code, 0, get.stderr);
    assertEquals(contents(site), contents(src));
    assertEquals(contents(dst), contents(src));
    assertEquals(
      Deno.readTextFileSync(join(outside, "precious.txt")),
      "precious",
    );
  });
});

/**
 * How to run the client so that a mode-000 folder cannot be read: as root,
 * without the capabilities that let root read anything (setpriv).
 */
function unprivileged(): string[] | null {
  if (Deno.uid() !== 0) return [];
  try {
    new Deno.Command("setpriv", { args: ["--version"] }).outputSync();
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"];
  } catch {
    return null;
  }
}

const prefix = unprivileged();
const noPrefix = prerequisite(
  "setpriv (to read as root without the right to read everything)",
  prefix !== null,
);

Deno.test({
  name: "an unreadable part of the source skips deletion and fails the run",
  ignore: noPrefix,
  fn: async () => {
    await withServer(async (address, root, work) => {
      const src = join(work, "src");
      makeSource(src);
      plant(src, "locked/secret.txt", "secret");
      Deno.chmodSync(join(src, "locked"), 0o000);
      const site = join(root, "site");
      makeExtras(site);
      try {
        const [program, ...args] = [...prefix!, Deno.execPath()];
        const run = await runProgram(program, [
          ...args,
          ...`run -A ${MAIN} connect ${address} put -r --delete ${src}/ site`
            .split(" "),
        ], { env: { NO_COLOR: "1" } });
        assertEquals(run.code, 23, run.stderr);
        assertStringIncludes(run.stderr, "skipping deletion");
        assertEquals(contents(site)["stale.txt"], "file stale");
        assertEquals(contents(site)["a/b/two.txt"], "file two");
      } finally {
        Deno.chmodSync(join(src, "locked"), 0o755);
      }
    });
  },
});

Deno.test({
  name:
    "a file that cannot be received skips deletion: one line, exit status 23",
  ignore: noPrefix,
  fn: async () => {
    await withServer(async (address, root, work) => {
      makeSource(join(root, "site"));
      const dst = join(work, "dst");
      makeExtras(dst);
      Deno.chmodSync(join(dst, "a"), 0o555);
      try {
        const [program, ...args] = [...prefix!, Deno.execPath()];
        const run = await runProgram(program, [
          ...args,
          ...`run -A ${MAIN} connect ${address} get -r --delete site/ ${dst}`
            .split(" "),
        ], { env: { NO_COLOR: "1" } });
        assertEquals(run.code, 23, run.stderr);
        const last = run.stderr.trim().split("\n").at(-1)!;
        assertMatch(last, /^fts: cannot get -r .*failed; skipping deletion$/);
        assertEquals(contents(dst)["stale.txt"], "file stale");
      } finally {
        Deno.chmodSync(join(dst, "a"), 0o755);
      }
    });
  },
});

Deno.test("a dry run exits 0 and a mirror with nothing to do exits 0", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeSource(src);
    makeExtras(join(root, "site"));
    const dry = await connectFts(address, `put -r -n --delete ${src}/ site`);
    assertEquals(dry.code, 0, dry.stderr);
    const first = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(first.code, 0, first.stderr);
    const again = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(again.code, 0, again.stderr);
    assertStringIncludes(again.stderr, "already up to date");
  });
});

Deno.test("a batch stops at a refused deletion with the same exit status", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeSource(src);
    makeExtras(join(root, "site"));
    const run = await runFts(["connect", address], {
      stdin: `put -r --delete --max-delete 1 ${src}/ site\nmkdir after\n`,
    });
    assertEquals(run.code, 25, run.stderr);
    assertStringIncludes(run.stderr, "more than --max-delete 1");
    assertEquals(contents(root)["after"], undefined, "the batch stopped");
  });
});

/** The names `cannot put "NAME": ...` lines give, sorted: one per entry. */
function failedNames(stderr: string): string[] {
  return [...stderr.matchAll(/^cannot (?:put|get) ("[^"]*")/gm)]
    .map((match) => match[1]).sort();
}

/** Source and target whose `x` and `z` are of the other type each. */
function makeClash(source: string, target: string): void {
  plant(source, "x", "now a file");
  plant(source, "z/in.txt", "in a new folder");
  plant(source, "keep.txt", "keep");
  plant(target, "x/a.txt", "under the old folder");
  plant(target, "z", "an old file");
  plant(target, "keep.txt", "keep");
}

Deno.test("under --delete an entry of another type is replaced, both ways", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeClash(src, join(root, "site"));
    const put = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(put.code, 0, put.stderr);
    assertEquals(contents(join(root, "site")), contents(src));
    assertStringIncludes(put.stderr, "deleted 3 entries");

    const dst = join(work, "dst");
    makeClash(join(root, "back"), dst);
    const get = await connectFts(address, `get -r --delete back/ ${dst}`);
    assertEquals(get.code, 0, get.stderr);
    assertEquals(contents(dst), contents(join(root, "back")));
  });
});

Deno.test("without --delete an entry of another type is named in one line, kept, and the run fails", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    const site = join(root, "site");
    makeClash(src, site);
    const before = contents(site);
    const put = await connectFts(address, `put -r ${src}/ site`);
    assertEquals(put.code, 1, put.stderr);
    assertStringIncludes(
      put.stderr,
      'cannot put "x": "x" is a folder on the server',
    );
    assertEquals(contents(site), before, "nothing lost on the server");
    assertEquals(failedNames(put.stderr), ['"x"', '"z"'], put.stderr);

    const dst = join(work, "dst");
    makeClash(join(root, "back"), dst);
    const mine = contents(dst);
    const get = await connectFts(address, `get -r back/ ${dst}`);
    assertEquals(get.code, 1, get.stderr);
    assertStringIncludes(
      get.stderr,
      'cannot get "x": a local folder is in the way',
    );
    assertStringIncludes(
      get.stderr,
      'cannot get "z": a local file is in the way',
    );
    assertEquals(contents(dst), mine, "nothing lost locally");
    assertEquals(failedNames(get.stderr), ['"x"', '"z"'], get.stderr);
  });
});

Deno.test("a target that is a file, or a missing source, gets one clear line", async () => {
  await withServer(async (address, root, work) => {
    const src = join(work, "src");
    makeSource(src);
    plant(root, "file.txt", "x");
    const onFile = await connectFts(
      address,
      `put -r --delete ${src}/ file.txt`,
    );
    assertEquals(onFile.code, 1);
    assertEquals(onFile.stderr.trim().split("\n").length, 1, onFile.stderr);
    assertStringIncludes(onFile.stderr, "is a file on the server");
    const missing = await connectFts(
      address,
      `put -r --delete ${join(work, "nope")} site`,
    );
    assertEquals(missing.code, 1);
    assertEquals(missing.stderr.trim().split("\n").length, 1, missing.stderr);
    const gone = await connectFts(
      address,
      `get -r --delete nope/ ${join(work, "dst")}`,
    );
    assertEquals(gone.code, 1);
    assertEquals(gone.stderr.trim().split("\n").length, 1, gone.stderr);
    makeSource(join(root, "site"));
    plant(work, "local.txt", "mine");
    const intoFile = await connectFts(
      address,
      `get -r --delete site/ ${join(work, "local.txt")}`,
    );
    assertEquals(intoFile.code, 1);
    assertEquals(
      intoFile.stderr.trim().split("\n").length,
      1,
      intoFile.stderr,
    );
    assertEquals(Deno.readTextFileSync(join(work, "local.txt")), "mine");
  });
});

Deno.test("--delete against a server without it says so and changes nothing", async () => {
  const sources = await sourcesOf("6bc0ceb");
  const root = await Deno.makeTempDir({ prefix: "fts-old-" });
  const work = await Deno.makeTempDir({ prefix: "fts-mirror-" });
  const serve = await startServe(root, [], { main: join(sources, "main.ts") });
  try {
    const src = join(work, "src");
    makeSource(src);
    makeExtras(join(root, "site"));
    const run = await connectFts(serve.address, `put -r --delete ${src}/ site`);
    assertEquals(run.code, 1);
    assertStringIncludes(run.stderr, "the server does not support --delete");
    assertEquals(contents(join(root, "site"))["stale.txt"], "file stale");
  } finally {
    await serve.stop();
    for (const dir of [sources, root, work]) {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("a mirror works over TLS with a login and compression", async () => {
  const work = await Deno.makeTempDir({ prefix: "fts-mirror-tls-" });
  const root = join(work, "root");
  const users = join(work, "users");
  const env = { FTS_CONFIG_DIR: join(work, "config"), FTS_PASSWORD: "pencil" };
  const added = await runFts(["user", "add", "alice", "--users", users], {
    env,
  });
  assertEquals(added.code, 0, added.stderr);
  const serve = await startServe(root, ["--tls", "--users", users], {
    env,
    lines: 2,
  });
  try {
    const fingerprint = serve.lines[1].split(" ")[3];
    const src = join(work, "src");
    makeSource(src);
    plant(src, "text.txt", "compressible ".repeat(10_000));
    makeExtras(join(root, "site"));
    const secure = `--fingerprint ${fingerprint} -z`;
    const put = await connectFts(
      `alice@${serve.address}`,
      `put -r --delete ${secure} ${src}/ site`,
      { env },
    );
    assertEquals(put.code, 0, put.stderr);
    assertEquals(contents(join(root, "site")), contents(src));
    const dst = join(work, "dst");
    makeExtras(dst);
    const get = await connectFts(
      `alice@${serve.address}`,
      `get -r --delete ${secure} site/ ${dst}`,
      { env },
    );
    assertEquals(get.code, 0, get.stderr);
    assertEquals(contents(dst), contents(src));
  } finally {
    await serve.stop();
    await Deno.remove(work, { recursive: true });
  }
});
