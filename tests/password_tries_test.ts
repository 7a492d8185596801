/**
 * Logins as a person meets them: three password tries at a terminal, as
 * ssh gives, and `fts user` and `fts serve` agreeing on a default users
 * file in the configuration folder.
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { runFts, startServe } from "./helpers/cli.ts";
import { PtySession } from "./helpers/pty.ts";

async function withConfig(
  run: (config: string, root: string) => Promise<void>,
): Promise<void> {
  const config = await Deno.makeTempDir({ prefix: "fts-test-config-" });
  const root = await Deno.makeTempDir({ prefix: "fts-test-root-" });
  try {
    await run(config, root);
  } finally {
    await Deno.remove(config, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("fts user finds the default users file, fts serve uses it, and a second add mentions --replace", async () => {
  await withConfig(async (config, root) => {
    const env = { FTS_CONFIG_DIR: config, FTS_PASSWORD: "secret-1" };
    const add = await runFts(["user", "add", "ann"], { env });
    assertEquals(add.code, 0, add.stderr);
    assertStringIncludes(add.stdout, join(config, "users"));
    const again = await runFts(["user", "add", "ann"], { env });
    assertEquals(again.code, 1);
    assertEquals(
      again.stderr,
      "fts: cannot add user: ann already exists (add --replace to set a new password)\n",
    );
    const list = await runFts(["user", "list"], { env });
    assertEquals(list.stdout, "ann\n");
    const serve = await startServe(root, [], {
      env: { FTS_CONFIG_DIR: config },
    });
    try {
      const anonymous = await runFts(["connect", serve.address, "ls"]);
      assertEquals(anonymous.code, 1);
      assertStringIncludes(anonymous.stderr, "requires a login");
      const ann = await runFts(["connect", `ann@${serve.address}`, "ls"], {
        env,
      });
      assertEquals(ann.code, 0, ann.stderr);
    } finally {
      await serve.stop();
    }
  });
});

Deno.test("at a terminal a wrong password may be typed again, three tries in all", async () => {
  await withConfig(async (config, root) => {
    const users = join(config, "users");
    const add = await runFts(["user", "add", "ann", "--users", users], {
      env: { FTS_PASSWORD: "right" },
    });
    assertEquals(add.code, 0, add.stderr);
    await Deno.writeTextFile(join(root, "seen.txt"), "s");
    const serve = await startServe(root, ["--users", users]);
    try {
      const target = `ann@${serve.address}`;
      const env = { FTS_CONFIG_DIR: config };
      const lucky = new PtySession(["connect", target, "ls"], { env });
      let at = await lucky.waitFor("Password for ann@");
      await lucky.type("wrong\r");
      at = await lucky.waitFor("Permission denied, please try again.", at);
      at = await lucky.waitFor("Password for ann@", at);
      await lucky.type("right\r");
      await lucky.waitFor("seen.txt", at);
      assertEquals(await lucky.exit(), 0);

      const unlucky = new PtySession(["connect", target, "ls"], { env });
      at = 0;
      for (let i = 0; i < 3; i++) {
        at = await unlucky.waitFor("Password for ann@", at);
        await unlucky.type(`wrong-${i}\r`);
      }
      await unlucky.waitFor("wrong user name or password", at);
      assertEquals(await unlucky.exit(), 1);
      assertEquals(
        unlucky.output.split("Permission denied, please try again.").length,
        3,
      );
    } finally {
      await serve.stop();
    }
  });
});
