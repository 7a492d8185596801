/**
 * The shell as a person uses it: in a real pseudo-terminal (history, Tab
 * completion, Ctrl-C, Ctrl-D), and fed commands by a pipe or `-b FILE`
 * (batch mode stops at the first error, as `sftp -b` does).
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { randomFile, runFts, waitForPartial } from "./helpers/cli.ts";
import { createSelfSignedCertificate } from "../server/certificate.ts";
import { PtySession } from "./helpers/pty.ts";
import { startServer, type TestServer } from "./helpers/server.ts";

async function withShellWorld(
  run: (world: {
    server: TestServer;
    local: string;
    env: Record<string, string>;
  }) => Promise<void>,
): Promise<void> {
  const server = await startServer();
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  const config = await Deno.makeTempDir({ prefix: "fts-test-config-" });
  try {
    await run({ server, local, env: { FTS_CONFIG_DIR: config } });
  } finally {
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
    await Deno.remove(config, { recursive: true });
  }
}

/** Opens the shell on the world's server in a pseudo-terminal; waits for its prompt. */
async function openShell(
  world: { server: TestServer; local: string; env: Record<string, string> },
  extra: string[] = [],
): Promise<{ shell: PtySession; at: number }> {
  const shell = new PtySession(
    ["connect", `127.0.0.1:${world.server.port}`, ...extra],
    { cwd: world.local, env: world.env },
  );
  return { shell, at: await shell.waitFor("> ") };
}

Deno.test("the shell keeps history across sessions in a file of mode 0600, and Up-arrow recalls it", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    await Deno.writeTextFile(join(server.root, "marker.txt"), "m\n");
    const address = `127.0.0.1:${server.port}`;
    const first = new PtySession(["connect", address], { cwd: local, env });
    const at = await first.waitFor("> ");
    await first.command("stat marker.txt", "name: marker.txt", at);
    await first.type("quit\r");
    assertEquals(await first.exit(), 0);
    const history = await Deno.stat(join(env.FTS_CONFIG_DIR, "history"));
    assertEquals(history.mode! & 0o777, 0o600, "only its owner reads it");

    const second = new PtySession(["connect", address], { cwd: local, env });
    let next = await second.waitFor("> ");
    // The newest line is the "quit" that ended the first session.
    await second.type("\x1b[A");
    next = await second.waitFor("quit", next);
    await second.type("\x1b[A");
    next = await second.waitFor("stat marker.txt", next);
    await second.command("", "name: marker.txt", next);
    await second.type("quit\r");
    assertEquals(await second.exit(), 0);
    assert(!second.output.includes("^[[A"), second.output);
  });
});

Deno.test("Tab completes command names and remote paths", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    await Deno.writeTextFile(join(server.root, "unique-name.txt"), "u\n");
    await Deno.mkdir(join(server.root, "folder"));
    let { shell, at } = await openShell({ server, local, env });
    await shell.type("sta\t");
    at = await shell.waitFor("stat ", at);
    await shell.type("uni\t");
    at = await shell.waitFor("unique-name.txt ", at);
    await shell.type("\r");
    at = await shell.waitFor("name: unique-name.txt", at);
    at = await shell.waitFor("> ", at);
    await shell.type("cd fo\t");
    at = await shell.waitFor("folder/", at);
    await shell.type("\r");
    await shell.waitFor(":/folder> ", at);
    await shell.type("quit\r");
    assertEquals(await shell.exit(), 0);
  });
});

Deno.test("Ctrl-C during a get stops it, keeps the partial, and the shell goes on", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    await randomFile(join(server.root, "big.bin"), 16 * 1024 * 1024);
    let { shell, at } = await openShell({ server, local, env }, [
      "--limit-rate",
      "1M",
    ]);
    await shell.type("get big.bin\r");
    await waitForPartial(
      local,
      (name) => name.startsWith(".fts-partial-"),
      1024 * 1024,
    );
    await shell.type("\x03");
    at = await shell.waitFor("interrupted", at);
    at = await shell.waitFor("> ", at);
    const names = [...Deno.readDirSync(local)].map((e) => e.name);
    assertEquals(names.length, 1, names.join());
    assert(names[0].startsWith(".fts-partial-"), names[0]);
    const kept = (await Deno.stat(join(local, names[0]))).size;
    assert(kept > 0 && kept < 16 * 1024 * 1024, `${kept} bytes kept`);
    // The shell reconnects for the next command.
    await shell.command("ls", "big.bin", at);
    await shell.type("quit\r");
    assertEquals(await shell.exit(), 0);
  });
});

Deno.test("Ctrl-C at the prompt clears the line; Ctrl-D prints a newline and leaves", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    let { shell, at } = await openShell({ server, local, env });
    await shell.type("garbage");
    await shell.waitFor("garbage", at);
    await shell.type("\x03");
    at = await shell.waitFor("^C", at);
    await shell.command("pwd", "\r\n/\r\n", at);
    await shell.type("\x04");
    assertEquals(await shell.exit(), 0);
    assert(!shell.output.includes('unknown command "garbage'), shell.output);
    assert(
      shell.output.endsWith("\r\n"),
      JSON.stringify(shell.output.slice(-20)),
    );
  });
});

Deno.test("commands piped to the shell stop at the first error with exit status 1", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    const result = await runFts(["connect", `127.0.0.1:${server.port}`], {
      cwd: local,
      env,
      stdin: "mkdir a\nrm nothere\nmkdir b\n",
    });
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr.trim(),
      'fts: cannot remove "nothere": no such file or folder on the server',
    );
    assert((await Deno.stat(join(server.root, "a"))).isDirectory);
    assertEquals(
      await Deno.stat(join(server.root, "b")).catch(() => null),
      null,
    );
  });
});

