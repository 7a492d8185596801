/**
 * The remaining cases: many concurrent clients (integrity and aggregate
 * throughput), the server's peak memory targets (derived from the runs of
 * other cases) and `fts --version` start-up time against `deno --version`.
 *
 * @module
 */

import { join } from "@std/path";
import { contenderResult, ratioOf } from "./alternate.ts";
import {
  type BenchContext,
  caseStatus,
  errorNotes,
  expectFile,
  freshDir,
  ftsClient,
  ftsMissing,
  ftsResult,
  skippedCase,
} from "./context.ts";
import { connectArgs } from "./fts_runner.ts";
import type { CaseResult, Sample } from "./model.ts";
import { run } from "./process.ts";
import {
  formatBytes,
  formatRate,
  formatRatio,
  formatSeconds,
  max,
  median,
} from "./stats.ts";

/** `N clients at once, S each`: concurrent `fts connect` puts; all must arrive intact. */
export async function clientsCase(ctx: BenchContext): Promise<CaseResult> {
  const id = "clients";
  const { clients, clientBytes } = ctx.config;
  const title = `${clients} clients at once, ${formatBytes(clientBytes)} each`;
  const target = "all intact (SHA-256); aggregate throughput reported";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const files = await ctx.clientFiles();
  const served = ctx.path("srv-clients");
  const total = clients * clientBytes;
  const timeout = ctx.transferTimeoutMs(total) + clients * 2000;
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(1, timeout),
  );
  try {
    const names = files.map((_, i) =>
      `client-${String(i).padStart(3, "0")}.bin`
    );
    const results = await ctx.alternate([{
      name: `fts ×${clients}`,
      fts: true,
      description:
        `${clients} concurrent fts connect ADDR put FILE client-NNN.bin`,
      prepare: () => freshDir(served),
      run: async () => {
        await server.resetPeak();
        const start = performance.now();
        const outcomes = await Promise.allSettled(
          files.map((file, i) =>
            ftsClient(
              ctx,
              connectArgs(server, ["put", file.path, names[i]]),
              timeout,
            )
          ),
        );
        const seconds = (performance.now() - start) / 1000;
        const failed = outcomes.filter((o) =>
          o.status === "rejected"
        ) as PromiseRejectedResult[];
        if (failed.length > 0) {
          throw new Error(
            `${failed.length} of ${clients} clients failed, first: ${
              failed[0].reason?.message
            }`,
          );
        }
        const fulfilled = outcomes as PromiseFulfilledResult<
          Awaited<ReturnType<typeof ftsClient>>
        >[];
        const clientPeaks = fulfilled.map((o) => o.value.peakKiB).filter((
          v,
        ): v is number => v !== null);
        const clientSeconds = fulfilled.map((o) => o.value.seconds);
        return {
          seconds,
          serverPeakKiB: await server.peakKiB(),
          clientPeakKiB: clientPeaks.length ? max(clientPeaks) : null,
          extra: {
            clients,
            bytes: total,
            aggregateMiBps: total / seconds / (1024 * 1024),
            slowestClientSeconds: max(clientSeconds),
            medianClientSeconds: median(clientSeconds),
          },
        };
      },
      verify: async () => {
        let bad = 0;
        let first = "";
        for (let i = 0; i < files.length; i++) {
          try {
            await expectFile(join(served, names[i]) as string, files[i]);
          } catch (error) {
            bad++;
            first ||= (error as Error).message;
          }
        }
        if (bad > 0) {
          throw new Error(
            `${bad} of ${clients} files not intact, first: ${first}`,
          );
        }
      },
    }]);
    const fts = results[0];
    const ok = fts.error === undefined && fts.summary.n > 0;
    const rates = fts.samples.filter((s) => !s.warmup).map((s) =>
      total / s.seconds!
    );
    return {
      id,
      title,
      status: caseStatus(results),
      notes: errorNotes(results),
      contenders: results,
      ratios: [],
      target: {
        description: target,
        verdict: ok ? "PASS" : "MISS",
        detail: ok
          ? `all ${clients} files intact in every run; aggregate ${
            formatRate(total, fts.summary.median)
          } (median of ${formatSeconds(fts.summary.median)})`
          : `failed: ${fts.error ?? "no runs"}`,
      },
      metrics: {
        clients,
        bytesPerClient: clientBytes,
        totalBytes: total,
        aggregateMiBpsMedian: rates.length
          ? median(rates) / (1024 * 1024)
          : null,
      },
    };
  } finally {
    await server.stop();
  }
}

