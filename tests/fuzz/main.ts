/**
 * `deno task fuzz [CASES] [SEED]`: a long protocol fuzz run (default 100,000
 * cases, seed from the clock) against a fresh server; see
 * `protocol_fuzz.ts` for what it sends and checks.
 *
 * @module
 */

import { runFuzz } from "./protocol_fuzz.ts";

const cases = Number(Deno.args[0] ?? 100_000);
const seed = Number(Deno.args[1] ?? Date.now() % 2 ** 31);
console.log(`fuzzing ${cases} cases, seed ${seed}`);
const report = await runFuzz({ cases, seed, progress: console.log });
console.log(
  `ok: ${report.cases} cases in ${
    (report.ms / 1000).toFixed(1)
  } s, ${report.errors} answered with an error, rss grew ${
    Math.round(report.rssGrowth / 2 ** 20)
  } MiB`,
);
