/**
 * The users file: adding, listing, removing and loading users, keeping only
 * SCRAM verifiers (never passwords) in a private file, and logging in with
 * what it holds.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
} from "@std/assert";
import { join } from "@std/path";
import {
  AuthenticationError,
  ScramClient,
  ScramServer,
} from "../protocol/scram.ts";
import {
  addUser,
  listUsers,
  loadUsers,
  removeUser,
  userNameProblem,
} from "../server/auth/users.ts";

const ITERATIONS = 4096;

async function withUsersFile(fn: (file: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fts_users_test_" });
  try {
    await fn(join(dir, "users.json"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function tryLogin(file: string, name: string, password: string) {
  const store = await loadUsers(file);
  const server = new ScramServer(
    (user) => store.users.get(user)?.verifier,
    { secret: store.secret, fakeIterations: ITERATIONS },
  );
  const client = new ScramClient(name, password);
  const serverFirst = await server.first(client.first());
  client.verify(await server.final(await client.final(serverFirst)));
  return store.users.get(server.username!)!;
}

Deno.test("users file keeps verifiers, never passwords, in a 0600 file", async () => {
  await withUsersFile(async (file) => {
    await addUser(file, "ann", "hunter2-long-password", {
      iterations: ITERATIONS,
    });
    const text = await Deno.readTextFile(file);
    assert(!text.includes("hunter2-long-password"));
    assert(!text.includes(btoa("hunter2-long-password")));
    const data = JSON.parse(text);
    assertEquals(Object.keys(data.users[0]).sort(), [
      "name",
      "readOnly",
      "verifier",
    ]);
    assertEquals(data.users[0].verifier.iterations, ITERATIONS);
    if (Deno.build.os !== "windows") {
      assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    }
  });
});

Deno.test("users added can log in, with their read-only flag", async () => {
  await withUsersFile(async (file) => {
    await addUser(file, "ann", "pw-ann", { iterations: ITERATIONS });
    await addUser(file, "guest", "pw-guest", {
      readOnly: true,
      iterations: ITERATIONS,
    });
    assertEquals((await tryLogin(file, "ann", "pw-ann")).readOnly, false);
    assertEquals((await tryLogin(file, "guest", "pw-guest")).readOnly, true);
    await assertRejects(
      () => tryLogin(file, "guest", "pw-ann"),
      AuthenticationError,
    );
    await assertRejects(
      () => tryLogin(file, "nobody", "pw-ann"),
      AuthenticationError,
    );
  });
});

Deno.test("users are listed sorted and without verifiers", async () => {
  await withUsersFile(async (file) => {
    assertEquals(await listUsers(file), []);
    await addUser(file, "zoe", "pw", { iterations: ITERATIONS });
    await addUser(file, "ann", "pw", {
      readOnly: true,
      iterations: ITERATIONS,
    });
    assertEquals(await listUsers(file), [
      { name: "ann", readOnly: true },
      { name: "zoe", readOnly: false },
    ]);
  });
});

Deno.test("users cannot be added twice unless replaced", async () => {
  await withUsersFile(async (file) => {
    await addUser(file, "ann", "old", { iterations: ITERATIONS });
    await assertRejects(
      () => addUser(file, "ann", "new", { iterations: ITERATIONS }),
      Error,
      "cannot add user: ann already exists",
    );
    await addUser(file, "ann", "new", {
      replace: true,
      readOnly: true,
      iterations: ITERATIONS,
    });
    assertEquals(await listUsers(file), [{ name: "ann", readOnly: true }]);
    await tryLogin(file, "ann", "new");
    await assertRejects(
      () => tryLogin(file, "ann", "old"),
      AuthenticationError,
    );
  });
});

Deno.test("users removed can no longer log in", async () => {
  await withUsersFile(async (file) => {
    await addUser(file, "ann", "pw", { iterations: ITERATIONS });
    await addUser(file, "bob", "pw", { iterations: ITERATIONS });
    await removeUser(file, "ann");
    assertEquals(await listUsers(file), [{ name: "bob", readOnly: false }]);
    await assertRejects(() => tryLogin(file, "ann", "pw"), AuthenticationError);
    await assertRejects(
      () => removeUser(file, "ann"),
      Error,
      "cannot remove user: there is no user named ann",
    );
  });
});

Deno.test("users file keeps its secret so unknown users get stable salts", async () => {
  await withUsersFile(async (file) => {
    const empty = await loadUsers(file);
    assertEquals(empty.users.size, 0);
    await addUser(file, "ann", "pw", { iterations: ITERATIONS });
    const first = await loadUsers(file);
    await addUser(file, "bob", "pw", { iterations: ITERATIONS });
    const second = await loadUsers(file);
    assertEquals(first.secret.length, 32);
    assertEquals(second.secret, first.secret);
    assertNotEquals(first.secret, new Uint8Array(32));
  });
});

Deno.test("users file rejects bad names, empty passwords and foreign files", async () => {
  await withUsersFile(async (file) => {
    await assertRejects(
      () => addUser(file, "", "pw"),
      Error,
      "cannot add user: the user name is empty",
    );
    await assertRejects(
      () => addUser(file, "a\nb", "pw"),
      Error,
      "control character",
    );
    await assertRejects(
      () => addUser(file, "ann", ""),
      Error,
      "cannot add user: the password is empty",
    );
    assertEquals(userNameProblem("a,b=c d"), undefined);
    await Deno.writeTextFile(file, '{"hello": 1}');
    await assertRejects(
      () => loadUsers(file),
      Error,
      "cannot load users: " + file + " is not an fts users file",
    );
    await Deno.writeTextFile(file, "not json");
    await assertRejects(() => listUsers(file), Error, "is not valid JSON");
  });
});
