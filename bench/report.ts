/**
 * Output of the benchmark: a readable plain-text table for stdout and the
 * JSON results file (ISO date in its name) under `bench/results/`.
 *
 * @module
 */

import { join } from "@std/path";
import type { BenchReport, CaseResult, ContenderResult } from "./model.ts";
import {
  formatBytes,
  formatRatio,
  formatSeconds,
  type Summary,
} from "./stats.ts";

/** Renders rows as left-aligned columns separated by two spaces. */
export function renderColumns(rows: string[][], indent = ""): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
    });
  }
  return rows
    .map((row) =>
      indent +
      row.map((cell, i) => cell + " ".repeat(widths[i] - [...cell].length))
        .join("  ").trimEnd()
    )
    .join("\n");
}

function kib(value: number | undefined | null): string {
  return typeof value === "number" && Number.isFinite(value)
    ? formatBytes(value * 1024)
    : "";
}

function metricCell(c: ContenderResult, pick: (s: Summary) => number): string {
  if (c.summary.n === 0) return "-";
  const value = pick(c.summary);
  return c.metric === "seconds" ? formatSeconds(value) : kib(value);
}

function rangeCell(c: ContenderResult): string {
  if (c.summary.n === 0) return c.error ? "failed" : "-";
  return `${metricCell(c, (s) => s.min)} – ${metricCell(c, (s) => s.max)}`;
}

function peakCell(summary: Summary | null): string {
  if (!summary) return "";
  return summary.n > 1
    ? `${kib(summary.median)} (max ${kib(summary.max)})`
    : kib(summary.max);
}

/** The per-case table: contenders with median, min–max, ratio to fts and peak memory. */
export function renderCase(result: CaseResult): string {
  const lines = [`▸ ${result.title}  [${result.id}]`];
  if (result.status === "skipped") {
    lines.push(`    skipped: ${result.notes.join("; ")}`);
    lines.push(`    target: ${result.target.description}`);
    return lines.join("\n");
  }
  const rows: string[][] = [[
    "contender",
    "median",
    "min – max",
    "fts/this, per pair: median (min – max)",
    "server peak",
    "client peak",
    "server CPU s: median (min – max)",
    "client CPU s",
  ]];
  for (const c of result.contenders) {
    const ratio = result.ratios.find((r) => r.denominator === c.name && !c.fts);
    rows.push([
      c.name,
      metricCell(c, (s) => s.median),
      rangeCell(c),
      ratio
        ? `${formatRatio(ratio.summary.median)} (${
          formatRatio(ratio.summary.min)
        } – ${formatRatio(ratio.summary.max)})`
        : "",
      peakCell(c.serverPeak),
      peakCell(c.clientPeak),
      cpuCell(c.serverCpu),
      cpuCell(c.clientCpu),
    ]);
  }
  lines.push(renderColumns(rows, "    "));
  const verdict = result.target.verdict === "n/a"
    ? ""
    : ` → ${result.target.verdict}`;
  lines.push(
    `    target: ${result.target.description}${verdict}: ${result.target.detail}`,
  );
  for (const note of result.notes) lines.push(`    note: ${note}`);
  return lines.join("\n");
}

function cpuCell(summary: Summary | null | undefined): string {
  if (!summary) return "";
  const f = (v: number) => v.toFixed(2);
  return `${f(summary.median)} (${f(summary.min)} – ${f(summary.max)})`;
}

/** Label of a case in the summary: PASS, MISS, SKIPPED, FAILED or INFO. */
export function verdictLabel(result: CaseResult): string {
  if (result.status === "skipped") return "SKIPPED";
  if (result.target.verdict !== "n/a") return result.target.verdict;
  return result.status === "failed" ? "FAILED" : "INFO";
}

/** The whole report: header, one table per case, and the targets summary. */
export function renderReport(report: BenchReport): string {
  const out: string[] = [];
  out.push(`fts benchmark — ${report.date}${report.quick ? " (--quick)" : ""}`);
  out.push(
    `host: ${
      report.host.cpuModel ?? "unknown CPU"
    }, ${report.host.cores} cores, ${
      report.host.memTotalKiB
        ? formatBytes(report.host.memTotalKiB * 1024)
        : "? RAM"
    }, Linux ${report.host.kernel}`,
  );
  out.push(
    `deno ${report.deno.deno}; fts: ${report.fts.version ?? "not available"} (${
      report.fts.command ?? "-"
    })`,
  );
  out.push(
    `runs: ${report.runs} measured + ${report.warmups} warm-up per contender, contenders alternating each round`,
  );
  out.push(
    `memory: server ${report.memoryMethod.server}; client ${report.memoryMethod.client}`,
  );
  for (const note of report.notes) out.push(`note: ${note}`);
  out.push("");
  for (const result of report.cases) {
    out.push(renderCase(result));
    out.push("");
  }
  out.push("Targets");
  out.push(renderColumns(
    report.cases.map((c) => [
      verdictLabel(c),
      c.title,
      c.target.description,
      c.status === "skipped" ? c.notes.join("; ") : c.target.detail,
    ]),
    "  ",
  ));
  out.push("");
  out.push(`total time ${formatSeconds(report.totalSeconds)}`);
  return out.join("\n");
}

/** File name for a report: `fts-bench-<ISO date>[-quick].json`, colons replaced for portability. */
export function resultFileName(date: string, quick: boolean): string {
  const stamp = date.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
  return `fts-bench-${stamp}${quick ? "-quick" : ""}.json`;
}

/** Writes the report as JSON into `dir` (created if needed) and returns the file's path. */
export async function writeReport(
  report: BenchReport,
  dir: string,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, resultFileName(report.date, report.quick)) as string;
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
  return path;
}
