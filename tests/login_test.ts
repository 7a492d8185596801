/**
 * Password login end to end: a wrong password and an unknown user fail
 * alike, read-only users can read but not write, nothing is served before a
 * login, the users file and the wire never hold the password, and
 * `fts user add|list|remove` manage the file.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import { upload } from "../client/upload.ts";
import {
  AuthError,
  type Message,
  MessageReader,
  MessageWriter,
  ReadOnlyError,
  type Welcome,
} from "../protocol/mod.ts";
import { addUser } from "../server/auth/users.ts";
import { runFts, startServe } from "./helpers/cli.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { startRelay } from "./helpers/relay.ts";

const HOST = "127.0.0.1";
const quiet: Reporter = { info: () => {}, progress: () => null };
const OPTIONS = { resume: true, noClobber: false, verify: true };
const ANN_PASSWORD = "correct horse battery staple";
const BOB_PASSWORD = "read but never write";

interface LoginSetup extends TestServer {
  usersFile: string;
  log: string[];
  work: string;
  /** Opens a connection as `user` with `password` (through `port` if given). */
  open: (user: string, password: string, port?: number) => Promise<Connection>;
}

/** A server requiring a login, with `ann` (read-write) and `bob` (read-only). */
async function withLogins(fn: (setup: LoginSetup) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fts-users-" });
  const usersFile = join(dir, "users.json");
  await addUser(usersFile, "ann", ANN_PASSWORD);
  await addUser(usersFile, "bob", BOB_PASSWORD, { readOnly: true });
  const log: string[] = [];
  const server = await startServer({
    users: usersFile,
    log: (line) => void log.push(line),
  });
  const opened: Connection[] = [];
  try {
    await fn({
      ...server,
      usersFile,
      log,
      work: dir,
      open: async (user, password, port = server.port) => {
        const connection = await Connection.open(
          { hostname: HOST, port, user },
          { password: () => password },
        );
        opened.push(connection);
        return connection;
      },
    });
  } finally {
    for (const connection of opened) connection.abort();
    await server.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a wrong password and an unknown user get the same refusal, and are logged", async () => {
  await withLogins(async ({ open, log }) => {
    const wrongPassword = await assertRejects(
      () => open("ann", "not the password"),
      AuthError,
    );
    const unknownUser = await assertRejects(
      () => open("nobody", ANN_PASSWORD),
      AuthError,
    );
    assertEquals(
      wrongPassword.message,
      "cannot log in: wrong user name or password",
    );
    assertEquals(unknownUser.message, wrongPassword.message);
    assert(
      log.some((line) =>
        /^\S+ 127\.0\.0\.1:\d+ login failed for "ann"$/.test(line)
      ),
      log.join("\n"),
    );
    assert(
      log.some((line) => line.endsWith(`login failed for "nobody"`)),
      log.join("\n"),
    );
    // The right password still works (after the throttle's wait).
    const ann = await open("ann", ANN_PASSWORD);
    assertEquals(ann.user, "ann");
    assertEquals(ann.readOnly, false);
    await ann.mkdir("made-by-ann");
  });
});

Deno.test("a server with users refuses a client that names no user", async () => {
  await withLogins(async ({ port }) => {
    await assertRejects(
      () => Connection.open({ hostname: HOST, port }),
      AuthError,
      "requires a login; connect as USER@",
    );
  });
});

