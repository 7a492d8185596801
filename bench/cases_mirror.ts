/**
 * Live mirror and mirror cases: how long after a local save (or delete) the
 * change is in the server's folder with `fts put -r --watch --delete`,
 * against lsyncd 2.2.3 (Debian's) driving local rsync with `delay = 1`,
 * edits alternating between the two; how long after a `kill -9` and
 * restart of the server a change made meanwhile arrives; and how long a
 * `put -r --delete` takes to propagate the deletion of a large tree.
 *
 * The live cases keep one fts server, one live mirror (and one lsyncd)
 * running for the whole case; each sample is one change, timed from the
 * write until the target shows it (polled every 2 ms).
 *
 * @module
 */

import { join } from "@std/path";
import {
  type Contender,
  contenderResult,
  runAlternating,
} from "./alternate.ts";
import {
  type BenchContext,
  caseStatus,
  errorNotes,
  freshDir,
  ftsClient,
  ftsMissing,
  skippedCase,
} from "./context.ts";
import { connectArgs, FtsServer } from "./fts_runner.ts";
import type { CaseResult, ContenderResult, Sample } from "./model.ts";
import {
  type Background,
  run,
  sleep,
  startBackground,
  which,
} from "./process.ts";
import { formatSeconds } from "./stats.ts";

/** Longest wait for one change to show (the case fails past it). */
const CHANGE_TIMEOUT_MS = 60_000;

/** Milliseconds until `check` passes (polled every 2 ms), at most 60 s. */
async function timeUntil(what: string, check: () => boolean): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > CHANGE_TIMEOUT_MS) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(2);
  }
  return performance.now() - start;
}

function readOr(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** The `q` quantile of `values` (nearest rank). */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/**
 * Two fresh folders `NAME-A` and `NAME-B` in the work folder, the first
 * holding `seed` (file name to text).
 */
async function seededPair(
  ctx: BenchContext,
  name: string,
  [a, b]: [string, string],
  seed: Record<string, string>,
): Promise<[string, string]> {
  const source = ctx.path(`${name}-${a}`);
  const target = ctx.path(`${name}-${b}`);
  await freshDir(source);
  await freshDir(target);
  for (const [file, text] of Object.entries(seed)) {
    await Deno.writeTextFile(join(source, file), text);
  }
  return [source, target];
}

/** A running fts server and `fts connect ... put -r --watch --delete SRC/ site`. */
class FtsLive {
  readonly src: string;
  readonly site: string;
  server: FtsServer;
  #ctx: BenchContext;
  #served: string;
  #client: Background;

  private constructor(
    ctx: BenchContext,
    src: string,
    served: string,
    server: FtsServer,
    client: Background,
  ) {
    this.#ctx = ctx;
    this.src = src;
    this.#served = served;
    this.site = join(served, "site") as string;
    this.server = server;
    this.#client = client;
  }

  /** Starts both, with `seed` in the source, once the mirror follows. */
  static async start(
    ctx: BenchContext,
    name: string,
    seed: Record<string, string>,
  ): Promise<FtsLive> {
    const [src, served] = await seededPair(ctx, name, ["src", "served"], seed);
    const server = await FtsServer.start(ctx.launcher!, served, {
      tls: false,
      lifetimeMs: 3600_000,
    });
    // No --quiet: the "following" line says the first mirror is done.
    const client = startBackground(ctx.launcher!.command, [
      ...ctx.launcher!.prefix,
      "connect",
      server.address,
      "put",
      "-r",
      "--watch",
      "--delete",
      `${src}/`,
      "site",
    ], { timeoutMs: 3600_000 });
    const live = new FtsLive(ctx, src, served, server, client);
    try {
      await timeUntil("the live mirror to follow", () => {
        if (client.exited) {
          throw new Error(`fts exited: ${client.stderrText.trim()}`);
        }
        return /^following /m.test(client.stderrText);
      });
    } catch (error) {
      await live.stop();
      throw error;
    }
    return live;
  }

  /** `kill -9` of the server. */
  async killServer(): Promise<void> {
    await this.server.kill();
  }

  /** Starts the server again on its port; resolves once it listens. */
  async restartServer(): Promise<void> {
    const port = Number(this.server.address.split(":").at(-1));
    this.server = await FtsServer.start(this.#ctx.launcher!, this.#served, {
      tls: false,
      lifetimeMs: 3600_000,
      port,
    });
  }

  /** What the client printed (reconnect lines). */
  get clientLog(): string {
    return this.#client.stderrText;
  }

  async stop(): Promise<void> {
    await this.#client.stop(5000);
    await this.server.stop();
  }
}

