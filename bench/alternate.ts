/**
 * Runs contenders in alternation: round 1 runs A then B (then C ...), round 2
 * again A then B, and so on, so slow drift on a shared machine hits every
 * contender alike. Warm-up rounds come first and are kept in the raw samples
 * but left out of the summaries and ratios.
 *
 * @module
 */

import type { ContenderResult, Metric, RatioResult, Sample } from "./model.ts";
import { pairRatios, summarize, type Summary } from "./stats.ts";

/** What a contender's timed run returns. */
export interface RunOutcome {
  /** Wall time in seconds. */
  seconds: number;
  /** Peak memory of the fts server during the run, KiB. */
  serverPeakKiB?: number | null;
  /** Peak memory of the fts client, KiB. */
  clientPeakKiB?: number | null;
  /** CPU seconds of the fts server during the run (from /proc). */
  serverCpuSeconds?: number | null;
  /** CPU seconds of the fts client (from GNU time). */
  clientCpuSeconds?: number | null;
  /** Case-specific extras. */
  extra?: Record<string, number | string | boolean | null>;
}

/** One side of a comparison. */
export interface Contender {
  /** Short name, e.g. `fts` or `nc`. */
  name: string;
  /** True for fts itself. */
  fts: boolean;
  /** Command line or method, for the record. */
  description: string;
  /** Untimed set-up before each run (e.g. delete the previous output). */
  prepare?: () => Promise<void>;
  /** The timed run. Throws on failure. */
  run: () => Promise<RunOutcome>;
  /** Untimed check after each run that the data arrived intact. Throws on mismatch. */
  verify?: () => Promise<void>;
}

/** Options for {@link runAlternating}. */
export interface AlternateOptions {
  /** Measured rounds. */
  runs: number;
  /** Warm-up rounds before them. */
  warmups: number;
  /** Progress output. */
  log: (message: string) => void;
}

/**
 * Runs every contender `warmups + runs` times in alternation and returns
 * their results. A contender that fails is recorded with its error and left
 * out of the remaining rounds; the others carry on.
 */
export async function runAlternating(
  contenders: readonly Contender[],
  options: AlternateOptions,
): Promise<ContenderResult[]> {
  const samples: Sample[][] = contenders.map(() => []);
  const errors: (string | undefined)[] = contenders.map(() => undefined);
  const rounds = options.warmups + options.runs;
  for (let round = 0; round < rounds; round++) {
    const warmup = round < options.warmups;
    for (let i = 0; i < contenders.length; i++) {
      if (errors[i] !== undefined) continue;
      const contender = contenders[i];
      const label = warmup
        ? "warm-up"
        : `run ${round - options.warmups + 1}/${options.runs}`;
      try {
        await contender.prepare?.();
        const outcome = await contender.run();
        await contender.verify?.();
        samples[i].push({ round, warmup, ...outcome });
        options.log(
          `    ${contender.name.padEnd(22)} ${label.padEnd(9)} ${
            outcome.seconds.toFixed(3)
          } s`,
        );
      } catch (error) {
        errors[i] = (error as Error).message ?? String(error);
        options.log(
          `    ${contender.name.padEnd(22)} ${label.padEnd(9)} FAILED: ${
            errors[i]
          }`,
        );
      }
    }
  }
  return contenders.map((contender, i) =>
    contenderResult(
      contender.name,
      contender.fts,
      contender.description,
      "seconds",
      samples[i],
      errors[i],
    )
  );
}

function summaryOf(
  samples: Sample[],
  pick: (s: Sample) => number | null | undefined,
): Summary | null {
  const values = samples.filter((s) => !s.warmup).map(pick).filter((
    v,
  ): v is number => typeof v === "number" && Number.isFinite(v));
  return values.length ? summarize(values) : null;
}

/** Builds a {@link ContenderResult} from raw samples, summarising measured runs only. */
export function contenderResult(
  name: string,
  fts: boolean,
  description: string,
  metric: Metric,
  samples: Sample[],
  error?: string,
): ContenderResult {
  const result: ContenderResult = {
    name,
    fts,
    description,
    metric,
    samples,
    summary: summaryOf(samples, (s) => s[metric]) ?? summarize([]),
    serverPeak: summaryOf(samples, (s) => s.serverPeakKiB),
    clientPeak: summaryOf(samples, (s) => s.clientPeakKiB),
    serverCpu: summaryOf(samples, (s) => s.serverCpuSeconds),
    clientCpu: summaryOf(samples, (s) => s.clientCpuSeconds),
  };
  if (error !== undefined) result.error = error;
  return result;
}

/**
 * Ratio `numerator / denominator` of times for each measured round both
 * contenders completed, with its summary.
 */
export function ratioOf(
  numerator: ContenderResult,
  denominator: ContenderResult,
): RatioResult {
  const byRound = (c: ContenderResult) =>
    new Map(
      c.samples.filter((s) => !s.warmup && s.seconds !== undefined).map((
        s,
      ) => [s.round, s.seconds!]),
    );
  const a = byRound(numerator);
  const b = byRound(denominator);
  const rounds = [...a.keys()].filter((r) => b.has(r)).sort((x, y) => x - y);
  const perRun = pairRatios(
    rounds.map((r) => a.get(r)!),
    rounds.map((r) => b.get(r)!),
  );
  return {
    numerator: numerator.name,
    denominator: denominator.name,
    perRun,
    summary: summarize(perRun),
  };
}
