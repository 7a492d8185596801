/**
 * Shared state of one benchmark run: the configuration (sizes, runs, peers
 * on or off), fts and the peer tools found, the work dir, lazily created test
 * data and the lazily started sshd, plus helpers every case uses to build
 * its result (skipped cases, ratio targets, fts servers).
 *
 * @module
 */

import { basename, join } from "@std/path";
import {
  type Contender,
  contenderResult,
  ratioOf,
  runAlternating,
} from "./alternate.ts";
import {
  makeRandomFile,
  makeTree,
  sha256File,
  type TreeDigest,
  treeDigest,
  type TreeShape,
} from "./files.ts";
import {
  type FtsFeatures,
  type FtsLauncher,
  FtsServer,
  runClient,
  tlsClientFlags,
} from "./fts_runner.ts";
import type {
  CaseResult,
  ContenderResult,
  RatioResult,
  TargetResult,
} from "./model.ts";
import { type PeerTools, SshServer } from "./peers.ts";
import { S3Gateway } from "./s3_gateway.ts";
import { removeQuietly } from "./process.ts";
import { formatBytes, formatRatio } from "./stats.ts";

/** Sizes, counts and switches for one benchmark run. */
export interface BenchConfig {
  /** `--quick`: tiny sizes, one run, no warm-up, no peers. */
  quick: boolean;
  /** Measured runs per contender and case. */
  runs: number;
  /** Warm-up runs per contender and case. */
  warmups: number;
  /** Compare with the peers (nc, scp, rsync, tar | nc). */
  peers: boolean;
  /** Size of the large random file. */
  fileBytes: number;
  /** Shape of the tree of small files. */
  tree: TreeShape;
  /** Number of concurrent clients. */
  clients: number;
  /** Size of each concurrent client's file. */
  clientBytes: number;
  /** Shape of the tree of small files put to S3. */
  s3Tree: TreeShape;
  /** Case ids to run (`--only`); null runs all. */
  only: string[] | null;
}

const MiB = 1024 * 1024;

/** The configuration for a full run or for `--quick`. */
export function makeConfig(
  options: {
    quick: boolean;
    runs?: number;
    peers?: boolean;
    only?: string[] | null;
  },
): BenchConfig {
  if (options.quick) {
    return {
      quick: true,
      runs: options.runs ?? 1,
      warmups: 0,
      peers: options.peers ?? false,
      fileBytes: 4 * MiB,
      tree: { folders: 2, filesPerFolder: 10, fileSize: 4096 },
      clients: 3,
      clientBytes: 1 * MiB,
      s3Tree: { folders: 2, filesPerFolder: 10, fileSize: 4096 },
      only: options.only ?? null,
    };
  }
  return {
    quick: false,
    runs: options.runs ?? 5,
    warmups: 1,
    peers: options.peers ?? true,
    fileBytes: 1024 * MiB,
    tree: { folders: 10, filesPerFolder: 1000, fileSize: 4096 },
    clients: 50,
    clientBytes: 20 * MiB,
    s3Tree: { folders: 10, filesPerFolder: 100, fileSize: 4096 },
    only: options.only ?? null,
  };
}

/** A file of test data with its digest. */
export interface DataFile {
  /** Absolute path. */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** SHA-256, hex. */
  sha256: string;
}

/** State shared by all cases. */
export class BenchContext {
  /** The configuration. */
  readonly config: BenchConfig;
  /** How to run fts, or null when it is not there. */
  readonly launcher: FtsLauncher | null;
  /** What the fts build supports, or null when it is not there. */
  readonly features: FtsFeatures | null;
  /** Peer tools found. */
  readonly tools: PeerTools;
  /** Work dir (a temp dir removed at clean-up). */
  readonly work: string;
  /** Progress output. */
  readonly log: (message: string) => void;
  #bigFile: Promise<DataFile> | null = null;
  #tree: Promise<{ parent: string; dir: string; digest: TreeDigest }> | null =
    null;
  #clientFiles: Promise<DataFile[]> | null = null;
  #ssh: Promise<SshServer> | null = null;
  #s3: Promise<S3Gateway | string> | null = null;

  /** Bundles the run's state. */
  constructor(init: {
    config: BenchConfig;
    launcher: FtsLauncher | null;
    features: FtsFeatures | null;
    tools: PeerTools;
    work: string;
    log: (message: string) => void;
  }) {
    this.config = init.config;
    this.launcher = init.launcher;
    this.features = init.features;
    this.tools = init.tools;
    this.work = init.work;
    this.log = init.log;
  }

  /** Path inside the work dir. */
  path(...parts: string[]): string {
    return join(this.work, ...parts) as string;
  }

