/**
 * The shell's sftp-like commands as a person uses them: at a terminal (a
 * pseudo-terminal: `!command`, Tab completion of put's remote target and
 * of `~/`) and the same commands from a batch (`-b FILE`).
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { formatBytes } from "../client/format.ts";
import { runFts, runProgram } from "./helpers/cli.ts";
import { PtySession } from "./helpers/pty.ts";
import { startServer, type TestServer } from "./helpers/server.ts";

interface World {
  server: TestServer;
  local: string;
  env: Record<string, string>;
  address: string;
}

async function withWorld(run: (world: World) => Promise<void>): Promise<void> {
  const server = await startServer();
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  const config = await Deno.makeTempDir({ prefix: "fts-test-config-" });
  try {
    await run({
      server,
      local,
      env: {
        FTS_CONFIG_DIR: config,
        HOME: local,
        // Deno's cache stays where it was, though HOME moves.
        DENO_DIR: Deno.env.get("DENO_DIR") ??
          join(Deno.env.get("HOME")!, ".cache", "deno"),
      },
      address: `127.0.0.1:${server.port}`,
    });
  } finally {
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
    await Deno.remove(config, { recursive: true });
  }
}

/** Runs `lines` as a batch file (`-b FILE`); returns what fts printed. */
async function batch(world: World, lines: string[]) {
  const file = join(world.local, "batch.txt");
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return await runFts(["connect", world.address, "-b", file], {
    cwd: world.local,
    env: world.env,
  });
}

function names(folder: string): string[] {
  return [...Deno.readDirSync(folder)].map((entry) => entry.name)
    .filter((name) => name !== ".fts").sort();
}

Deno.test("a batch runs ls -l, lls, lmkdir, !command, ?, rename, mkdir and rm -rf with several operands", async () => {
  await withWorld(async (world) => {
    const { server, local } = world;
    await Deno.writeTextFile(join(local, "here.txt"), "h\n");
    await Deno.writeTextFile(join(server.root, "a.txt"), "a\n");
    const result = await batch(world, [
      "ls -l",
      "lls",
      "lmkdir made/deep",
      "!echo ran > bang.txt",
      "?",
      "rename a.txt b.txt",
      "mkdir one two three/four",
      "rm -rf one two missing",
      "bye",
      "ls",
    ]);
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(result.stdout, "a.txt\n");
    assertStringIncludes(result.stdout, "here.txt\n");
    assertStringIncludes(result.stdout, "lmkdir PATH...");
    assert((await Deno.stat(join(local, "made", "deep"))).isDirectory);
    assertEquals(await Deno.readTextFile(join(local, "bang.txt")), "ran\n");
    assertEquals(names(server.root), ["b.txt", "three"]);
    assertEquals(names(join(server.root, "three")), ["four"]);
  });
});

Deno.test("globs in ls and rm match remotely; with -r, folders match for rm, get and put", async () => {
  await withWorld(async (world) => {
    const { server, local } = world;
    for (const name of ["x1.log", "x2.log", "keep.txt"]) {
      await Deno.writeTextFile(join(server.root, name), name);
    }
    for (const folder of ["pics-a", "pics-b"]) {
      await Deno.mkdir(join(server.root, folder, "in"), { recursive: true });
      await Deno.writeTextFile(join(server.root, folder, "in", "f"), folder);
      await Deno.mkdir(join(local, `up-${folder}`));
      await Deno.writeTextFile(join(local, `up-${folder}`, "g"), folder);
    }
    const result = await batch(world, [
      "ls *.log keep.txt",
      "rm x*.log",
      "lmkdir back",
      "get -r pics-* back",
      "put -r up-* pics-a",
      "rm -r pics-b*",
    ]);
    assertEquals(result.code, 0, result.stderr);
    const [first, second, third] = result.stdout.trim().split("\n");
    assert(first.endsWith("  x1.log") && second.endsWith("  x2.log"));
    assert(third.endsWith("  keep.txt"), result.stdout);
    assertEquals(names(join(local, "back")), ["pics-a", "pics-b"]);
    assertEquals(
      await Deno.readTextFile(join(local, "back", "pics-b", "in", "f")),
      "pics-b",
    );
    assertEquals(names(server.root), ["keep.txt", "pics-a"]);
    assertEquals(names(join(server.root, "pics-a")), [
      "in",
      "up-pics-a",
      "up-pics-b",
    ]);
    const none = await batch(world, ["rm nothing*"]);
    assertEquals(none.code, 2);
    assertStringIncludes(none.stderr, 'no match for "nothing*"');
  });
});

