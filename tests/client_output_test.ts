/**
 * What the client says beyond the transfer itself: `-v` names the
 * connection it made, and `get FILE -` draws its progress bar on stderr when
 * that is a terminal (in a real pseudo-terminal), while the bytes go to
 * stdout.
 *
 * @module
 */

import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { randomBytes, runFts, startServe } from "./helpers/cli.ts";
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