  /** The large random file, `data/big.bin`, created on first use. */
  bigFile(): Promise<DataFile> {
    this.#bigFile ??= (async () => {
      const dir = this.path("data");
      await Deno.mkdir(dir, { recursive: true });
      const path = join(dir, "big.bin") as string;
      this.log(`  creating ${formatBytes(this.config.fileBytes)} random file`);
      const sha256 = await makeRandomFile(path, this.config.fileBytes);
      return { path, bytes: this.config.fileBytes, sha256 };
    })();
    return this.#bigFile;
  }

  /** The tree of small files, `trees/tree`, created on first use. */
  tree(): Promise<{ parent: string; dir: string; digest: TreeDigest }> {
    this.#tree ??= (async () => {
      const parent = this.path("trees");
      const dir = join(parent, "tree") as string;
      const shape = this.config.tree;
      this.log(
        `  creating ${shape.folders * shape.filesPerFolder} files of ${
          formatBytes(shape.fileSize)
        }`,
      );
      const digest = await makeTree(dir, shape);
      return { parent, dir, digest };
    })();
    return this.#tree;
  }

  /** One distinct random file per concurrent client, created on first use. */
  clientFiles(): Promise<DataFile[]> {
    this.#clientFiles ??= (async () => {
      const dir = this.path("clients");
      await Deno.mkdir(dir, { recursive: true });
      this.log(
        `  creating ${this.config.clients} files of ${
          formatBytes(this.config.clientBytes)
        }`,
      );
      const files: DataFile[] = [];
      for (let i = 0; i < this.config.clients; i++) {
        const path = join(
          dir,
          `client-${String(i).padStart(3, "0")}.bin`,
        ) as string;
        files.push({
          path,
          bytes: this.config.clientBytes,
          sha256: await makeRandomFile(path, this.config.clientBytes),
        });
      }
      return files;
    })();
    return this.#clientFiles;
  }

  /** The throwaway sshd, started on first use and kept for the whole run. */
  ssh(): Promise<SshServer> {
    this.#ssh ??= (async () => {
      this.log("  starting a throwaway sshd on 127.0.0.1");
      return await SshServer.start(this.tools, 4 * 3600_000);
    })();
    return this.#ssh;
  }

  /**
   * The S3 gateway for the S3 cases, found or started on first use and kept
   * for the whole run (stopped at clean-up if started here); a note saying
   * why there is none otherwise. `--quick` never starts one.
   */
  s3(): Promise<S3Gateway | string> {
    this.#s3 ??= S3Gateway.find(this.log, !this.config.quick);
    return this.#s3;
  }

  /** Stops the sshd if it was started. */
  async stopSsh(): Promise<void> {
    if (!this.#ssh) return;
    try {
      await (await this.#ssh).stop();
    } catch { /* never started */ }
  }

  /** Time limit for moving `bytes` once (generous: 4 MiB/s plus a minute). */
  transferTimeoutMs(bytes: number): number {
    return 60_000 + Math.ceil(bytes / (4 * MiB)) * 1000;
  }

  /** Time limit for moving the tree once (50 ms per file plus a minute). */
  treeTimeoutMs(): number {
    const shape = this.config.tree;
    return 60_000 + shape.folders * shape.filesPerFolder * 50;
  }

  /** Lifetime of a server for a case with `contenders` contenders of at most `perRunMs` each. */
  serverLifetimeMs(contenders: number, perRunMs: number): number {
    return (this.config.runs + this.config.warmups) * contenders * perRunMs +
      300_000;
  }

  /** Runs contenders in alternation with this run's runs and warm-ups. */
  alternate(contenders: Contender[]): Promise<ContenderResult[]> {
    return runAlternating(contenders, {
      runs: this.config.runs,
      warmups: this.config.warmups,
      log: this.log,
    });
  }

  /**
   * Starts an fts server on `dir` (created if needed) for one case, with
   * its HTTP front-end too when `http`.
   */
  async startServer(
    dir: string,
    tls: boolean,
    lifetimeMs: number,
    http = false,
  ): Promise<FtsServer> {
    await Deno.mkdir(dir, { recursive: true });
    const server = await FtsServer.start(this.launcher!, dir, {
      tls,
      lifetimeMs,
      http,
    });
    if (tls) {
      server.clientFlags = tlsClientFlags(
        this.features?.connectHelp ?? "",
        server.extraLines,
      );
    }
    return server;
  }
}

/** A case result for a case that did not run. */
export function skippedCase(
  id: string,
  title: string,
  target: string,
  note: string,
): CaseResult {
  return {
    id,
    title,
    status: "skipped",
    notes: [note],
    contenders: [],
    ratios: [],
    target: { description: target, verdict: "n/a", detail: `skipped: ${note}` },
    metrics: {},
  };
}

/** Why fts cannot run at all, or null when it can. */
export function ftsMissing(ctx: BenchContext): string | null {
  if (!ctx.launcher) return "fts not found (no main.ts and no FTS_BIN)";
  if (!ctx.features?.version) return "`fts --version` failed";
  return null;
}

/**
 * Verdict for "fts time ≤ LIMIT x peer": PASS when the median of the
 * per-pair ratios is at most `limit`. n/a when fts failed (the case is then
 * reported as failed) or the peer did not run.
 */
export function ratioTarget(
  description: string,
  results: ContenderResult[],
  ratio: RatioResult | undefined,
  limit: number,
  missingPeerNote: string,
): TargetResult {
  const fts = results.find((c) => c.fts);
  if (fts && (fts.error !== undefined || fts.summary.n === 0)) {
    return {
      description,
      verdict: "n/a",
      detail: `fts failed: ${fts.error ?? "no runs"}`,
    };
  }
  if (!ratio || ratio.perRun.length === 0) {
    return { description, verdict: "n/a", detail: missingPeerNote };
  }
  const value = ratio.summary.median;
  return {
    description,
    verdict: value <= limit ? "PASS" : "MISS",
    detail: `median ratio ${formatRatio(value)} (per pair ${
      formatRatio(ratio.summary.min)
    }–${formatRatio(ratio.summary.max)}, ${ratio.perRun.length} pairs)`,
  };
}

/** Ratios of the fts contender against every peer that produced samples. */
export function ftsRatios(results: ContenderResult[]): RatioResult[] {
  const fts = results.find((c) => c.fts);
  if (!fts) return [];
  return results.filter((c) => c !== fts).map((peer) => ratioOf(fts, peer))
    .filter((r) => r.perRun.length > 0);
}

/** Status of a case from its contenders: failed when an fts contender failed. */
export function caseStatus(results: ContenderResult[]): "ran" | "failed" {
  return results.some((c) =>
      c.fts && (c.error !== undefined || c.summary.n === 0)
    )
    ? "failed"
    : "ran";
}

/** Notes for contenders that failed. */
export function errorNotes(results: ContenderResult[]): string[] {
  return results.filter((c) => c.error !== undefined).map((c) =>
    `${c.name} failed: ${c.error}`
  );
}

/** The peer a case's target is measured against. */
export interface TargetPeer {
  /** The peer's contender name, or a test of it. */
  peer: string | ((name: string) => boolean);
  /** Most fts/peer ratio that meets the target. */
  limit: number;
  /** Why there is no ratio when the peer did not run. */
  missing: string;
}

/**
 * The result of a case that compares fts with peers: ratios against each,
 * the target's verdict against `against`, and the failed contenders noted.
 */
export function peerCaseResult(
  head: { id: string; title: string; target: string },
  results: ContenderResult[],
  notes: string[],
  against: TargetPeer,
  metrics: CaseResult["metrics"],
): CaseResult {
  const ratios = ftsRatios(results);
  const { peer } = against;
  const matches = typeof peer === "string"
    ? (name: string) => name === peer
    : peer;
  return {
    id: head.id,
    title: head.title,
    status: caseStatus(results),
    notes: [...notes, ...errorNotes(results)],
    contenders: results,
    ratios,
    target: ratioTarget(
      head.target,
      results,
      ratios.find((r) => matches(r.denominator)),
      against.limit,
      against.missing,
    ),
    metrics,
  };
}

/** Throws unless the file at `path` has the expected SHA-256. */
export async function expectFile(
  path: string,
  expected: DataFile,
): Promise<void> {
  let actual: string;
  try {
    actual = await sha256File(path);
  } catch (error) {
    throw new Error(`output ${path} missing: ${(error as Error).message}`);
  }
  if (actual !== expected.sha256) {
    throw new Error(
      `output ${basename(path)} differs from its source (SHA-256)`,
    );
  }
}

/**
 * Throws unless one of `candidates` holds a tree equal to `expected`;
 * returns the one that did (fts may nest the source dir's name or not).
 */
export async function expectTree(
  candidates: string[],
  expected: TreeDigest,
): Promise<string> {
  const seen: string[] = [];
  for (const dir of candidates) {
    try {
      const digest = await treeDigest(dir);
      if (digest.digest === expected.digest) return dir;
      seen.push(`${dir}: ${digest.files} files, ${digest.bytes} bytes`);
    } catch {
      seen.push(`${dir}: missing`);
    }
  }
  throw new Error(
    `tree differs from its source (${expected.files} files, ${expected.bytes} bytes); found ${
      seen.join("; ")
    }`,
  );
}

/**
 * Runs an fts client (through `launcher`, default the context's) and throws
 * when it fails; returns the result.
 */
export async function ftsClient(
  ctx: BenchContext,
  args: string[],
  timeoutMs: number,
  launcher: FtsLauncher = ctx.launcher!,
): Promise<Awaited<ReturnType<typeof runClient>>> {
  const result = await runClient(launcher, args, timeoutMs);
  if (!result.success) {
    throw new Error(
      `fts ${args.join(" ")} ${
        result.timedOut ? "timed out" : `exited ${result.code}`
      }: ${result.stderr.trim().slice(0, 500)}`,
    );
  }
  return result;
}

/** The fts contender's result in a case, if any. */
export function ftsResult(
  result: CaseResult | undefined,
): ContenderResult | undefined {
  return result?.contenders.find((c) => c.fts);
}

/** Removes a path and recreates it as an empty dir. */
export async function freshDir(path: string): Promise<void> {
  await removeQuietly(path);
  await Deno.mkdir(path, { recursive: true });
}

export { contenderResult, removeQuietly };
