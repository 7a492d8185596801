/**
 * What the client says beyond the transfer itself: `-v` names the
 * connection it made, and `get FILE -` draws its progress bar on stderr when
 * that is a terminal (in a real pseudo-terminal), while the bytes go to
 * stdout.
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
import { randomBytes, runFts, startServe, withServe } from "./helpers/cli.ts";
import { PtySession } from "./helpers/pty.ts";
import { addUser } from "../server/auth/users.ts";

Deno.test("-v names the server, the agent and the login the connection made", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-verbose-" });
  const serve = await startServe(root);
  try {
    await Deno.writeTextFile(join(root, "a.txt"), "a");
    const quiet = await runFts(["connect", serve.address, "ls"]);
    assertEquals(quiet.code, 0, quiet.stderr);
    assertEquals(quiet.stderr, "");
    const verbose = await runFts(["connect", "-v", serve.address, "ls"]);
    assertEquals(verbose.code, 0, verbose.stderr);
    assertMatch(
      verbose.stderr,
      /^connected to 127\.0\.0\.1:\d+ \(fts\/[^)]*\)\n/,
    );
    assertStringIncludes(verbose.stdout, "a.txt");
  } finally {
    await serve.stop();
    await Deno.remove(root, { recursive: true });
  }
  // With a users file: -v says who logged in, and that bob is read-only.
  const dir = await Deno.makeTempDir({ prefix: "fts-verbose-users-" });
  const users = join(dir, "users.json");
  await addUser(users, "bob", "bobs-password", {
    iterations: 4096,
    readOnly: true,
  });
  await Deno.mkdir(join(dir, "served"));
  const guarded = await startServe(join(dir, "served"), ["--users", users]);
  try {
    const login = await runFts(
      ["connect", "-v", `bob@${guarded.address}`, "ls"],
      { env: { FTS_PASSWORD: "bobs-password" } },
    );
    assertEquals(login.code, 0, login.stderr);
    assertMatch(
      login.stderr,
      /^connected to 127\.0\.0\.1:\d+ \(fts\/[^)]*, as bob, read-only\)\n/,
    );
  } finally {
    await guarded.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("get FILE - draws progress on a terminal's stderr, ending with the elapsed time", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-getdash-" });
  const serve = await startServe(root);
  try {
    await Deno.writeFile(join(root, "big.bin"), randomBytes(3 * 1024 * 1024));
    const session = new PtySession([
      "connect",
      serve.address,
      "get",
      "big.bin",
      "-",
      "--limit-rate",
      "2M",
    ]);
    await session.waitFor("3.0 MiB / 3.0 MiB");
    assertEquals(await session.exit(), 0);
    assertMatch(session.output, /big\.bin .*3\.0 MiB \/ 3\.0 MiB.*in \d/);
  } finally {
    await serve.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("in a 60-column terminal every progress line of put and of get -r fits, so none wraps", async () => {
  await withServe(async (address, root, work) => {
    const tree = join(root, "a-rather-long-folder-name", "and-a-subfolder");
    await Deno.mkdir(tree, { recursive: true });
    for (let i = 0; i < 12; i++) {
      await Deno.writeFile(
        join(tree, `picture-with-a-long-name-${i}.jpg`),
        randomBytes(128 * 1024),
      );
    }
    await Deno.writeFile(
      join(work, "a-file-whose-name-is-longer-than-the-terminal-is-wide.bin"),
      randomBytes(1536 * 1024),
    );
    const runs = [
      ["get", "-r", "a-rather-long-folder-name", "--limit-rate", "1M"],
      [
        "put",
        "a-file-whose-name-is-longer-than-the-terminal-is-wide.bin",
        "--limit-rate",
        "1M",
      ],
    ];
    for (const command of runs) {
      const session = new PtySession(["connect", address, ...command], {
        cwd: work,
        columns: 60,
      });
      assertEquals(await session.exit(), 0, session.output);
      // Each redraw starts with "\r" and erases the line: split on that.
      const escape = new RegExp(String.raw`\x1b\[[0-9;]*[A-Za-z]`, "g");
      const lines = session.output.split(
        new RegExp(String.raw`\r\x1b\[K|\r?\n`),
      )
        .map((line) => line.replace(escape, ""))
        .filter((line) => line.trim() !== "");
      assert(lines.length >= 2, session.output);
      for (const line of lines) {
        assert(line.length < 60, `${line.length} columns: ${line}`);
      }
    }
  });
});

Deno.test("Ctrl-C during a one-shot get prints the shell's line, exits 130, and the same command resumes", async () => {
  await withServe(async (address, root, work) => {
    const data = randomBytes(4 * 1024 * 1024);
    await Deno.writeFile(join(root, "big.bin"), data);
    const command = ["connect", address, "get", "big.bin"];
    const session = new PtySession([...command, "--limit-rate", "1M"], {
      cwd: work,
    });
    // The bar shows bytes under way: the transfer has started.
    await session.waitFor(" / 4.0 MiB");
    await session.type("\x03");
    await session.waitFor(
      "fts: interrupted; the partial transfer is kept, so the same command resumes",
    );
    assertEquals(await session.exit(), 130);
    const rerun = await runFts(command, { cwd: work });
    assertEquals(rerun.code, 0, rerun.stderr);
    assertStringIncludes(rerun.stderr, 'resuming "big.bin" at ');
    assertEquals(await Deno.readFile(join(work, "big.bin")), data);
  });
});

Deno.test("-z says how many bytes went over the wire, for files and trees", async () => {
  await withServe(async (address, _root, work) => {
    await Deno.writeTextFile(
      join(work, "text.txt"),
      "hello world\n".repeat(200_000),
    );
    const put = await runFts([
      "connect",
      address,
      "put",
      "-z",
      "text.txt",
    ], {
      cwd: work,
    });
    assertEquals(put.code, 0, put.stderr);
    assertMatch(put.stderr, /^sent 2\.3 MiB as [\d.]+ (B|kiB) \(zstd\) in /);
    const get = await runFts(
      ["connect", address, "get", "-z", "text.txt", "back.txt"],
      { cwd: work },
    );
    assertEquals(get.code, 0, get.stderr);
    assertMatch(
      get.stderr,
      /^received 2\.3 MiB as [\d.]+ (B|kiB) \(zstd\) in /,
    );
    const plain = await runFts([
      "connect",
      address,
      "put",
      "text.txt",
      "p.txt",
    ], {
      cwd: work,
    });
    assertMatch(plain.stderr, /^sent 2\.3 MiB in /);
    // Trees too: a small file and a large one.
    await Deno.mkdir(join(work, "tree"));
    await Deno.writeTextFile(
      join(work, "tree", "small.txt"),
      "tiny ".repeat(9),
    );
    await Deno.copyFile(join(work, "text.txt"), join(work, "tree", "big.txt"));
    const fts = (...args: string[]) =>
      runFts(["connect", address, ...args], { cwd: work });
    const putTree = await fts("put", "-r", "-z", "tree");
    assertEquals(putTree.code, 0, putTree.stderr);
    assertMatch(
      putTree.stderr,
      /^sent 2 files \(2\.3 MiB as [\d.]+ (B|kiB) \(zstd\)\)\n$/m,
    );
    const getTree = await fts("get", "-r", "-z", "tree", "back");
    assertEquals(getTree.code, 0, getTree.stderr);
    assertMatch(
      getTree.stderr,
      /^received 2 files \(2\.3 MiB as [\d.]+ (B|kiB) \(zstd\)\)\n$/m,
    );
  });
});
