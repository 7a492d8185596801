/**
 * `deno task bench`: benchmarks fts against nc, scp and rsync in one run,
 * `fts serve s3://` against s3cmd on a local S3 gateway, and the live
 * mirror against lsyncd.
 *
 * Every case runs its contenders in alternation (A B A B ...) after a
 * warm-up, reports median and min–max, the fts/peer ratio of each pair of
 * runs and its median, and the peak memory of the fts server and clients.
 * Prints a table and writes every raw sample as JSON to
 * `bench/results/fts-bench-<ISO date>.json`.
 *
 * Usage:
 *
 *     deno task bench [--runs N] [--quick] [--out DIR] [--only ID,ID] [--no-peers]
 *
 * `--quick` runs every case at tiny sizes once, without warm-up or peers.
 * Everything runs on 127.0.0.1, every child is bounded by a timeout, and
 * all processes and temp dirs are cleaned up, also on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { fromFileUrl, join, resolve } from "@std/path";
import {
  getFileCase,
  getTlsCase,
  putFileCase,
  putNoVerifyCase,
  putTlsCase,
} from "./cases_file.ts";
import { compressCase } from "./cases_compress.ts";
import { httpFileCase } from "./cases_http.ts";
import { deltaCase } from "./cases_delta.ts";
import { diskFileCase, diskTreeCase } from "./cases_disk.ts";
import { s3GetFileCase, s3PutFileCase, s3TreePutCase } from "./cases_s3.ts";
import { clientsCase, memoryCase, startupCase } from "./cases_other.ts";
import {
  liveLatencyCase,
  mirrorDeleteManyCase,
  mirrorRestartCase,
} from "./cases_mirror.ts";
import { treeCase } from "./cases_tree.ts";
import { scaleCheckCase, scalePutCase } from "./cases_tree_scale.ts";
import { type BenchConfig, BenchContext, makeConfig } from "./context.ts";
import {
  type FtsFeatures,
  probeFeatures,
  resolveLauncher,
} from "./fts_runner.ts";
import { findGnuTime } from "./memory.ts";
import type { BenchReport, CaseResult } from "./model.ts";
import { findPeerTools, type PeerTools } from "./peers.ts";
import { cleanup, makeTempDir, removeQuietly } from "./process.ts";
import { renderReport, writeReport } from "./report.ts";
import { mountTmpfs, unmountTmpfs } from "./tmpfs.ts";
import { deltaBoundCase } from "./cases_delta_bounds.ts";
import { formatBytes } from "./stats.ts";
import { denoInfo, hostInfo, peerInfo } from "./system_info.ts";

/** Case ids in run and report order. */
const CASE_IDS = [
  "put-file",
  "get-file",
  "put-file-tls",
  "get-file-tls",
  "tree-put",
  "tree-get",
  "put-file-disk",
  "get-file-disk",
  "tree-put-disk",
  "tree-get-disk",
  "tree-100k-put",
  "tree-100k-rerun",
  "mem-tree-100k",
  "tree-200k-check",
  "clients",
  "mem-put",
  "mem-clients",
  "startup",
  "put-file-noverify",
  "compress-text",
  "compress-random",
  "delta-put-edits",
  "delta-get-edits",
  "delta-put-insert",
  "delta-put-append",
  "delta-put-unrelated",
  "delta-put-repeated",
  "s3-put-file",
  "s3-get-file",
  "s3-tree-put",
  "http-get-file",
  "http-put-file",
  "mirror-live-edit",
  "mirror-live-delete",
  "mirror-restart",
  "mirror-delete-many",
] as const;

const USAGE = `Usage: deno task bench [options]

Benchmarks fts against nc, scp and rsync on 127.0.0.1 (and its HTTP front-end
against nginx, both with curl), alternating contenders,
fts serving s3:// against s3cmd on a local Ceph RADOS Gateway (the tests'
one from FTS_TEST_S3_*, else one started for the run when Ceph is installed;
FTS_BENCH_S3=0 skips the S3 cases), and the live mirror (put -r --watch)
against lsyncd driving rsync with delay = 1 (Debian's lsyncd).

Options:
  --runs N       measured runs per contender and case (default 5; 1 with --quick)
  --quick        every case at tiny sizes, one run, no warm-up, no peers
  --out DIR      directory for the JSON results (default bench/results)
  --only IDS     comma-separated case ids to run (others are listed as skipped)
  --no-peers     run fts only
  --peers        run the peers also with --quick
  --disk         keep the work folder on disk (default: a tmpfs, when root)
  -h, --help     show this help

Cases: ${CASE_IDS.join(", ")}
Environment: FTS_BIN=path runs that fts binary instead of deno run -A main.ts.`;

