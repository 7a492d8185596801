/**
 * The login throttle: exponential, capped delays per address after failed
 * logins, forgotten after a success or a quiet spell, with IPv6 counted per
 * /64 and a bounded memory.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { LoginThrottle, throttleKey } from "../server/login_throttle.ts";

/** A throttle on a clock the test moves by hand. */
function manualThrottle(options: { maxEntries?: number } = {}) {
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
  assertEquals(throttle.delay("192.0.2.1"), 0);
});

Deno.test("login throttle doubles the delay after each failure up to the cap", () => {
  const { throttle } = manualThrottle();
  const delays = [];
  for (let i = 0; i < 6; i++) {
    throttle.failed("192.0.2.1");
    delays.push(throttle.delay("192.0.2.1"));
  }
  assertEquals(delays, [100, 200, 400, 800, 1_000, 1_000]);
});

Deno.test("login throttle counts only the time still left since the last failure", () => {
  const { clock, throttle } = manualThrottle();
  throttle.failed("192.0.2.1");
  throttle.failed("192.0.2.1"); // 200 ms
  clock.now += 150;
  assertEquals(throttle.delay("192.0.2.1"), 50);
  clock.now += 100;
  assertEquals(throttle.delay("192.0.2.1"), 0);
});

Deno.test("login throttle keeps addresses apart", () => {
  const { throttle } = manualThrottle();
  throttle.failed("192.0.2.1");
  assertEquals(throttle.delay("192.0.2.2"), 0);
  assertEquals(throttle.delay("192.0.2.1"), 100);
});

Deno.test("login throttle forgets an address after a success", () => {
  const { throttle } = manualThrottle();
  throttle.failed("192.0.2.1");
  throttle.failed("192.0.2.1");
  throttle.succeeded("192.0.2.1");
  assertEquals(throttle.delay("192.0.2.1"), 0);
  throttle.failed("192.0.2.1");
  assertEquals(throttle.delay("192.0.2.1"), 100);
});

Deno.test("login throttle forgets failures after a quiet spell", () => {
  const { clock, throttle } = manualThrottle();
  for (let i = 0; i < 5; i++) throttle.failed("192.0.2.1");
  clock.now += 60_001;
  throttle.failed("192.0.2.1");
  assertEquals(throttle.delay("192.0.2.1"), 100);
});

Deno.test("login throttle counts an IPv6 /64 as one address", () => {
  const { throttle } = manualThrottle();
  throttle.failed("2001:db8:1:2::1");
  assertEquals(throttle.delay("2001:db8:1:2:ffff::9"), 100);
  assertEquals(throttle.delay("2001:db8:1:3::1"), 0);
  assertEquals(throttleKey("[2001:DB8:0001:0002::1]"), "2001:db8:1:2::/64");
  assertEquals(throttleKey("::ffff:192.0.2.7"), "192.0.2.7");
  assertEquals(throttleKey("192.0.2.7"), "192.0.2.7");
});

Deno.test("login throttle remembers a bounded number of addresses", () => {
  const { clock, throttle } = manualThrottle({ maxEntries: 3 });
  for (let i = 1; i <= 5; i++) {
    throttle.failed(`192.0.2.${i}`);
    clock.now += 1;
  }
  assertEquals(throttle.size, 3);
  assertEquals(throttle.delay("192.0.2.1"), 0); // the oldest were dropped
  assert(throttle.delay("192.0.2.5") > 0);
});

Deno.test("login throttle wait sleeps for the delay and can be aborted", async () => {
  const throttle = new LoginThrottle({ baseDelayMs: 60 });
  const start = performance.now();
  await throttle.wait("192.0.2.1");
  assert(performance.now() - start < 50, "no failure, no wait");
  throttle.failed("192.0.2.1");
  const before = performance.now();
  await throttle.wait("192.0.2.1");
  assert(performance.now() - before >= 50, "waited after a failure");
  throttle.failed("192.0.2.1");
  const controller = new AbortController();
  const waiting = throttle.wait("192.0.2.1", controller.signal);
  controller.abort(new Error("connection closed"));
  await assertRejects(() => waiting, Error, "connection closed");
});
