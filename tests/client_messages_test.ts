/**
 * The client's one-line messages name the right thing: the remote target of
 * a failed put, a file that changed while it was sent, a missing folder for
 * cd and lcd; plus the small things of `serve` and `known-hosts`, and host
 * aliases from the config file.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { applyAlias, readHostConfig } from "../client/host_config.ts";
import { KnownHosts } from "../client/known_hosts.ts";
import { upload } from "../client/upload.ts";
import { IntegrityError } from "../protocol/mod.ts";
import { createSelfSignedCertificate } from "../server/certificate.ts";
import { MAIN, runFts, startServe } from "./helpers/cli.ts";
import { startServer } from "./helpers/server.ts";
import { canMountTmpfs, prerequisite } from "./helpers/prerequisite.ts";

async function withTemp(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fts-test-msg-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a failed put names the remote target, not the local file", async () => {
  const server = await startServer({ readOnly: true });
  try {
    await withTemp(async (dir) => {
      await Deno.writeTextFile(join(dir, "local-name.txt"), "x");
      const result = await runFts([
        "connect",
        `127.0.0.1:${server.port}`,
        "put",
        join(dir, "local-name.txt"),
        "remote-name.txt",
      ]);
      assertEquals(result.code, 1);
      assertStringIncludes(result.stderr, 'cannot put "remote-name.txt"');
      assert(!result.stderr.includes("local-name"), result.stderr);
    });
  } finally {
    await server.cleanup();
  }
});

Deno.test("a file that grows during put is reported as changed, and nothing lands", async () => {
  const server = await startServer();
  try {
    await withTemp(async (dir) => {
      const file = join(dir, "growing.log");
      await Deno.writeFile(file, new Uint8Array(4 * 1024 * 1024));
      const connection = await Connection.open({
        hostname: "127.0.0.1",
        port: server.port,
      });
      let grown = false;
      const reporter = {
        info: () => {},
        progress: () => ({
          advance: () => {
            if (grown) return;
            grown = true;
            Deno.writeFileSync(file, new Uint8Array(1024 * 1024), {
              append: true,
            });
          },
          finish: () => {},
          clear: () => {},
        }),
      };
      const error = await upload(connection, file, "growing.log", {
        resume: true,
        noClobber: false,
        verify: true,
        // deno-lint-ignore no-explicit-any -- a partial bar is all upload uses
      }, reporter as any).then(() => null, (error) => error);
      assert(error instanceof IntegrityError, String(error));
      assertEquals(
        error.message,
        'cannot put "growing.log": the file changed while it was being sent; run the command again once it is complete',
      );
      assertEquals(
        await Deno.stat(join(server.root, "growing.log")).catch(() => null),
        null,
      );
      // The session stays in step for the next request.
      assertEquals((await connection.list("")).length, 0);
      await connection.close();
    });
  } finally {
    await server.cleanup();
  }
});

Deno.test("cd to a missing folder says no such folder; lcd to one says no such local folder", async () => {
  const server = await startServer();
  try {
    await withTemp(async (dir) => {
      const result = await runFts(["connect", `127.0.0.1:${server.port}`], {
        cwd: dir,
        stdin: "-cd nowhere\n-lcd nowhere\nlcd\nlpwd\nlcd ~/\nlpwd\n",
      });
      assertEquals(result.code, 0, result.stderr);
      assertEquals(result.stderr.trim().split("\n"), [
        'fts: cannot cd "nowhere": no such folder',
        'fts: cannot lcd "nowhere": no such local folder',
      ]);
      // HOME stays as it is: it also locates Deno's own cache.
      const home = await Deno.realPath(Deno.env.get("HOME")!);
      assertEquals(result.stdout.trim().split("\n"), [home, home]);
    });
  } finally {
    await server.cleanup();
  }
});

Deno.test("serve refuses a DIR that is a file, and the listening line names the folder", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(join(dir, "big.bin"), "x");
    const refused = await runFts(["serve", "big.bin", "--port", "0"], {
      cwd: dir,
    });
    assertEquals(refused.code, 1);
    assertEquals(
      refused.stderr,
      'fts: cannot serve "big.bin": it exists and is not a folder\n',
    );
    const root = join(dir, "data");
    const serve = await startServe(root);
    try {
      assertEquals(
        serve.lines[0],
        `fts listening on 127.0.0.1:${serve.port}, serving ${root}`,
      );
    } finally {
      await serve.stop();
    }
  });
});

Deno.test("fts known-hosts lists and removes remembered servers, at every port when none is named", async () => {
  await withTemp(async (dir) => {
    const hosts = new KnownHosts(join(dir, "known_hosts"));
    const pair = await createSelfSignedCertificate();
    await hosts.remember("files.lan:7373", pair.certPem);
    await hosts.remember("[::1]:7000", pair.certPem);
    const env = { FTS_CONFIG_DIR: dir };
    const list = await runFts(["known-hosts", "list"], { env });
    assertEquals(list.code, 0, list.stderr);
    assertEquals(list.stdout.trim().split("\n"), [
      `files.lan:7373 ${pair.fingerprint}`,
      `[::1]:7000 ${pair.fingerprint}`,
    ]);
    const removed = await runFts(["known-hosts", "remove", "files.lan"], {
      env,
    });
    assertEquals(removed.code, 0, removed.stderr);
    assertEquals((await hosts.list()).map((h) => h.hostPort), ["[::1]:7000"]);
    const again = await runFts(["known-hosts", "remove", "files.lan"], { env });
    assertEquals(again.code, 2);
    assertStringIncludes(again.stderr, "files.lan (at any port) is not in");
    const port = await runFts(["known-hosts", "remove", "[::1]:7001"], { env });
    assertEquals(port.code, 2);
    assertStringIncludes(port.stderr, "[::1]:7001 is not in");
    // Without a port: the host at every port it was trusted on.
    await hosts.remember("localhost:7100", pair.certPem);
    await hosts.remember("localhost:7200", pair.certPem);
    for (const host of ["::1", "localhost"]) {
      const gone = await runFts(["known-hosts", "remove", host], { env });
      assertEquals(gone.code, 0, gone.stderr);
    }
    assertEquals(await hosts.list(), []);
  });
});

Deno.test("a host alias from the config file supplies address, port and user", async () => {
  await withTemp(async (dir) => {
    const file = join(dir, "config");
    await Deno.writeTextFile(
      file,
      '[files]\nhost = "127.0.0.1"\nport = 9000\nuser = "ann"\n\n[v6]\nhost = "::1"\n',
    );
    const aliases = await readHostConfig(file);
    assertEquals(applyAlias("files", aliases).target, "ann@127.0.0.1:9000");
    assertEquals(
      applyAlias("bob@files:9001", aliases).target,
      "bob@127.0.0.1:9001",
    );
    assertEquals(applyAlias("v6", aliases).target, "[::1]");
    assertEquals(applyAlias("other:1", aliases).target, "other:1");
    await Deno.writeTextFile(file, '[bad]\nhost = "x"\nprot = 1\n');
    const error = await readHostConfig(file).catch((e) => e);
    assertStringIncludes(error.message, 'has an unknown setting "prot"');
  });
});

Deno.test("fts connect ALIAS works end to end", async () => {
  const server = await startServer();
  try {
    await withTemp(async (dir) => {
      await Deno.writeTextFile(join(server.root, "via-alias.txt"), "a");
      await Deno.writeTextFile(
        join(dir, "config"),
        `[files]\nhost = "127.0.0.1"\nport = ${server.port}\n`,
      );
      const result = await runFts(["connect", "files", "ls"], {
        env: { FTS_CONFIG_DIR: dir },
      });
      assertEquals(result.code, 0, result.stderr);
      assertStringIncludes(result.stdout, "via-alias.txt");
    });
  } finally {
    await server.cleanup();
  }
});

// A private mount namespace with a 1 MiB tmpfs stands in for a full disk.
const noTmpfs = prerequisite("root, to mount a tmpfs", canMountTmpfs());

Deno.test({
  name:
    "a full local disk during get is blamed on the disk, not the connection (needs root for a tmpfs)",
  ignore: noTmpfs,
  fn: async () => {
    const server = await startServer();
    try {
      await Deno.writeFile(
        join(server.root, "big.bin"),
        new Uint8Array(3 * 1024 * 1024),
      );
      for (
        const [flag, expected] of [
          [
            "--resume",
            "the partial download is kept, so the same command resumes",
          ],
          ["--no-resume", "the partial download was removed"],
        ]
      ) {
        const script = [
          'mount -t tmpfs -o size=1m tmpfs "$1"',
          'cd "$1"',
          `exec "$2" run -A "$3" connect 127.0.0.1:${server.port} get big.bin ${
            flag === "--no-resume" ? flag : ""
          }`,
        ].join(" && ");
        await withTemp(async (dir) => {
          const output = await new Deno.Command("unshare", {
            args: ["-m", "sh", "-c", script, "sh", dir, Deno.execPath(), MAIN],
            env: { NO_COLOR: "1" },
            stdout: "piped",
            stderr: "piped",
          }).output();
          const stderr = new TextDecoder().decode(output.stderr);
          assertEquals(output.code, 1, stderr);
          assertEquals(stderr.trim().split("\n").length, 1, stderr);
          assertStringIncludes(
            stderr,
            'fts: cannot get "big.bin": the local disk is full;',
          );
          assertStringIncludes(stderr, expected);
        });
      }
    } finally {
      await server.cleanup();
    }
  },
});