/** Parsed command-line flags. */
interface Flags {
  runs?: string;
  quick: boolean;
  out?: string;
  only?: string;
  peers?: boolean;
  disk: boolean;
  help: boolean;
}

function parseFlags(args: string[]): Flags {
  const flags: Flags = parseArgs(args, {
    boolean: ["quick", "help", "peers", "disk"],
    string: ["runs", "out", "only"],
    negatable: ["peers"],
    default: { quick: false, help: false, disk: false },
    alias: { h: "help" },
    unknown: (arg: string) => {
      throw new Error(`unknown option ${arg}\n\n${USAGE}`);
    },
  });
  return flags;
}

function failedCase(id: string, title: string, error: unknown): CaseResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    id,
    title,
    status: "failed",
    notes: [message],
    contenders: [],
    ratios: [],
    target: { description: "-", verdict: "n/a", detail: `failed: ${message}` },
    metrics: {},
  };
}

/** Removes per-case outputs from the work dir, keeping the shared test data. */
async function tidyWork(work: string): Promise<void> {
  const keep = new Set(["data", "trees", "clients"]);
  for await (const entry of Deno.readDir(work)) {
    if (!keep.has(entry.name)) {
      await removeQuietly(join(work, entry.name) as string);
    }
  }
}

async function runCases(ctx: BenchContext): Promise<CaseResult[]> {
  const results = new Map<string, CaseResult>();
  const selected = (id: string) =>
    ctx.config.only === null || ctx.config.only.includes(id);
  const runners: Record<string, () => Promise<CaseResult>> = {
    "put-file": () => putFileCase(ctx),
    "get-file": () => getFileCase(ctx),
    "put-file-tls": () => putTlsCase(ctx),
    "get-file-tls": () => getTlsCase(ctx),
    "tree-put": () => treeCase(ctx, "put"),
    "tree-get": () => treeCase(ctx, "get"),
    "put-file-disk": () => diskFileCase(ctx, "put"),
    "get-file-disk": () => diskFileCase(ctx, "get"),
    "tree-put-disk": () => diskTreeCase(ctx, "put"),
    "tree-get-disk": () => diskTreeCase(ctx, "get"),
    "tree-100k-put": () => scalePutCase(ctx, "first"),
    "tree-100k-rerun": () => scalePutCase(ctx, "rerun"),
    "mem-tree-100k": () =>
      Promise.resolve(
        memoryCase(
          "mem-tree-100k",
          "server peak memory during the put -r of tree-100k-put",
          150,
          results.get("tree-100k-put"),
        ),
      ),
    "tree-200k-check": () => scaleCheckCase(ctx),
    "clients": () => clientsCase(ctx),
    "mem-put": () =>
      Promise.resolve(
        memoryCase(
          "mem-put",
          `server peak memory during the ${
            formatBytes(ctx.config.fileBytes)
          } put`,
          100,
          results.get("put-file"),
        ),
      ),
    "mem-clients": () =>
      Promise.resolve(
        memoryCase(
          "mem-clients",
          `server peak memory with ${ctx.config.clients} clients`,
          300,
          results.get("clients"),
        ),
      ),
    "startup": () => startupCase(ctx),
    "put-file-noverify": () => putNoVerifyCase(ctx),
    "compress-text": () => compressCase(ctx, "text"),
    "compress-random": () => compressCase(ctx, "random"),
    "delta-put-edits": () => deltaCase(ctx, "put", "edits"),
    "delta-get-edits": () => deltaCase(ctx, "get", "edits"),
    "delta-put-insert": () => deltaCase(ctx, "put", "insert"),
    "delta-put-append": () => deltaCase(ctx, "put", "append"),
    "delta-put-unrelated": () => deltaBoundCase(ctx, "unrelated"),
    "delta-put-repeated": () => deltaBoundCase(ctx, "repeated"),
    "s3-put-file": () => s3PutFileCase(ctx),
    "s3-get-file": () => s3GetFileCase(ctx),
    "s3-tree-put": () => s3TreePutCase(ctx),
    "http-get-file": () => httpFileCase(ctx, "get"),
    "http-put-file": () => httpFileCase(ctx, "put"),
    "mirror-live-edit": () => liveLatencyCase(ctx, "edit"),
    "mirror-live-delete": () => liveLatencyCase(ctx, "delete"),
    "mirror-restart": () => mirrorRestartCase(ctx),
    "mirror-delete-many": () => mirrorDeleteManyCase(ctx),
  };
  const sourceOf: Record<string, string> = {
    "mem-put": "put-file",
    "mem-clients": "clients",
    "mem-tree-100k": "tree-100k-put",
  };
  for (const id of CASE_IDS) {
    const wanted = selected(id) ||
      (sourceOf[id] !== undefined && selected(sourceOf[id]));
    if (!wanted) {
      results.set(id, {
        ...failedCase(id, id, "not selected (--only)"),
        status: "skipped",
        target: {
          description: "-",
          verdict: "n/a",
          detail: "skipped: not selected (--only)",
        },
      });
      continue;
    }
    ctx.log(`case ${id}`);
    const start = performance.now();
    try {
      results.set(id, await runners[id]());
    } catch (error) {
      ctx.log(`  case ${id} failed: ${(error as Error).message}`);
      results.set(id, failedCase(id, id, error));
    }
    await tidyWork(ctx.work);
    ctx.log(`  (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  }
  return CASE_IDS.map((id) => results.get(id)!);
}

function featureRecord(
  features: FtsFeatures | null,
): Record<string, boolean | string | null> {
  if (!features) return {};
  return {
    tls: features.tls,
    recursive: features.recursive,
    noVerify: features.noVerify,
    noVerifyNote: features.noVerifyNote,
  };
}

function sizeRecord(config: BenchConfig): Record<string, number> {
  return {
    fileBytes: config.fileBytes,
    treeFolders: config.tree.folders,
    treeFilesPerFolder: config.tree.filesPerFolder,
    treeFileBytes: config.tree.fileSize,
    clients: config.clients,
    clientBytes: config.clientBytes,
  };
}

/** Set once a signal asked the benchmark to stop; progress output ends then. */
let stopping = false;

/**
 * On SIGINT or SIGTERM: stop every child, remove every temp dir, exit with
 * 130 or 143. A second signal while that runs is ignored.
 */
function installSignalHandlers(): () => void {
  const handlers: [Deno.Signal, () => void][] =
    (["SIGINT", "SIGTERM"] as Deno.Signal[]).map((signal) => [
      signal,
      () => {
        if (stopping) return;
        stopping = true;
        console.error(
          `\n${signal}: stopping every process and removing temp dirs ...`,
        );
        cleanup.runAll().finally(() =>
          Deno.exit(signal === "SIGINT" ? 130 : 143)
        );
      },
    ]);
  for (const [signal, handler] of handlers) {
    Deno.addSignalListener(signal, handler);
  }
  return () => {
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  };
}

/** Runs the benchmark with command-line `args`; resolves to the process exit code. */
export async function main(args: string[]): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const runs = flags.runs === undefined ? undefined : Number(flags.runs);
  if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1)) {
    console.error(`--runs must be a whole number ≥ 1, got ${flags.runs}`);
    return 2;
  }
  const only = flags.only
    ? flags.only.split(",").map((s) => s.trim()).filter((s) => s)
    : null;
  const unknownIds = (only ?? []).filter((id) =>
    !(CASE_IDS as readonly string[]).includes(id)
  );
  if (unknownIds.length) {
    console.error(
      `unknown case id(s) ${unknownIds.join(", ")}; known: ${
        CASE_IDS.join(", ")
      }`,
    );
    return 2;
  }
  const config = makeConfig({
    quick: flags.quick,
    runs,
    // parseArgs defaults booleans to false, so look at what was written.
    peers: args.includes("--no-peers")
      ? false
      : args.includes("--peers")
      ? true
      : undefined,
    only,
  });
  const repo = fromFileUrl(new URL("../", import.meta.url)) as string;
  const outDir = flags.out
    ? resolve(flags.out) as string
    : join(repo, "bench", "results") as string;

  const removeHandlers = installSignalHandlers();
  const date = new Date().toISOString();
  const start = performance.now();
  const log = (message: string) => {
    if (!stopping) console.error(message);
  };
  let ctx: BenchContext | null = null;
  try {
    const tools: PeerTools = await findPeerTools();
    const launcher = resolveLauncher(join(repo, "main.ts") as string);
    log(`fts: ${launcher?.description ?? "not found"}`);
    const features = launcher ? await probeFeatures(launcher) : null;
    if (features) {
      log(
        `fts ${
          features.version ?? "(--version failed)"
        }: tls=${features.tls} -r=${features.recursive} ` +
          `--no-verify=${features.noVerify} (${features.noVerifyNote})`,
      );
    }
    const work = await makeTempDir("fts-bench-");
    const tmpfsNote = flags.disk
      ? "--disk: work folder on disk"
      : await mountTmpfs(work);
    if (!flags.disk && tmpfsNote === null) {
      cleanup.addAction(() => unmountTmpfs(work));
    }
    log(`work folder ${work}: ${tmpfsNote ?? "tmpfs"}`);
    // The servers' certificates and the clients' known hosts stay in the
    // work folder, out of the user's configuration.
    Deno.env.set("FTS_CONFIG_DIR", join(work, "fts-config") as string);
    ctx = new BenchContext({ config, launcher, features, tools, work, log });
    const cases = await runCases(ctx);

    const notes: string[] = [
      tmpfsNote ?? "work folder (data, served folders, outputs) on tmpfs",
    ];
    if (!config.peers) {
      notes.push(
        config.quick ? "--quick: peers not run" : "--no-peers: peers not run",
      );
    }
    if (!launcher) {
      notes.push("fts not found: no main.ts beside bench/ and FTS_BIN not set");
    }
    const gnuTime = await findGnuTime();
    const report: BenchReport = {
      date,
      quick: config.quick,
      runs: config.runs,
      warmups: config.warmups,
      host: hostInfo(),
      deno: denoInfo(),
      fts: {
        command: launcher?.description ?? null,
        version: features?.version ?? null,
        features: featureRecord(features),
      },
      peers: await peerInfo(tools),
      sizes: sizeRecord(config),
      memoryMethod: {
        server:
          "VmHWM from /proc/PID/status after each run, reset before it via /proc/PID/clear_refs",
        client: gnuTime
          ? `${gnuTime} -f %M (ru_maxrss)`
          : "VmHWM polled every 10 ms",
      },
      notes,
      cases,
      totalSeconds: (performance.now() - start) / 1000,
    };
    console.log(renderReport(report));
    const path = await writeReport(report, outDir);
    console.log(`\nresults: ${path}`);
    return cases.some((c) => c.status === "failed") ? 1 : 0;
  } finally {
    await ctx?.stopSsh();
    await cleanup.runAll();
    removeHandlers();
  }
}

/**
 * True when this process may read `/proc/PID/status` and write
 * `/proc/PID/clear_refs`. Deno allows `/proc` only with `--allow-all`; the
 * `deno task bench` line grants the permissions one by one (including
 * `--allow-run`, which already lets the benchmark run anything), so the
 * benchmark then re-runs itself with `-A`.
 */
function procAccessible(): boolean {
  try {
    Deno.readTextFileSync("/proc/self/status");
    return true;
  } catch {
    return false;
  }
}

/** Re-runs this script with `-A`, forwarding SIGTERM and SIGINT; resolves to its exit code. */
async function rerunWithProcAccess(): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fromFileUrl(import.meta.url) as string, ...Deno.args],
    env: { FTS_BENCH_RERUN: "1" },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const forward = (signal: Deno.Signal) => () => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
  };
  const handlers = (["SIGINT", "SIGTERM"] as Deno.Signal[]).map((signal) =>
    [signal, forward(signal)] as const
  );
  for (const [signal, handler] of handlers) {
    Deno.addSignalListener(signal, handler);
  }
  const status = await child.status;
  for (const [signal, handler] of handlers) {
    Deno.removeSignalListener(signal, handler);
  }
  return status.code;
}

if (import.meta.main) {
  if (!procAccessible() && Deno.env.get("FTS_BENCH_RERUN") !== "1") {
    Deno.exit(await rerunWithProcAccess());
  }
  Deno.exit(await main(Deno.args));
}