Deno.test("a read-only user can list and download but not change anything", async () => {
  await withLogins(async ({ root, work, open, port }) => {
    await Deno.writeTextFile(join(root, "notes.txt"), "hello");
    await Deno.mkdir(join(root, "folder"));
    const bob = await open("bob", BOB_PASSWORD);
    assertEquals(bob.readOnly, true);
    assertEquals(
      (await bob.list("")).map((entry) => entry.name),
      ["folder", "notes.txt"],
    );
    await download(bob, "notes.txt", join(work, "notes.txt"), OPTIONS, quiet);
    assertEquals(await Deno.readTextFile(join(work, "notes.txt")), "hello");

    await Deno.writeTextFile(join(work, "new.txt"), "new");
    await assertRejects(
      () => upload(bob, join(work, "new.txt"), "new.txt", OPTIONS, quiet),
      ReadOnlyError,
      'user "bob" may only read',
    );
    await assertRejects(() => bob.remove("notes.txt"), ReadOnlyError);
    await assertRejects(() => bob.mkdir("other"), ReadOnlyError);
    await assertRejects(
      () => bob.move("notes.txt", "moved.txt"),
      ReadOnlyError,
    );
    await assertRejects(() => bob.remove("folder", true), ReadOnlyError);
    // The session is still usable after the refusals.
    assertEquals((await bob.stat("notes.txt")).size, 5);

    // A tree upload is refused as well, through the command line.
    await Deno.mkdir(join(work, "tree"));
    await Deno.writeTextFile(join(work, "tree", "a.txt"), "a");
    const tree = await runFts(
      ["connect", `bob@${HOST}:${port}`, "put", "-r", join(work, "tree")],
      { env: { FTS_PASSWORD: BOB_PASSWORD } },
    );
    assertEquals(tree.code, 1);
    assertStringIncludes(tree.stderr, "may only read");

    assertEquals(
      [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => n !== ".fts")
        .sort(),
      ["folder", "notes.txt"],
    );
    assertEquals(await Deno.readTextFile(join(root, "notes.txt")), "hello");
  });
});

Deno.test("fts serve --read-only refuses writes even for read-write users", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-users-" });
  const usersFile = join(dir, "users.json");
  await addUser(usersFile, "ann", ANN_PASSWORD);
  const { port, cleanup } = await startServer({
    users: usersFile,
    readOnly: true,
  });
  try {
    const ann = await Connection.open({ hostname: HOST, port, user: "ann" }, {
      password: () => ANN_PASSWORD,
    });
    assertEquals(ann.readOnly, true);
    await assertRejects(
      () => ann.mkdir("x"),
      ReadOnlyError,
      "the server is read-only",
    );
    assertEquals(await ann.list(""), []);
    await ann.close();
  } finally {
    await cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no request is served before a login (raw socket)", async () => {
  await withLogins(async ({ port, root }) => {
    await Deno.writeTextFile(join(root, "secret.txt"), "secret");
    const hello: Message = {
      op: "hello",
      version: 1,
      agent: "raw",
      features: [],
    };
    const requests: Message[] = [
      { op: "ls", path: "" },
      { op: "stat", path: "secret.txt" },
      { op: "get", path: "secret.txt", offset: 0, verify: true },
      { op: "mkdir", path: "made" },
    ];
    for (const request of requests) {
      const conn = await Deno.connect({ hostname: HOST, port });
      const reader = new MessageReader(conn.readable);
      const writer = new MessageWriter(conn.writable);
      try {
        await writer.send(hello);
        const welcome = await reader.read();
        assertEquals(welcome?.op, "welcome");
        assertEquals((welcome as Welcome).auth, "scram-sha-256");
        await writer.send(request);
        assertEquals(await reader.read(), {
          op: "error",
          code: "auth",
          reason: "log in first",
        });
        assertEquals(await reader.read(), null); // and the server hangs up
      } finally {
        closeQuietly(conn);
      }
    }
    // An unknown mechanism is refused too.
    const conn = await Deno.connect({ hostname: HOST, port });
    const reader = new MessageReader(conn.readable);
    const writer = new MessageWriter(conn.writable);
    try {
      await writer.send(hello);
      await reader.read();
      await writer.send({ op: "auth", mechanism: "plain", data: "ann:x" });
      const reply = await reader.read();
      assert(reply?.op === "error" && reply.code === "auth");
    } finally {
      closeQuietly(conn);
    }
    assertEquals(
      [...Deno.readDirSync(root)].map((e) => e.name).filter((n) =>
        n !== ".fts"
      ),
      ["secret.txt"],
    );
  });
});

Deno.test("the users file holds no password", async () => {
  await withLogins(async ({ usersFile }) => {
    const text = await Deno.readTextFile(usersFile);
    for (const password of [ANN_PASSWORD, BOB_PASSWORD]) {
      for (const form of encodings(password)) {
        assert(!text.includes(form), `the users file holds ${form}`);
      }
    }
    assertEquals((await Deno.stat(usersFile)).mode! & 0o777, 0o600);
  });
});

