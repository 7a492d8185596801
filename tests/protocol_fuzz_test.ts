/**
 * The protocol fuzzer in the suite: a few thousand mutated replays of
 * recorded real sessions, after which the server still runs and serves a
 * normal client, memory stayed bounded and nothing was written outside the
 * root (see `fuzz/protocol_fuzz.ts`; `deno task fuzz` runs it longer).
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { runFuzz } from "./fuzz/protocol_fuzz.ts";

Deno.test("3000 mutated replays of real sessions never stop the server, write outside the root or grow memory without bound", async () => {
  const report = await runFuzz({ cases: 3000, seed: 10 });
  assertEquals(report.cases, 3000);
  assert(report.errors > 0, "the mutations reach the server's checks");
});