/** 100 MB and 300 MB as in the issue: decimal megabytes, in KiB. */
const MB_IN_KIB = 1_000_000 / 1024;

/**
 * A memory target derived from another case's fts runs: PASS when the
 * largest server peak over all its runs (warm-up included) is ≤ `limitMB`.
 */
export function memoryCase(
  id: string,
  title: string,
  limitMB: number,
  source: CaseResult | undefined,
): CaseResult {
  const target = `server peak RSS ≤ ${limitMB} MB (${limitMB} × 10^6 bytes)`;
  const fts = ftsResult(source);
  const samples: Sample[] = (fts?.samples ?? [])
    .filter((s) => typeof s.serverPeakKiB === "number")
    .map((s) => ({
      round: s.round,
      warmup: s.warmup,
      serverPeakKiB: s.serverPeakKiB,
    }));
  if (!source || samples.length === 0) {
    const why = source?.status === "skipped"
      ? `source case ${source.id} skipped`
      : `no server memory samples from ${source?.id ?? "its source case"}`;
    return skippedCase(id, title, target, why);
  }
  const peak = max(samples.map((s) => s.serverPeakKiB!));
  const limitKiB = limitMB * MB_IN_KIB;
  const resettable = source.metrics.serverPeakResettable;
  return {
    id,
    title,
    status: "ran",
    notes: [
      `from the fts server runs of case ${source.id}; VmHWM read from /proc after each run` +
      (resettable === false
        ? " (peak reset not allowed: peaks are since server start)"
        : ", peak reset before each"),
    ],
    contenders: [
      contenderResult(
        "fts server",
        true,
        "VmHWM of the fts serve process",
        "serverPeakKiB",
        samples,
      ),
    ],
    ratios: [],
    target: {
      description: target,
      verdict: peak <= limitKiB ? "PASS" : "MISS",
      detail: `max ${(peak / 1024).toFixed(1)} MiB = ${
        (peak * 1024 / 1e6).toFixed(1)
      } MB over ${samples.length} runs`,
    },
    metrics: { peakKiB: peak, limitKiB: Math.round(limitKiB) },
  };
}

/** `fts --version` start-up time, alternating with `deno --version`. */
export async function startupCase(ctx: BenchContext): Promise<CaseResult> {
  const id = "startup";
  const title = "`fts --version` start-up";
  const target = "reported, compared with `deno --version`";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const deno = Deno.execPath();
  const results = await ctx.alternate([
    {
      name: "fts --version",
      fts: true,
      description: `${ctx.launcher!.description} --version`,
      run: async () => {
        const result = await ftsClient(ctx, ["--version"], 30_000);
        return { seconds: result.seconds, clientPeakKiB: result.peakKiB };
      },
    },
    {
      name: "deno --version",
      fts: false,
      description: `${deno} --version`,
      run: async () => {
        const result = await run(deno, ["--version"], { timeoutMs: 30_000 });
        if (!result.success) {
          throw new Error(`deno --version exited ${result.code}`);
        }
        return { seconds: result.seconds };
      },
    },
  ]);
  const ratio = ratioOf(results[0], results[1]);
  return {
    id,
    title,
    status: caseStatus(results),
    notes: errorNotes(results),
    contenders: results,
    ratios: ratio.perRun.length ? [ratio] : [],
    target: {
      description: target,
      verdict: "n/a",
      detail: ratio.perRun.length
        ? `fts ${formatSeconds(results[0].summary.median)} vs deno ${
          formatSeconds(results[1].summary.median)
        } (${formatRatio(ratio.summary.median)})`
        : "no complete pair of runs",
    },
    metrics: {},
  };
}