/** lsyncd driving local rsync from SRC to DST with `delay = 1`. */
class Lsyncd {
  readonly src: string;
  readonly dst: string;
  #proc: Background;

  private constructor(src: string, dst: string, proc: Background) {
    this.src = src;
    this.dst = dst;
    this.#proc = proc;
  }

  /** Starts lsyncd with `seed` in the source; resolves once it is copied. */
  static async start(
    ctx: BenchContext,
    lsyncd: string,
    name: string,
    seed: Record<string, string>,
  ): Promise<Lsyncd> {
    const [src, dst] = await seededPair(ctx, name, ["lsrc", "ldst"], seed);
    const config = ctx.path(`${name}-lsyncd.lua`);
    await Deno.writeTextFile(
      config,
      `settings { nodaemon = true }\nsync { default.rsync, source = ${
        JSON.stringify(src)
      }, target = ${JSON.stringify(dst)}, delay = 1 }\n`,
    );
    const proc = startBackground(lsyncd, [config], { timeoutMs: 3600_000 });
    const peer = new Lsyncd(src, dst, proc);
    try {
      const [file, text] = Object.entries(seed)[0];
      await timeUntil("lsyncd's first copy", () => {
        if (proc.exited) {
          throw new Error(`lsyncd exited: ${proc.stderrText.trim()}`);
        }
        return readOr(join(dst, file)) === text;
      });
    } catch (error) {
      await peer.stop();
      throw error;
    }
    return peer;
  }

  async stop(): Promise<void> {
    await this.#proc.stop(3000);
  }
}

/** `lsyncd --version`'s version, or null. */
async function lsyncdVersion(lsyncd: string): Promise<string | null> {
  const result = await run(lsyncd, ["--version"], {
    timeoutMs: 10_000,
    captureStdout: true,
  }).catch(() => null);
  return /(\d+\.\d+\.\d+)/.exec(`${result?.stdout}${result?.stderr}`)?.[1] ??
    null;
}

/** One change and how to see it landed, on a source and target folder. */
type Change = (
  src: string,
  dst: string,
  i: number,
) => Promise<() => boolean>;

/** Saves `edit.txt` with new content; landed when the target has it. */
const edit: Change = async (src, dst, i) => {
  const text = `edit ${i} ${"x".repeat(i * 10)}`;
  await Deno.writeTextFile(join(src, "edit.txt"), text);
  return () => readOr(join(dst, "edit.txt")) === text;
};

/**
 * Removes a file the target has (made and copied untimed first); landed
 * when the target lacks it.
 */
function deletion(settle: (check: () => boolean) => Promise<void>): Change {
  return async (src, dst, i) => {
    const name = `gone-${i}.txt`;
    await Deno.writeTextFile(join(src, name), "x");
    await settle(() => readOr(join(dst, name)) === "x");
    await Deno.remove(join(src, name));
    return () => readOr(join(dst, name)) === null;
  };
}

/** What the two latency cases measure. */
interface LatencyKind {
  id: string;
  title: string;
  target: string;
  /** The most a p90 may be, in seconds. */
  limitSeconds: number;
  /** The most fts's p90 may be as a share of lsyncd's (edits only). */
  limitRatio?: number;
  change: Change;
}