Deno.test("put --limit-rate and ls --hash work per command in the shell", async () => {
  await withWorld(async (world) => {
    const { server, local } = world;
    await Deno.writeTextFile(join(local, "f.txt"), "abc");
    const result = await batch(world, [
      "put --limit-rate 1M f.txt",
      "ls --hash --checksum sha256",
    ]);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(await Deno.readTextFile(join(server.root, "f.txt")), "abc");
    assertStringIncludes(
      result.stdout,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  f.txt",
    );
  });
});

Deno.test("at a terminal, !command runs locally, Tab completes put's remote target and ~/ for lcd", async () => {
  await withWorld(async (world) => {
    const { server, local, env } = world;
    await Deno.mkdir(join(server.root, "remote-only-folder"));
    await Deno.mkdir(join(local, "home-sub"));
    await Deno.writeTextFile(join(local, "up.txt"), "u");
    const shell = new PtySession(["connect", world.address], {
      cwd: local,
      env,
    });
    let at = await shell.waitFor("> ");
    at = await shell.command("!echo local-$((6*7))", "local-42", at);
    // Ctrl-C stops the local command, not fts.
    await shell.type(
      "!echo started-$((2*3)); sleep 60; echo went-on-$((6*7))\r",
    );
    at = await shell.waitFor("started-6", at);
    await shell.type("\x03");
    at = await shell.waitFor(': cannot run "!echo started', at);
    at = await shell.waitFor("> ", at);
    assert(!shell.output.includes("went-on-42"), shell.output);
    await shell.type("put up.txt remote-o\t");
    at = await shell.waitFor("remote-only-folder/", at);
    await shell.type("\r");
    at = await shell.waitFor("> ", at);
    assertEquals(
      await Deno.readTextFile(
        join(server.root, "remote-only-folder", "up.txt"),
      ),
      "u",
    );
    await shell.type("lcd ~\t");
    at = await shell.waitFor("lcd ~/", at);
    await shell.type("home-s\t");
    at = await shell.waitFor("home-sub/", at);
    await shell.type("\r");
    at = await shell.waitFor("> ", at);
    at = await shell.command("lpwd", "home-sub", at);
    await shell.type("quit\r");
    assertEquals(await shell.exit(), 0);
  });
});

Deno.test("chmod sets permission bits of several paths (a glob in the shell) and one-shot; a bad MODE is a usage error", async () => {
  await withWorld(async (world) => {
    const { server } = world;
    await Deno.writeTextFile(join(server.root, "a.txt"), "a");
    await Deno.writeTextFile(join(server.root, "b.txt"), "b");
    await Deno.mkdir(join(server.root, "d"));
    const mode = async (name: string) =>
      (await Deno.stat(join(server.root, name))).mode! & 0o777;
    const result = await batch(world, ["chmod 600 *.txt", "chmod 0750 d"]);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(await mode("a.txt"), 0o600);
    assertEquals(await mode("b.txt"), 0o600);
    assertEquals(await mode("d"), 0o750);
    const fts = (...args: string[]) =>
      runFts(["connect", world.address, ...args]);
    const once = await fts("chmod", "644", "/a.txt");
    assertEquals(once.code, 0, once.stderr);
    assertEquals(await mode("a.txt"), 0o644);
    const bad = await fts("chmod", "u+x", "a.txt");
    assertEquals(bad.code, 2);
    assertStringIncludes(
      bad.stderr,
      'chmod takes a MODE in octal such as 644 or 0755, not "u+x"',
    );
  });
});

Deno.test("df in the shell tells the free space of the server's file system, as df(1) sees it", async () => {
  await withWorld(async (world) => {
    const result = await batch(world, ["df"]);
    const once = await runFts(["connect", world.address, "df"]);
    assertEquals(
      once.stdout.split(" free of ")[1],
      result.stdout.split(" free of ")[1],
    );
    assertEquals(result.code, 0, result.stderr);
    const match = /^(\S+ \S+) free of (\S+ \S+) \(\d+%\)\n$/.exec(
      result.stdout,
    );
    assert(match !== null, result.stdout);
    const df = await runProgram("df", [
      "-B1",
      "--output=size",
      world.server.root,
    ]);
    const size = Number(df.stdout.trim().split("\n")[1]);
    assertEquals(match?.[2], formatBytes(size));
  });
});
