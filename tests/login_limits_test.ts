/**
 * Login limits against a real server: parallel guesses from one address get
 * their verdicts one at a time and beyond a cap are refused, a success clears
 * only its own user's failures, and removing a user from the users file ends
 * that user's sessions.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertGreaterOrEqual,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { AuthError, BusyError, ConnectionError } from "../protocol/mod.ts";
import { LoginThrottle } from "../server/auth/login_throttle.ts";
import { addUser, removeUser } from "../server/auth/users.ts";
import { HOST, waitFor } from "./helpers/raw_peer.ts";
import { startServer, type TestServer } from "./helpers/server.ts";

const PASSWORDS: Record<string, string> = { ann: "ann's secret", eve: "eve's" };

/** A server with users `ann` and `eve` and a fast throttle. */
async function withUsers(
  throttle: LoginThrottle,
  fn: (
    setup: TestServer & { usersFile: string; log: string[] },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fts-users-" });
  const usersFile = join(dir, "users.json");
  for (const [name, password] of Object.entries(PASSWORDS)) {
    await addUser(usersFile, name, password, { iterations: 4096 });
  }
  const log: string[] = [];
  const server = await startServer({
    users: usersFile,
    loginThrottle: throttle,
    usersPollMs: 50,
    log: (line) => void log.push(line),
  });
  try {
    await fn({ ...server, usersFile, log });
  } finally {
    await server.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

function open(
  port: number,
  user: string,
  password: string,
  onNotice?: (message: string) => void,
): Promise<Connection> {
  return Connection.open({ hostname: HOST, port, user }, {
    password: () => password,
    onNotice: (notice) => onNotice?.(notice.message),
  });
}

/**
 * A throttle on a clock that never moves (so each wait is exactly what the
 * failures earned), which records the waits it hands out and how many
 * verdicts were being given at once.
 */
class WatchedThrottle extends LoginThrottle {
  waits: number[] = [];
  inside = 0;
  most = 0;
  constructor(baseDelayMs: number, maxPending?: number) {
    super({ baseDelayMs, maxPending, now: () => 1_000_000 });
  }
  override delay(address: string, user: string): number {
    const wait = super.delay(address, user);
    this.waits.push(wait);
    return wait;
  }
  override async turn(
    address: string,
    user: string,
    signal?: AbortSignal,
  ): Promise<() => void> {
    const next = await super.turn(address, user, signal);
    this.most = Math.max(this.most, ++this.inside);
    return () => {
      this.inside--;
      next();
    };
  }
}

Deno.test("parallel wrong logins from one address get their verdicts one at a time, each after the wait its failures earned, and those beyond the cap are refused", async () => {
  const throttle = new WatchedThrottle(100, 4);
  await withUsers(throttle, async ({ port }) => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => open(port, "ann", "guess")),
    );
    const reasons = results.map((result) => {
      assertEquals(result.status, "rejected");
      return (result as PromiseRejectedResult).reason;
    });
    const refused = reasons.filter((reason) => reason instanceof BusyError);
    const judged = reasons.filter((reason) => reason instanceof AuthError);
    assertEquals(refused.length + judged.length, 10);
    assertGreater(refused.length, 0, "the cap refused some");
    assertGreaterOrEqual(judged.length, 4);
    assertEquals(throttle.most, 1, "one verdict at a time");
    // 0, then 100 ms doubling: each waited for what the failures earned.
    assertEquals(
      throttle.waits,
      judged.map((_, i) => i === 0 ? 0 : Math.min(100 * 2 ** (i - 1), 30_000)),
    );
  });
});

Deno.test("a success as one user does not reset the failures of another", async () => {
  const throttle = new WatchedThrottle(150);
  await withUsers(throttle, async ({ port }) => {
    for (let i = 0; i < 3; i++) {
      await assertRejects(() => open(port, "ann", "guess"), AuthError);
    }
    const eve = await open(port, "eve", PASSWORDS.eve);
    await eve.close();
    // ann's fourth guess still waits 600 ms after the third (the clock does
    // not move, so the wait is exact); eve's next login waits nothing.
    assertEquals(throttle.delay(HOST, "ann"), 600);
    assertEquals(throttle.delay(HOST, "eve"), 0);
    await assertRejects(() => open(port, "ann", "guess"), AuthError);
    assertEquals(throttle.waits.at(-1), 600, "the fourth guess waited");
  });
});

Deno.test("removing a user from the users file ends that user's sessions and no one else's", async () => {
  await withUsers(
    new LoginThrottle(),
    async ({ server, port, usersFile, log }) => {
      const notices: string[] = [];
      const ann = await open(
        port,
        "ann",
        PASSWORDS.ann,
        (m) => notices.push(m),
      );
      const eve = await open(port, "eve", PASSWORDS.eve);
      try {
        assertEquals(await ann.list(""), []);
        await removeUser(usersFile, "ann");
        await waitFor("ann's session to end", () => server.connections === 1);
        await assertRejects(() => ann.list(""), ConnectionError);
        assertEquals(notices.length, 1, notices.join());
        assertStringIncludes(notices[0], `user "ann" was removed`);
        assertEquals(await eve.list(""), []);
        assert(log.some((line) => line.includes(`user "ann" was removed`)));
        await assertRejects(() => open(port, "ann", PASSWORDS.ann), AuthError);
      } finally {
        ann.abort();
        await eve.close();
      }
    },
  );
});
