/**
 * The login throttle: exponential, capped delays per address after failed
 * logins, forgotten after a success or a quiet spell, with IPv6 counted per
 * /64 and a bounded memory.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { BusyError } from "../protocol/mod.ts";
import { LoginThrottle, throttleKey } from "../server/auth/login_throttle.ts";

/** A throttle on a clock the test moves by hand. */
function manualThrottle(
  options: { maxEntries?: number; addressAllowance?: number } = {},
) {
  const clock = { now: 1_000_000 };
  const throttle = new LoginThrottle({
    baseDelayMs: 100,
    maxDelayMs: 1_000,
    forgetAfterMs: 60_000,
    now: () => clock.now,
    ...options,
  });
  return { clock, throttle };
}

Deno.test("login throttle lets the first attempt through at once", () => {
  const { throttle } = manualThrottle();
  assertEquals(throttle.delay("192.0.2.1", "ann"), 0);
});

Deno.test("login throttle doubles the delay after each failure up to the cap", () => {
  const { throttle } = manualThrottle();
  const delays = [];
  for (let i = 0; i < 6; i++) {
    throttle.failed("192.0.2.1", "ann");
    delays.push(throttle.delay("192.0.2.1", "ann"));
  }
  assertEquals(delays, [100, 200, 400, 800, 1_000, 1_000]);
});

Deno.test("login throttle counts only the time still left since the last failure", () => {
  const { clock, throttle } = manualThrottle();
  throttle.failed("192.0.2.1", "ann");
  throttle.failed("192.0.2.1", "ann"); // 200 ms
  clock.now += 150;
  assertEquals(throttle.delay("192.0.2.1", "ann"), 50);
  clock.now += 100;
  assertEquals(throttle.delay("192.0.2.1", "ann"), 0);
});

Deno.test("login throttle keeps addresses apart", () => {
  const { throttle } = manualThrottle();
  throttle.failed("192.0.2.1", "ann");
  assertEquals(throttle.delay("192.0.2.2", "ann"), 0);
  assertEquals(throttle.delay("192.0.2.1", "ann"), 100);
});

Deno.test("login throttle forgets an address after a success", () => {
  const { throttle } = manualThrottle();
  throttle.failed("192.0.2.1", "ann");
  throttle.failed("192.0.2.1", "ann");
  throttle.succeeded("192.0.2.1", "ann");
  assertEquals(throttle.delay("192.0.2.1", "ann"), 0);
  throttle.failed("192.0.2.1", "ann");
  assertEquals(throttle.delay("192.0.2.1", "ann"), 100);
});

Deno.test("login throttle forgets failures after a quiet spell", () => {
  const { clock, throttle } = manualThrottle();
  for (let i = 0; i < 5; i++) throttle.failed("192.0.2.1", "ann");
  clock.now += 60_001;
  throttle.failed("192.0.2.1", "ann");
  assertEquals(throttle.delay("192.0.2.1", "ann"), 100);
});

Deno.test("login throttle counts an IPv6 /64 as one address", () => {
  const { throttle } = manualThrottle();
  throttle.failed("2001:db8:1:2::1", "ann");
  assertEquals(throttle.delay("2001:db8:1:2:ffff::9", "ann"), 100);
  assertEquals(throttle.delay("2001:db8:1:3::1", "ann"), 0);
  assertEquals(throttleKey("[2001:DB8:0001:0002::1]"), "2001:db8:1:2::/64");
  assertEquals(throttleKey("::ffff:192.0.2.7"), "192.0.2.7");
  assertEquals(throttleKey("192.0.2.7"), "192.0.2.7");
});

Deno.test("login throttle remembers a bounded number of addresses", () => {
  const { clock, throttle } = manualThrottle({ maxEntries: 3 });
  for (let i = 1; i <= 5; i++) {
    throttle.failed(`192.0.2.${i}`, "ann");
    clock.now += 1;
  }
  assertEquals(throttle.size, 3);
  assertEquals(throttle.delay("192.0.2.1", "ann"), 0); // the oldest were dropped
  assert(throttle.delay("192.0.2.5", "ann") > 0);
});

Deno.test("login throttle turn passes at once without failures, holds a failed address while another goes through, and can be aborted", async () => {
  // A minute's delay: a turn that waited for it would hang the test, so
  // passing is proven by order of events, not by a clock.
  const throttle = new LoginThrottle({ baseDelayMs: 60_000 });
  (await throttle.turn("192.0.2.1", "ann"))();
  throttle.failed("192.0.2.1", "ann");
  const controller = new AbortController();
  let settled = false;
  const waiting = throttle.turn("192.0.2.1", "ann", controller.signal)
    .finally(() => settled = true);
  (await throttle.turn("192.0.2.2", "ann"))();
  assert(!settled, "the failed address is still waiting for its delay");
  controller.abort(new Error("connection closed"));
  await assertRejects(() => waiting, Error, "connection closed");
});

Deno.test("login throttle: a success clears only its own user's failures", () => {
  const { throttle } = manualThrottle();
  throttle.failed("192.0.2.1", "ann");
  throttle.failed("192.0.2.1", "ann");
  throttle.succeeded("192.0.2.1", "eve");
  assertEquals(throttle.delay("192.0.2.1", "ann"), 200);
  assertEquals(throttle.delay("192.0.2.1", "eve"), 0);
  throttle.succeeded("192.0.2.1", "ann");
  assertEquals(throttle.delay("192.0.2.1", "ann"), 0);
});

Deno.test("login throttle slows a whole address once its failures across users pass the allowance", () => {
  const { throttle } = manualThrottle({ addressAllowance: 3 });
  for (const user of ["u1", "u2", "u3"]) throttle.failed("192.0.2.1", user);
  assertEquals(throttle.delay("192.0.2.1", "new"), 0);
  throttle.failed("192.0.2.1", "u4");
  assertEquals(throttle.delay("192.0.2.1", "new"), 100);
  assertEquals(
    throttle.delay("192.0.2.2", "new"),
    0,
    "other addresses unaffected",
  );
});

Deno.test("login throttle gives one address one verdict at a time, in order", async () => {
  const throttle = new LoginThrottle({ maxPending: 3 });
  const order: number[] = [];
  const first = await throttle.turn("192.0.2.1", "ann");
  const second = throttle.turn("192.0.2.1", "ann").then((next) => {
    order.push(2);
    next();
  });
  const other = await throttle.turn("192.0.2.9", "ann"); // another address is not held
  other();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(order, [], "the second waits for the first verdict");
  order.push(1);
  first();
  await second;
  assertEquals(order, [1, 2]);
});

Deno.test("login throttle refuses logins beyond maxPending from one address", async () => {
  const throttle = new LoginThrottle({ maxPending: 2 });
  const first = await throttle.turn("192.0.2.1", "ann");
  const second = throttle.turn("192.0.2.1", "ann");
  await assertRejects(
    () => throttle.turn("192.0.2.1", "ann"),
    BusyError,
    "waiting already",
  );
  first();
  (await second)();
  (await throttle.turn("192.0.2.1", "ann"))();
});