/** The live mirror latency cases (`mirror-live-edit`, `mirror-live-delete`). */
export async function liveLatencyCase(
  ctx: BenchContext,
  kind: "edit" | "delete",
): Promise<CaseResult> {
  const changes = ctx.config.quick ? 1 : kind === "edit" ? 20 : 10;
  const settle = async (check: () => boolean) =>
    void await timeUntil("a file to be copied", check);
  const spec: LatencyKind = kind === "edit"
    ? {
      id: "mirror-live-edit",
      title: `live mirror: a saved file visible remotely, p90 of ${changes}`,
      target: "p90 ≤ 0.5 s and ≤ 0.5x lsyncd (rsync, delay = 1)",
      limitSeconds: 0.5,
      limitRatio: 0.5,
      change: edit,
    }
    : {
      id: "mirror-live-delete",
      title: `live mirror: a local delete visible remotely, p90 of ${changes}`,
      target: "p90 ≤ 2 s",
      limitSeconds: 2,
      change: deletion(settle),
    };
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(spec.id, spec.title, spec.target, missing);
  const seed = { "edit.txt": "start" };
  const notes: string[] = [];
  const lsyncdPath = ctx.config.peers ? which("lsyncd") : null;
  if (ctx.config.peers && !lsyncdPath) {
    notes.push("lsyncd not installed (Debian package lsyncd): no anchor");
  }
  const fts = await FtsLive.start(ctx, spec.id, seed);
  let peer: Lsyncd | null = null;
  try {
    if (lsyncdPath && ctx.config.peers) {
      peer = await Lsyncd.start(ctx, lsyncdPath, spec.id, seed).catch(
        (error) => {
          notes.push(`lsyncd not measured: ${(error as Error).message}`);
          return null;
        },
      );
    }
    const samples: Sample[][] = [[], []];
    const rounds = ctx.config.warmups + changes;
    for (let round = 0; round < rounds; round++) {
      const warmup = round < ctx.config.warmups;
      const sides = peer
        ? [[fts.src, fts.site], [peer.src, peer.dst]]
        : [[fts.src, fts.site]];
      for (let side = 0; side < sides.length; side++) {
        const [src, dst] = sides[side];
        const landed = await spec.change(src, dst, round);
        const ms = await timeUntil(`change ${round}`, landed);
        samples[side].push({ round, warmup, seconds: ms / 1000 });
      }
    }
    const version = lsyncdPath ? await lsyncdVersion(lsyncdPath) : null;
    const contenders = [
      contenderResult(
        "fts put -r --watch",
        true,
        "fts connect ADDR put -r --watch --delete SRC/ site (edits timed from the write until the served folder shows them)",
        "seconds",
        samples[0],
      ),
      ...(peer
        ? [contenderResult(
          `lsyncd ${version ?? ""}`.trim(),
          false,
          "lsyncd: sync { default.rsync, source = SRC, target = DST, delay = 1 }",
          "seconds",
          samples[1],
        )]
        : []),
    ];
    return latencyResult(spec, contenders, notes, changes);
  } finally {
    await peer?.stop();
    await fts.stop();
  }
}

function latencyResult(
  spec: LatencyKind,
  contenders: ContenderResult[],
  notes: string[],
  changes: number,
): CaseResult {
  const p90 = (c: ContenderResult | undefined) => {
    const values = (c?.samples ?? []).filter((s) => !s.warmup).map((s) =>
      s.seconds!
    );
    return values.length ? quantile(values, 0.9) : null;
  };
  const ftsP90 = p90(contenders[0])!;
  const peerP90 = p90(contenders[1]);
  const ratio = peerP90 ? ftsP90 / peerP90 : null;
  const ok = ftsP90 <= spec.limitSeconds &&
    (spec.limitRatio === undefined || ratio === null ||
      ratio <= spec.limitRatio);
  const anchor = peerP90 === null
    ? "; no lsyncd anchor this run"
    : `; lsyncd p90 ${formatSeconds(peerP90)} (fts/lsyncd ${
      ratio!.toFixed(2)
    }x)`;
  return {
    id: spec.id,
    title: spec.title,
    status: "ran",
    notes,
    contenders,
    ratios: [],
    target: {
      description: spec.target,
      verdict: ok ? "PASS" : "MISS",
      detail: `fts p90 ${formatSeconds(ftsP90)} over ${changes} (max ${
        formatSeconds(contenders[0].summary.max)
      })${anchor}`,
    },
    metrics: {
      changes,
      ftsP90Seconds: ftsP90,
      lsyncdP90Seconds: peerP90,
      p90Ratio: ratio,
    },
  };
}