Deno.test("fts user add, list and remove manage the users file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-users-" });
  const file = join(dir, "users.json");
  const user = (args: string[], password?: string) =>
    runFts(["user", ...args, "--users", file], {
      env: password === undefined ? {} : { FTS_PASSWORD: password },
    });
  try {
    let result = await user(["add", "ann"], "pw for ann");
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(result.stdout, 'added user "ann"');
    result = await user(["add", "guest", "--read-only"], "pw for guest");
    assertEquals(result.code, 0, result.stderr);
    result = await user(["list"]);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stdout, "ann\nguest (read-only)\n");

    result = await user(["add", "ann"], "again");
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, "cannot add user: ann already exists");
    // Without FTS_PASSWORD and without a terminal there is no password.
    result = await user(["add", "carl"]);
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, "FTS_PASSWORD");

    const text = await Deno.readTextFile(file);
    assert(!text.includes("pw for ann") && !text.includes("pw for guest"));

    // The users can log in to a server using the file.
    const root = await Deno.makeTempDir({ prefix: "fts-test-root-" });
    const server = await startServe(root, ["--users", file]);
    try {
      const ls = await runFts(["connect", `guest@${server.address}`, "ls"], {
        env: { FTS_PASSWORD: "pw for guest" },
      });
      assertEquals(ls.code, 0, ls.stderr);
      const wrong = await runFts(["connect", `ann@${server.address}`, "ls"], {
        env: { FTS_PASSWORD: "pw for guest" },
      });
      assertEquals(wrong.code, 1);
      assertEquals(
        wrong.stderr,
        "fts: cannot log in: wrong user name or password\n",
      );
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }

    result = await user(["remove", "ann"]);
    assertEquals(result.code, 0, result.stderr);
    result = await user(["list"]);
    assertEquals(result.stdout, "guest (read-only)\n");
    result = await user(["remove", "ann"]);
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, "there is no user named ann");
    result = await user(["frobnicate"]);
    assertEquals(result.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plaintext login never puts the password on the wire", async () => {
  await withLogins(async ({ port, open, work, root }) => {
    await using relay = startRelay(port);
    const ann = await open("ann", ANN_PASSWORD, relay.port);
    await Deno.writeTextFile(join(work, "up.txt"), "uploaded");
    await upload(ann, join(work, "up.txt"), "up.txt", OPTIONS, quiet);
    await ann.close();
    await relay.idle();
    assertEquals(await Deno.readTextFile(join(root, "up.txt")), "uploaded");
    const wire = relay.captured();
    // The capture is real: it holds the exchange, the user name and the file.
    assertStringIncludes(wire, '"op":"auth"');
    assertStringIncludes(wire, "n=ann");
    assertStringIncludes(wire, "uploaded");
    for (const form of encodings(ANN_PASSWORD)) {
      assert(!wire.includes(form), `the wire holds ${form}`);
    }
  });
});

Deno.test("login works over TLS from the command line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-users-" });
  const config = join(dir, "config");
  const file = join(dir, "users.json");
  await addUser(file, "ann", ANN_PASSWORD);
  const root = await Deno.makeTempDir({ prefix: "fts-test-root-" });
  const server = await startServe(root, ["--tls", "--users", file], {
    env: { FTS_CONFIG_DIR: config },
    lines: 2,
  });
  try {
    const fingerprint = server.lines[1].split(" ")[3];
    const env = { FTS_CONFIG_DIR: config, FTS_PASSWORD: ANN_PASSWORD };
    const mkdir = await runFts([
      "connect",
      `ann@${server.address}`,
      "mkdir",
      "over-tls",
      "--fingerprint",
      fingerprint,
    ], { env });
    assertEquals(mkdir.code, 0, mkdir.stderr);
    assert((await Deno.stat(join(root, "over-tls"))).isDirectory);
  } finally {
    const { log } = await server.stop();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(dir, { recursive: true });
    assertStringIncludes(log, 'logged in as "ann"');
  }
});

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed when its stream ended.
  }
}

/** The password as text, base64 (plain and URL-safe) and hex. */
function encodings(password: string): string[] {
  const bytes = new TextEncoder().encode(password);
  const base64 = bytes.toBase64();
  return [
    password,
    base64,
    base64.replace(/=+$/, ""),
    bytes.toBase64({ alphabet: "base64url", omitPadding: true }),
    bytes.toHex(),
  ];
}