Deno.test("-b FILE runs a batch; a -COMMAND may fail without stopping it", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    await Deno.writeTextFile(
      join(local, "batch"),
      "-rm nothere\nmkdir a\nput batch a/\n",
    );
    const result = await runFts([
      "connect",
      `127.0.0.1:${server.port}`,
      "-b",
      "batch",
    ], { cwd: local, env });
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(result.stderr, 'cannot remove "nothere"');
    assertEquals(
      await Deno.readTextFile(join(server.root, "a", "batch")),
      await Deno.readTextFile(join(local, "batch")),
    );
  });
});

Deno.test("the shell refuses flags a command does not take, before running it", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    for (
      const line of ["ls -r", "mkdir --bogus x", "get --max-connections a"]
    ) {
      const result = await runFts(["connect", `127.0.0.1:${server.port}`], {
        cwd: local,
        env,
        stdin: `${line}\n`,
      });
      assertEquals(result.code, 2, line);
      const flag = line.split(" ")[1];
      assertEquals(
        result.stderr.trim().split("\n"),
        [
          `fts: ${line.split(" ")[0]} does not take ${flag}`,
          "try 'fts connect --help'",
        ],
      );
    }
    assertEquals([...Deno.readDirSync(server.root)], []);
  });
});

Deno.test("put *.txt in the shell expands locally, each match into the working folder", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    await Deno.writeTextFile(join(local, "one.txt"), "1\n");
    await Deno.writeTextFile(join(local, "two.txt"), "2\n");
    await Deno.writeTextFile(join(local, "other.log"), "x\n");
    await Deno.mkdir(join(server.root, "in"));
    const result = await runFts(["connect", `127.0.0.1:${server.port}`], {
      cwd: local,
      env,
      stdin: "cd in\nput *.txt\nmget *.txt got/\n",
    });
    // got/ does not exist: several sources need an existing folder.
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, '"got/" is not a local folder');
    assertEquals(
      [...Deno.readDirSync(join(server.root, "in"))].map((e) => e.name).sort(),
      ["one.txt", "two.txt"],
    );
    await Deno.mkdir(join(local, "got"));
    const again = await runFts(["connect", `127.0.0.1:${server.port}`], {
      cwd: local,
      env,
      stdin: "mget in/*.txt got/\n",
    });
    assertEquals(again.code, 0, again.stderr);
    assertEquals(await Deno.readTextFile(join(local, "got", "two.txt")), "2\n");
  });
});

Deno.test("put with several sources refuses a target that is not a folder and sends nothing", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    await Deno.writeTextFile(join(local, "a.txt"), "a\n");
    await Deno.writeTextFile(join(local, "b.txt"), "b\n");
    await Deno.writeTextFile(join(server.root, "c.txt"), "keep\n");
    const result = await runFts([
      "connect",
      `127.0.0.1:${server.port}`,
      "put",
      "a.txt",
      "b.txt",
      "c.txt",
    ], { cwd: local, env });
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, '"c.txt" is not a folder');
    assertEquals(
      [...Deno.readDirSync(server.root)].map((e) => e.name),
      ["c.txt"],
    );
    assertEquals(await Deno.readTextFile(join(server.root, "c.txt")), "keep\n");
  });
});

Deno.test("after yes to a new certificate, fts says it was added to known hosts", async () => {
  const cert = await createSelfSignedCertificate();
  const server = await startServer({ tls: cert });
  const config = await Deno.makeTempDir({ prefix: "fts-test-config-" });
  try {
    const session = new PtySession([
      "connect",
      "--tls",
      `127.0.0.1:${server.port}`,
      "ls",
    ], { env: { FTS_CONFIG_DIR: config } });
    let at = await session.waitFor("(yes/no)? ");
    await session.type("yes\r");
    at = await session.waitFor(
      `added 127.0.0.1:${server.port} (${cert.fingerprint}) to ${
        join(config, "known_hosts")
      }`,
      at,
    );
    assertEquals(await session.exit(), 0);
    const list = await runFts(["known-hosts", "list"], {
      env: { FTS_CONFIG_DIR: config },
    });
    assertEquals(list.stdout, `127.0.0.1:${server.port} ${cert.fingerprint}\n`);
  } finally {
    await server.cleanup();
    await Deno.remove(config, { recursive: true });
  }
});

Deno.test("Ctrl-C during a put stops it, and the same put then resumes", async () => {
  await withShellWorld(async ({ server, local, env }) => {
    await randomFile(join(local, "up.bin"), 4 * 1024 * 1024);
    let { shell, at } = await openShell({ server, local, env }, [
      "--limit-rate",
      "1M",
    ]);
    await shell.type("put up.bin\r");
    // Ctrl-C once the server has staged part of the file, not after a sleep.
    await waitForPartial(
      join(server.root, ".fts", "partial"),
      () => true,
      512 * 1024,
    );
    await shell.type("\x03");
    at = await shell.waitFor("interrupted", at);
    at = await shell.waitFor("> ", at);
    assertEquals(
      await Deno.stat(join(server.root, "up.bin")).catch(() => null),
      null,
    );
    const rerun = await shell.command("put up.bin", "verified", at);
    assertStringIncludes(
      shell.output.slice(at, rerun),
      'resuming "up.bin" at ',
    );
    await shell.type("quit\r");
    assertEquals(await shell.exit(), 0);
    assertEquals(
      await Deno.readFile(join(server.root, "up.bin")),
      await Deno.readFile(join(local, "up.bin")),
    );
  });
});
