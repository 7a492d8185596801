/**
 * fts as a user runs it: `main.ts serve` and `main.ts connect` as
 * subprocesses on 127.0.0.1.
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
  MAIN,
  randomBytes,
  randomFile,
  runFts,
  sha256File,
  withServe,
} from "./helpers/cli.ts";

Deno.test("fts --version and --help print and exit 0", async () => {
  const version = await runFts(["--version"]);
  assertEquals(version.code, 0);
  assertMatch(version.stdout, /^fts \d+\.\d+\.\d+\n$/);
  for (const args of [["--help"], ["serve", "--help"], ["connect", "--help"]]) {
    const help = await runFts(args);
    assertEquals(help.code, 0, args.join(" "));
    assertStringIncludes(help.stdout, "Usage");
  }
});

Deno.test("a usage error prints one line and where help is, and exits 2", async () => {
  const unknown = await runFts(["frobnicate"]);
  assertEquals(unknown.code, 2);
  assertEquals(
    unknown.stderr,
    "fts: unknown command \"frobnicate\"\ntry 'fts --help'\n",
  );
  const badPort = await runFts(["serve", "--port", "http"]);
  assertEquals(badPort.code, 2);
  const noHost = await runFts(["connect"]);
  assertEquals(noHost.code, 2);
  const unknownOption = await runFts(["connect", "--frobnicate", "h", "ls"]);
  assertEquals(unknownOption.code, 2);
  assertStringIncludes(unknownOption.stderr, 'unknown option "--frobnicate"');
  assertStringIncludes(unknownOption.stderr, "try 'fts connect --help'");
  // Checked before connecting: no server listens on port 1.
  const badCommand = await runFts(["connect", "127.0.0.1:1", "frobnicate"]);
  assertEquals(
    badCommand.stderr,
    "fts: unknown command \"frobnicate\"\ntry 'fts connect --help'\n",
  );
  assertEquals(badCommand.code, 2);
  const help = await runFts(["help", "connect"]);
  assertEquals(help.code, 0);
  assertStringIncludes(help.stdout, "Usage: fts connect");
});

Deno.test("fts serve announces its real port, logs operations and exits 0 on SIGTERM", async () => {
  const { code, log } = await withServe(async (address, _root, work) => {
    await Deno.writeTextFile(join(work, "a.txt"), "hello");
    const put = await runFts(["connect", address, "put", join(work, "a.txt")]);
    assertEquals(put.code, 0, put.stderr);
  });
  assertEquals(code, 0);
  assertMatch(log, /127\.0\.0\.1:\d+ connect fts\//);
  assertMatch(log, /put "a\.txt" 5B \d+\.\d+s ok/);
});

Deno.test("put, ls, stat, hash, get, mv, mkdir and rm work from the command line", async () => {
  await withServe(async (address, root, work) => {
    const source = join(work, "data.bin");
    await randomFile(source, 5 * 1024 * 1024 + 17);
    const fts = (...args: string[]) =>
      runFts(["connect", address, ...args], { cwd: work });

    assertEquals((await fts("mkdir", "docs/deep")).code, 0);
    const put = await fts("put", source, "docs/");
    assertEquals(put.code, 0, put.stderr);
    assertEquals(
      await sha256File(join(root, "docs/data.bin")),
      await sha256File(source),
    );

    const ls = await fts("ls", "docs");
    assertEquals(ls.code, 0);
    assertMatch(ls.stdout, /^drwx.* deep\/$/m);
    assertMatch(ls.stdout, /^-rw.* 5\.0 MiB .* data\.bin$/m);
    const json = JSON.parse((await fts("ls", "docs", "--json")).stdout);
    assertEquals(
      json.map((e: { name: string; type: string }) => [e.name, e.type]),
      [["data.bin", "file"], ["deep", "dir"]],
    );

    const stat = await fts("stat", "docs/data.bin", "--json", "--hash");
    assertEquals(JSON.parse(stat.stdout).size, 5 * 1024 * 1024 + 17);
    assertEquals(JSON.parse(stat.stdout).sha256, await sha256File(source));

    const lsHash = await fts("ls", "docs/data.bin", "--json", "--hash");
    assertEquals(JSON.parse(lsHash.stdout)[0].sha256, await sha256File(source));

    const hash = await fts("hash", "docs/data.bin");
    assertEquals(hash.stdout, `${await sha256File(source)}  docs/data.bin\n`);

    const get = await fts("get", "docs/data.bin", "copy.bin");
    assertEquals(get.code, 0, get.stderr);
    assertEquals(
      await sha256File(join(work, "copy.bin")),
      await sha256File(source),
    );

    assertEquals((await fts("mv", "docs/data.bin", "docs/deep")).code, 0);
    assert((await Deno.stat(join(root, "docs/deep/data.bin"))).isFile);

    const rmDir = await fts("rm", "docs");
    assertEquals(rmDir.code, 1);
    assertStringIncludes(rmDir.stderr, "not empty");
    assertEquals((await fts("rm", "-r", "docs")).code, 0);
    assertEquals((await fts("ls", "--json")).stdout.trim(), "[]");
  });
});

Deno.test("a failed command prints one clear line and exits 1", async () => {
  await withServe(async (address) => {
    const missing = await runFts(["connect", address, "get", "a.txt"]);
    assertEquals(missing.code, 1);
    assertEquals(
      missing.stderr,
      'fts: cannot get "a.txt": no such file or folder on the server\n',
    );
    // "/" is the served root, never the server's own root.
    const escape = await runFts(["connect", address, "get", "/etc/passwd"]);
    assertEquals(escape.code, 1);
    assertEquals(
      escape.stderr,
      'fts: cannot get "etc/passwd": no such file or folder on the server\n',
    );
    const climb = await runFts(["connect", address, "get", "../x"]);
    assertEquals(climb.code, 1);
    assertStringIncludes(climb.stderr, "outside");
  });
  const refused = await runFts(["connect", "127.0.0.1:1", "ls"]);
  assertEquals(refused.code, 1);
  assertEquals(
    refused.stderr,
    "fts: cannot connect to 127.0.0.1:1: connection refused\n",
  );
});

Deno.test("put - reads stdin and get - writes stdout", async () => {
  await withServe(async (address, root) => {
    const data = randomBytes(300_000);
    const put = await runFts(["connect", address, "put", "-", "piped.bin"], {
      stdin: data,
    });
    assertEquals(put.code, 0, put.stderr);
    assertEquals(await Deno.readFile(join(root, "piped.bin")), data);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "connect", address, "get", "piped.bin", "-"],
      stdout: "piped",
      stderr: "piped",
    });
    const output = await child.output();
    assertEquals(output.code, 0);
    assertEquals(output.stdout, data);
  });
});

Deno.test("the piped shell runs commands, goes past -COMMAND failures and leaves at quit", async () => {
  await withServe(async (address, root, work) => {
    await Deno.writeTextFile(join(work, "my file.txt"), "shell data");
    const script = [
      "mkdir inbox",
      "cd inbox",
      "pwd",
      `put "my file.txt"`,
      "-get nothing-here",
      "ls",
      "cd /",
      "-frobnicate",
      "ls",
      "help",
      "quit",
      "ls never-run",
    ].join("\n") + "\n";
    const shell = await runFts(["connect", address], {
      stdin: script,
      cwd: work,
    });
    assertEquals(shell.code, 0, shell.stderr);
    assertEquals(
      await Deno.readTextFile(join(root, "inbox/my file.txt")),
      "shell data",
    );
    assertStringIncludes(shell.stdout, "/inbox\n");
    assertMatch(shell.stdout, /my file\.txt/);
    assertMatch(shell.stdout, /inbox\//);
    assertStringIncludes(shell.stdout, "cd [PATH]");
    assertStringIncludes(shell.stderr, 'cannot get "inbox/nothing-here"');
    assertStringIncludes(shell.stderr, 'unknown command "frobnicate"');
    assert(!shell.stderr.includes("never-run"));
  });
});

Deno.test("a read-only server refuses writes and still serves reads", async () => {
  await withServe(async (address, root, work) => {
    await Deno.writeTextFile(join(root, "r.txt"), "read me");
    await Deno.writeTextFile(join(work, "w.txt"), "write me");
    const put = await runFts(["connect", address, "put", join(work, "w.txt")]);
    assertEquals(put.code, 1);
    assertStringIncludes(put.stderr, "read-only");
    for (
      const args of [["rm", "r.txt"], ["mkdir", "x"], ["mv", "r.txt", "s.txt"]]
    ) {
      const result = await runFts(["connect", address, ...args]);
      assertEquals(result.code, 1, args.join(" "));
      assertStringIncludes(result.stderr, "read-only");
    }
    const get = await runFts(["connect", address, "get", "r.txt", "-"]);
    assertEquals(get.stdout, "read me");
  }, ["--read-only"]);
});

Deno.test("serve of s3:// without credentials names the variables in one line and makes no folder", async () => {
  const work = await Deno.makeTempDir({ prefix: "fts-cli-s3-" });
  try {
    const result = await runFts(
      ["serve", "s3://bucket/prefix", "--port", "0"],
      {
        cwd: work,
        env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
      },
    );
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr,
      'fts: cannot serve "s3://bucket/prefix": AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to serve s3://\n',
    );
    assertEquals([...Deno.readDirSync(work)], []);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("serve refuses another scheme in one line and makes no folder for it", async () => {
  const work = await Deno.makeTempDir({ prefix: "fts-cli-gs-" });
  try {
    const result = await runFts(["serve", "gs://bucket", "--port", "0"], {
      cwd: work,
    });
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr,
      'fts: cannot serve "gs://bucket": only folders and s3://BUCKET[/PREFIX] can be served\n',
    );
    assertEquals([...Deno.readDirSync(work)], []);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("each subcommand refuses the flags it does not use and every bad value, in one line with exit 2", async () => {
  const cases: [string[], string][] = [
    [["serve", "--parallel", "4"], "fts: serve does not take --parallel"],
    [["connect", "127.0.0.1:1", "ls", "-r"], "fts: ls does not take -r"],
    [
      ["connect", "127.0.0.1:1", "rm", "--json", "x"],
      "fts: rm does not take --json",
    ],
    [
      ["connect", "-P", "2", "127.0.0.1:1", "ls"],
      "fts: fts takes no -P: write the port as HOST:PORT",
    ],
    [
      ["connect", "127.0.0.1:1", "ls", "--timeout", "999999999999999"],
      'fts: --timeout takes a number of seconds up to 2147483, not "999999999999999"',
    ],
    [
      ["serve", "--port", "99999"],
      'fts: --port takes a port from 0 to 65535, not "99999"',
    ],
    [
      ["serve", "--max-connections", "0"],
      'fts: --max-connections takes a number of connections from 1 to 1000000, not "0"',
    ],
    [
      ["serve", "--idle-timeout", "99999999999"],
      'fts: --idle-timeout takes a duration such as 90s, 30m or 24h, not "99999999999"',
    ],
    [
      ["serve", "--porrt", "1"],
      'fts: unknown option "--porrt" (did you mean --port?)',
    ],
    [["-v"], 'fts: unknown option "-v" (did you mean -V?)'],
    [["connect", "127.0.0.1:1", "-b"], "fts: -b takes a file of commands"],
    [
      ["connect", "127.0.0.1:1", "ls", "--json=yes"],
      "fts: --json takes no value",
    ],
    [
      ["conect", "host"],
      'fts: unknown command "conect" (did you mean connect?)',
    ],
    [
      ["connect", "127.0.0.1:1", "lss"],
      'fts: unknown command "lss" (did you mean ls?)',
    ],
    [
      ["user", "list", "--replace", "--users", "u"],
      "fts: user list does not take --replace",
    ],
  ];
  for (const [args, line] of cases) {
    const result = await runFts(args);
    assertEquals(result.code, 2, args.join(" "));
    const [first, second, ...more] = result.stderr.split("\n");
    assert(first.startsWith(line), `${args.join(" ")}: ${result.stderr}`);
    assertMatch(second, /^try 'fts( [a-z-]+)? --help'$/);
    assertEquals(more, [""]);
    assertEquals(result.stdout, "");
  }
});

Deno.test("absolute remote paths start at the served root, as in sftp", async () => {
  await withServe(async (address, root, work) => {
    const fts = (...args: string[]) =>
      runFts(["connect", address, ...args], { cwd: work });
    await Deno.mkdir(join(root, "docs"));
    await Deno.writeTextFile(join(work, "note.txt"), "hello\n");
    assertEquals((await fts("put", "note.txt", "/docs/")).code, 0);
    assertEquals(
      await Deno.readTextFile(join(root, "docs", "note.txt")),
      "hello\n",
    );
    const listing = await fts("ls", "/docs");
    assertEquals(listing.code, 0, listing.stderr);
    assertStringIncludes(listing.stdout, "note.txt");
    assertStringIncludes((await fts("ls", "/")).stdout, "docs/");
    assertEquals((await fts("get", "/docs/note.txt", "back.txt")).code, 0);
    assertEquals(await Deno.readTextFile(join(work, "back.txt")), "hello\n");
    assertEquals((await fts("mv", "/docs/note.txt", "/n.txt")).code, 0);
    assertEquals((await fts("rm", "/n.txt")).code, 0);
    const names = [...Deno.readDirSync(root)].map((e) => e.name);
    assertEquals(names.filter((name) => name !== ".fts"), ["docs"]);
  });
});

Deno.test("a missing folder is named: the local one of get, the remote one of put", async () => {
  await withServe(async (address, root, work) => {
    await Deno.writeTextFile(join(root, "notes.txt"), "n\n");
    await Deno.writeTextFile(join(work, "x.txt"), "x\n");
    const fts = (...args: string[]) =>
      runFts(["connect", address, ...args], { cwd: work });
    const get = await fts("get", "notes.txt", "no/such/dir/x.txt");
    assertEquals(get.code, 1);
    assertEquals(
      get.stderr,
      'fts: cannot get "notes.txt": there is no local folder "no/such/dir"\n',
    );
    const put = await fts("put", "x.txt", "no/such/dir/x.txt");
    assertEquals(put.code, 1);
    assertEquals(
      put.stderr,
      'fts: cannot put "no/such/dir/x.txt": there is no folder "no/such/dir" on the server\n',
    );
    const missing = await fts("put", "nothing.txt", "notes.txt");
    assertEquals(missing.code, 1);
    assertStringIncludes(missing.stderr, "no such local file");
  });
});