/**
 * `mirror-restart`: the server is killed with `kill -9`, a file is saved
 * meanwhile, the server starts again on its port; timed from its listening
 * line until the file is in the served folder (the client reconnects and
 * catches up on its own).
 */
export async function mirrorRestartCase(
  ctx: BenchContext,
): Promise<CaseResult> {
  const id = "mirror-restart";
  const title =
    "live mirror: server killed (kill -9) and restarted, a change made meanwhile arrives";
  const target = "≤ 10 s after the restart, every run";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const fts = await FtsLive.start(ctx, id, { "edit.txt": "start" });
  let index = 0;
  try {
    const results = await runAlternating([{
      name: "fts put -r --watch",
      fts: true,
      description:
        "kill -9 of fts serve, a file written, fts serve started on the same port; seconds from its listening line until the file is served",
      prepare: async () => {
        await fts.killServer();
        index++;
        await Deno.writeTextFile(join(fts.src, `down-${index}.txt`), "down");
        await fts.restartServer();
      },
      run: async () => {
        const name = `down-${index}.txt`;
        const ms = await timeUntil(
          `${name} after the restart`,
          () => readOr(join(fts.site, name)) === "down",
        );
        return { seconds: ms / 1000 };
      },
      // Untimed: the client says it reconnected (after the catch-up).
      verify: () =>
        timeUntil(
          "the client's reconnect line",
          () =>
            (fts.clientLog.match(/^reconnected to /gm) ?? []).length >= index,
        ).then(() => {}),
    }], { runs: ctx.config.runs, warmups: 0, log: ctx.log });
    const reconnects = (fts.clientLog.match(/^reconnected to /gm) ?? []).length;
    return slowestRunResult({ id, title, target }, results, 10, {
      runs: `restarts (${reconnects} reconnect lines)`,
      metrics: { reconnects },
    });
  } finally {
    await fts.stop();
  }
}

/** Folders × files of the `mirror-delete-many` tree. */
function deleteShape(ctx: BenchContext): { folders: number; files: number } {
  return ctx.config.quick
    ? { folders: 2, files: 10 }
    : { folders: 1000, files: 100 };
}

/** Writes `folders` × `files` one-byte files under `root/d-N/f-M`. */
async function makeSmallTree(
  root: string,
  shape: { folders: number; files: number },
): Promise<void> {
  const byte = new Uint8Array([120]);
  for (let d = 0; d < shape.folders; d++) {
    const dir = join(root, `d-${d}`);
    await Deno.mkdir(dir, { recursive: true });
    for (let f = 0; f < shape.files; f++) {
      await Deno.writeFile(join(dir, `f-${f}`), byte);
    }
  }
}

/**
 * `mirror-delete-many`: 100,000 files (1,000 folders of 100) deleted at the
 * source; `put -r --delete` makes the served copy follow. Anchor: `rm -rf`
 * of the same folders in the same place, alternating.
 */
export async function mirrorDeleteManyCase(
  ctx: BenchContext,
): Promise<CaseResult> {
  const id = "mirror-delete-many";
  const shape = deleteShape(ctx);
  const count = shape.folders * shape.files;
  const title =
    `${count} files deleted at the source propagated by put -r --delete`;
  const target = "under 60 s";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const src = ctx.path("delete-src");
  const served = ctx.path("delete-served");
  const site = join(served, "site");
  const model = ctx.path("delete-model");
  await freshDir(model);
  ctx.log(`  creating ${count} files`);
  await makeSmallTree(model, shape);
  await Deno.writeTextFile(join(model, "keep.txt"), "keep");
  const server = await ctx.startServer(served, false, 4 * 3600_000);
  try {
    const contenders = deleteContenders(ctx, server, { src, site, model });
    const results = await runAlternating(contenders, {
      runs: ctx.config.quick ? 1 : Math.min(ctx.config.runs, 3),
      warmups: 0,
      log: ctx.log,
    });
    return slowestRunResult({ id, title, target }, results, 60, {
      notes: ["the served copy made with cp -a before each run (untimed)"],
      runs: "runs",
      metrics: { files: count, folders: shape.folders },
    });
  } finally {
    await server.stop();
  }
}

