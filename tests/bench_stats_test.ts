/**
 * Unit tests for the benchmark's statistics (bench/stats.ts) and for how
 * alternating runs are paired into fts/peer ratios (bench/alternate.ts).
 *
 * @module
 */

import { assertAlmostEquals, assertEquals } from "@std/assert";
import { contenderResult, ratioOf } from "../bench/alternate.ts";
import type { Sample } from "../bench/model.ts";
import {
  formatBytes,
  formatRatio,
  formatSeconds,
  max,
  median,
  min,
  pairRatios,
  summarize,
} from "../bench/stats.ts";

Deno.test("median of an odd count is the middle value, whatever the order", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([5]), 5);
});

Deno.test("median of an even count is the mean of the two middle values", () => {
  assertEquals(median([4, 1, 3, 2]), 2.5);
});

Deno.test("median leaves its input unsorted", () => {
  const values = [3, 1, 2];
  median(values);
  assertEquals(values, [3, 1, 2]);
});

Deno.test("summaries of no samples are NaN instead of throwing", () => {
  const summary = summarize([]);
  assertEquals(summary.n, 0);
  assertEquals(Number.isNaN(summary.median), true);
  assertEquals(Number.isNaN(min([])), true);
  assertEquals(Number.isNaN(max([])), true);
});

Deno.test("summarize reports count, median, min and max", () => {
  assertEquals(summarize([2, 9, 4, 1, 7]), { n: 5, median: 4, min: 1, max: 9 });
});

Deno.test("pairRatios divides run i of one contender by run i of the other", () => {
  const ratios = pairRatios([2, 3, 4], [1, 2, 8]);
  assertEquals(ratios, [2, 1.5, 0.5]);
});

Deno.test("pairRatios stops at the shorter list", () => {
  assertEquals(pairRatios([1, 2, 3], [1, 1]), [1, 2]);
});

function sample(round: number, seconds: number, warmup = false): Sample {
  return { round, warmup, seconds };
}

Deno.test("ratioOf pairs measured runs by round, skipping warm-ups and rounds one side missed", () => {
  const fts = contenderResult("fts", true, "", "seconds", [
    sample(0, 100, true),
    sample(1, 2),
    sample(2, 3),
    sample(3, 4),
  ]);
  // The peer failed in round 2.
  const peer = contenderResult("nc", false, "", "seconds", [
    sample(0, 1, true),
    sample(1, 4),
    sample(3, 2),
  ]);
  const ratio = ratioOf(fts, peer);
  assertEquals(ratio.perRun, [0.5, 2]);
  assertEquals(ratio.summary.median, 1.25);
  assertEquals(ratio.numerator, "fts");
  assertEquals(ratio.denominator, "nc");
});

Deno.test("contender summaries leave out warm-up runs", () => {
  const result = contenderResult("fts", true, "", "seconds", [
    { round: 0, warmup: true, seconds: 50, serverPeakKiB: 9000 },
    { round: 1, warmup: false, seconds: 1, serverPeakKiB: 100 },
    { round: 2, warmup: false, seconds: 3, serverPeakKiB: 300 },
  ]);
  assertEquals(result.summary, { n: 2, median: 2, min: 1, max: 3 });
  assertEquals(result.serverPeak?.max, 300);
  assertEquals(result.clientPeak, null);
});

Deno.test("durations, sizes and ratios format for people", () => {
  assertEquals(formatSeconds(1.234), "1.23 s");
  assertEquals(formatSeconds(0.0456), "45.6 ms");
  assertEquals(formatSeconds(0.25), "250 ms");
  assertEquals(formatSeconds(NaN), "-");
  assertEquals(formatBytes(1024 ** 3), "1 GiB");
  assertEquals(formatBytes(4096), "4 KiB");
  assertEquals(formatBytes(1.5 * 1024 * 1024), "1.5 MiB");
  assertEquals(formatRatio(0.8666), "0.87x");
  assertAlmostEquals(median([0.1, 0.2]), 0.15);
});
