/**
 * The password is asked once per command, as the README says: `put -r
 * --parallel 3` opens three connections after one prompt, and the shell's
 * commands (with `--parallel` too) reuse the password typed when it started. The real program
 * on a pseudo-terminal, with no `FTS_PASSWORD`.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { addUser } from "../server/auth/users.ts";
import { randomBytes } from "./helpers/cli.ts";
import { PtySession } from "./helpers/pty.ts";
import { startServer, type TestServer } from "./helpers/server.ts";

const PASSWORD = "once-is-enough";

/** How often the terminal showed the password prompt. */
function prompts(output: string): number {
  return output.split("Password for ann@").length - 1;
}

/** A server with user ann, a local tree of six files and a config folder. */
async function withWorld(
  fn: (
    w: { server: TestServer; local: string; env: Record<string, string> },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fts-password-once-" });
  const users = join(dir, "users.json");
  await addUser(users, "ann", PASSWORD, { iterations: 4096 });
  const server = await startServer({ users });
  const local = join(dir, "local");
  await Deno.mkdir(join(local, "tree"), { recursive: true });
  for (let i = 0; i < 6; i++) {
    await Deno.writeFile(join(local, "tree", `f${i}.bin`), randomBytes(50_000));
  }
  const config = join(dir, "config");
  await Deno.mkdir(config);
  try {
    // No FTS_PASSWORD: the password can only come from the prompt.
    await fn({ server, local, env: { FTS_CONFIG_DIR: config } });
  } finally {
    await server.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertTreeArrived(root: string, local: string, name: string) {
  for (let i = 0; i < 6; i++) {
    assertEquals(
      await Deno.readFile(join(root, name, `f${i}.bin`)),
      await Deno.readFile(join(local, "tree", `f${i}.bin`)),
    );
  }
}

Deno.test("put -r --parallel 3 asks for the password once for its three connections", async () => {
  await withWorld(async ({ server, local, env }) => {
    const session = new PtySession([
      "connect",
      `ann@127.0.0.1:${server.port}`,
      "put",
      "-r",
      "tree",
      "up",
      "--parallel",
      "3",
    ], { cwd: local, env });
    await session.waitFor("Password for ann@");
    await session.type(`${PASSWORD}\r`);
    assertEquals(await session.exit(), 0, session.output);
    assertEquals(prompts(session.output), 1, session.output);
    await assertTreeArrived(server.root, local, "up");
  });
});

Deno.test("the shell asks for the password once, and its commands (put -r and get -r with --parallel) reuse it", async () => {
  await withWorld(async ({ server, local, env }) => {
    const shell = new PtySession(["connect", `ann@127.0.0.1:${server.port}`], {
      cwd: local,
      env,
    });
    let at = await shell.waitFor("Password for ann@");
    await shell.type(`${PASSWORD}\r`);
    at = await shell.waitFor("> ", at);
    for (
      const line of [
        "put -r tree up --parallel 3",
        "get -r up back --parallel 2",
      ]
    ) {
      await shell.type(`${line}\r`);
      at = await shell.waitFor("> ", at);
    }
    await shell.type("quit\r");
    assertEquals(await shell.exit(), 0, shell.output);
    assertEquals(prompts(shell.output), 1, shell.output);
    await assertTreeArrived(server.root, local, "up");
    for (let i = 0; i < 6; i++) {
      assertEquals(
        await Deno.readFile(join(local, "back", `f${i}.bin`)),
        await Deno.readFile(join(local, "tree", `f${i}.bin`)),
      );
    }
  });
});