/** Where `mirror-delete-many` works. */
interface DeletePaths {
  /** The source the deletion happens in. */
  src: string;
  /** The served copy. */
  site: string;
  /** The tree both start from. */
  model: string;
}

/**
 * The contenders of `mirror-delete-many`: fts propagating the deletion,
 * and `rm -rf` of the same folders (with peers).
 */
function deleteContenders(
  ctx: BenchContext,
  server: FtsServer,
  { src, site, model }: DeletePaths,
): Contender[] {
  // The served copy and the source start equal (cp -a keeps the times, so
  // there is nothing to send); the source then keeps only keep.txt.
  const copy = async (to: string) => {
    await freshDir(to);
    const done = await run("cp", ["-a", `${model}/.`, to], {
      timeoutMs: 600_000,
    });
    if (!done.success) throw new Error(`cp -a failed: ${done.stderr}`);
  };
  return [
    {
      name: "fts put -r --delete",
      fts: true,
      description: "fts connect ADDR put -r --delete SRC/ site",
      prepare: async () => {
        await copy(site);
        await freshDir(src);
        const kept = await run("cp", ["-a", join(model, "keep.txt"), src], {
          timeoutMs: 60_000,
        });
        if (!kept.success) throw new Error(`cp -a failed: ${kept.stderr}`);
      },
      run: async () => {
        await server.resetPeak();
        const before = await server.cpuSeconds();
        const result = await ftsClient(
          ctx,
          connectArgs(server, ["put", "-r", "--delete", `${src}/`, "site"]),
          600_000,
        );
        const after = await server.cpuSeconds();
        return {
          seconds: result.seconds,
          serverPeakKiB: await server.peakKiB(),
          clientPeakKiB: result.peakKiB,
          clientCpuSeconds: result.cpuSeconds,
          serverCpuSeconds: before !== null && after !== null
            ? after - before
            : null,
        };
      },
      verify: async () => {
        const left = [...Deno.readDirSync(site)].map((e) => e.name);
        if (left.length !== 1 || left[0] !== "keep.txt") {
          throw new Error(`site still holds ${left.length} entries`);
        }
        await Promise.resolve();
      },
    },
    ...(ctx.config.peers
      ? [{
        name: "rm -rf",
        fts: false,
        description: "rm -rf of the same folders of the served copy",
        prepare: () => copy(site),
        run: async () => {
          const folders = [...Deno.readDirSync(site)]
            .filter((e) => e.isDirectory).map((e) => join(site, e.name));
          const result = await run("rm", ["-rf", ...folders], {
            timeoutMs: 600_000,
          });
          if (!result.success) throw new Error(`rm failed: ${result.stderr}`);
          return { seconds: result.seconds };
        },
      }]
      : []),
  ];
}

/**
 * The result of a case whose target is a most number of seconds for every
 * run: PASS when the slowest of fts's measured runs is within `limit`.
 */
function slowestRunResult(
  head: { id: string; title: string; target: string },
  results: ContenderResult[],
  limit: number,
  extra: { notes?: string[]; runs: string; metrics?: CaseResult["metrics"] },
): CaseResult {
  const fts = results[0];
  const worst = fts.summary.n ? fts.summary.max : null;
  return {
    id: head.id,
    title: head.title,
    status: caseStatus(results),
    notes: [...(extra.notes ?? []), ...errorNotes(results)],
    contenders: results,
    ratios: [],
    target: {
      description: head.target,
      verdict: worst === null ? "n/a" : worst <= limit ? "PASS" : "MISS",
      detail: worst === null
        ? "no runs"
        : `max ${formatSeconds(worst)} over ${fts.summary.n} ${extra.runs}`,
    },
    metrics: extra.metrics ?? {},
  };
}
