/**
 * Data model of a benchmark run: samples, contenders, ratios, targets and
 * cases, exactly as written to the JSON file under `bench/results/`.
 *
 * @module
 */

import type { Summary } from "./stats.ts";

/** One run of one contender. */
export interface Sample {
  /** Round number, counting warm-up rounds first (0-based). */
  round: number;
  /** True for warm-up runs, which are kept but not summarised. */
  warmup: boolean;
  /** Wall time in seconds (absent for memory-only samples). */
  seconds?: number;
  /** Peak resident memory of the fts server during the run, KiB. */
  serverPeakKiB?: number | null;
  /** Peak resident memory of the fts client (the largest one, with several), KiB. */
  clientPeakKiB?: number | null;
  /** CPU seconds (user + system) the fts server spent on the run. */
  serverCpuSeconds?: number | null;
  /** CPU seconds (user + system) of the fts client process. */
  clientCpuSeconds?: number | null;
  /** Case-specific extras, e.g. bytes moved or clients intact. */
  extra?: Record<string, number | string | boolean | null>;
}

/** Which sample field a contender is ranked by. */
export type Metric = "seconds" | "serverPeakKiB";

/** Results of one contender within a case. */
export interface ContenderResult {
  /** Short name shown in the table, e.g. `fts`, `nc`, `scp aes128-gcm`. */
  name: string;
  /** True for fts itself, false for peers. */
  fts: boolean;
  /** The command line or method, for the record. */
  description: string;
  /** The sample field summarised in {@link ContenderResult.summary}. */
  metric: Metric;
  /** Every sample, warm-up included. */
  samples: Sample[];
  /** Summary of the metric over the measured (non-warm-up) samples. */
  summary: Summary;
  /** Summary of the server peak memory over measured samples, when measured. */
  serverPeak: Summary | null;
  /** Summary of the client peak memory over measured samples, when measured. */
  clientPeak: Summary | null;
  /** Summary of the server's CPU seconds per run, when measured. */
  serverCpu?: Summary | null;
  /** Summary of the client's CPU seconds per run, when measured. */
  clientCpu?: Summary | null;
  /** Set when the contender failed; its remaining runs were skipped. */
  error?: string;
}

/** Per-pair ratios of two contenders' times. */
export interface RatioResult {
  /** Contender in the numerator (usually fts). */
  numerator: string;
  /** Contender in the denominator (usually a peer). */
  denominator: string;
  /** `numerator[i] / denominator[i]` for each measured round both ran. */
  perRun: number[];
  /** Median, min and max of {@link RatioResult.perRun}. */
  summary: Summary;
}

/** Outcome of a case's target. */
export type Verdict = "PASS" | "MISS" | "n/a";

/** A case's target and whether it was met. */
export interface TargetResult {
  /** The target as stated in the issue, e.g. `fts time ≤ 1.0x nc`. */
  description: string;
  /** PASS, MISS, or n/a (report only, or nothing to compare with). */
  verdict: Verdict;
  /** The measured value behind the verdict, or why there is none. */
  detail: string;
}

/** Whether a case ran. */
export type CaseStatus = "ran" | "skipped" | "failed";

/** Results of one benchmark case. */
export interface CaseResult {
  /** Stable identifier, e.g. `put-file`. */
  id: string;
  /** Title shown in the table, e.g. `1 GiB random file, put`. */
  title: string;
  /** ran, skipped (feature or tool missing) or failed (fts failed). */
  status: CaseStatus;
  /** Notes: why skipped, which peers were left out, and so on. */
  notes: string[];
  /** Contenders in the order they ran each round. */
  contenders: ContenderResult[];
  /** fts/peer ratios. */
  ratios: RatioResult[];
  /** The target and its verdict. */
  target: TargetResult;
  /** Case-level figures such as aggregate throughput or hashing cost. */
  metrics: Record<string, number | string | boolean | null>;
}

/** Everything written to the JSON results file. */
export interface BenchReport {
  /** ISO 8601 start time. */
  date: string;
  /** True for `--quick`. */
  quick: boolean;
  /** Measured runs per contender and case. */
  runs: number;
  /** Warm-up runs per contender and case. */
  warmups: number;
  /** The machine. */
  host: HostInfo;
  /** The Deno running the benchmark (and fts, unless `FTS_BIN`). */
  deno: { deno: string; v8: string; typescript: string; path: string };
  /** fts under test. */
  fts: {
    command: string | null;
    version: string | null;
    features: Record<string, boolean | string | null>;
  };
  /** Peer tools: path (or null) and version where known. */
  peers: Record<string, { path: string | null; version: string | null }>;
  /** Data sizes used. */
  sizes: Record<string, number>;
  /** How memory was measured. */
  memoryMethod: { server: string; client: string };
  /** General notes (skipped peers, missing tools). */
  notes: string[];
  /** Every case, skipped ones included. */
  cases: CaseResult[];
  /** Total wall time of the benchmark, seconds. */
  totalSeconds: number;
}

/** Facts about the machine, all read at run time. */
export interface HostInfo {
  /** `model name` from /proc/cpuinfo. */
  cpuModel: string | null;
  /** Logical CPUs. */
  cores: number;
  /** MemTotal from /proc/meminfo, KiB. */
  memTotalKiB: number | null;
  /** Kernel release. */
  kernel: string;
  /** Operating system and architecture. */
  os: string;
  /** Host name. */
  hostname: string;
}
