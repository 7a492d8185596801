/**
 * S3 cases: `fts serve s3://BUCKET/fts` on the local gateway (see
 * `s3_gateway.ts`) against `s3cmd` moving the same data to and from the
 * gateway directly. The large file is put and got (target ≤ 1.2x s3cmd),
 * and a tree of small files is put with `put -r` against `s3cmd sync`
 * (target ≤ 1.0x).
 *
 * Each run's gateway CPU (radosgw and the OSD, when the cluster folder is
 * known) is kept beside the fts server's and client's, so the report shows
 * which side bounds a case.
 *
 * @module
 */

import type { Contender, RunOutcome } from "./alternate.ts";
import { timedClient } from "./cases_file.ts";
import {
  type BenchContext,
  type DataFile,
  expectFile,
  ftsMissing,
  peerCaseResult,
  removeQuietly,
  skippedCase,
} from "./context.ts";
import { makeTree, type TreeDigest } from "./files.ts";
import { run } from "./process.ts";
import { connectArgs, FtsServer } from "./fts_runner.ts";
import type { CaseResult, ContenderResult } from "./model.ts";
import type { S3Gateway } from "./s3_gateway.ts";
import { formatBytes, median } from "./stats.ts";

/** The prefix fts serves in each case's bucket. */
const PREFIX = "fts";

/** What every S3 case sets up: a gateway, a bucket and an fts server on it. */
interface S3Setup {
  gateway: S3Gateway;
  bucket: string;
  server: FtsServer;
}

/**
 * Runs `body` with a fresh bucket and `fts serve s3://BUCKET/fts`, or returns
 * a skipped case when fts or the gateway is missing.
 */
async function withS3(
  ctx: BenchContext,
  head: { id: string; title: string; target: string },
  contenders: number,
  perRunMs: number,
  body: (setup: S3Setup) => Promise<CaseResult>,
): Promise<CaseResult> {
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(head.id, head.title, head.target, missing);
  const gateway = await ctx.s3();
  if (typeof gateway === "string") {
    return skippedCase(
      head.id,
      head.title,
      head.target,
      `no S3 gateway: ${gateway}`,
    );
  }
  const bucket = await gateway.bucket();
  let server: FtsServer | null = null;
  try {
    server = await FtsServer.start(
      ctx.launcher!,
      `s3://${bucket}/${PREFIX}`,
      {
        tls: false,
        lifetimeMs: ctx.serverLifetimeMs(contenders, perRunMs),
        env: gateway.awsEnv(),
      },
    );
    return await body({ gateway, bucket, server });
  } finally {
    await server?.stop();
    await gateway.removeBucket(bucket);
  }
}

/** Adds the gateway's CPU seconds during `run` to its outcome. */
function withGatewayCpu(
  gateway: S3Gateway,
  run: () => Promise<RunOutcome>,
): () => Promise<RunOutcome> {
  return async () => {
    const before = await gateway.cpuSeconds();
    const outcome = await run();
    const after = await gateway.cpuSeconds();
    return {
      ...outcome,
      extra: {
        ...outcome.extra,
        gatewayCpuSeconds: before === null || after === null
          ? null
          : after - before,
      },
    };
  };
}

/** Median gateway CPU seconds of each contender's measured runs. */
function gatewayCpuMetrics(
  results: ContenderResult[],
): Record<string, number | null> {
  const metrics: Record<string, number | null> = {};
  for (const contender of results) {
    const values = contender.samples
      .filter((s) => !s.warmup)
      .map((s) => s.extra?.gatewayCpuSeconds)
      .filter((v): v is number => typeof v === "number");
    metrics[`gatewayCpuSeconds ${contender.name}`] = values.length
      ? Number(median(values).toFixed(2))
      : null;
  }
  return metrics;
}

/** One line per contender: wall, and CPU of fts server, client and gateway. */
function boundNote(results: ContenderResult[]): string {
  const parts = results.map((c) => {
    const gateway = gatewayCpuMetrics([c])[`gatewayCpuSeconds ${c.name}`];
    const cpu = [
      c.serverCpu ? `fts server ${c.serverCpu.median.toFixed(1)} s` : null,
      c.clientCpu ? `client ${c.clientCpu.median.toFixed(1)} s` : null,
      gateway === null ? null : `gateway ${gateway.toFixed(1)} s`,
    ].filter((part) => part !== null);
    return `${c.name}: ${c.summary.median.toFixed(2)} s wall${
      cpu.length ? `, CPU ${cpu.join(", ")}` : ""
    }`;
  });
  return `median per run: ${parts.join("; ")} (2 cores)`;
}

/** Throws unless `fts hash NAME` through `server` gives the file's SHA-256. */
async function expectObject(
  ctx: BenchContext,
  server: FtsServer,
  name: string,
  file: DataFile,
): Promise<void> {
  const launcher = ctx.launcher!;
  const result = await run(
    launcher.command,
    [...launcher.prefix, ...connectArgs(server, ["hash", name])],
    { timeoutMs: ctx.transferTimeoutMs(file.bytes), captureStdout: true },
  );
  const digest = result.stdout.trim().split(/\s+/)[0];
  if (!result.success) {
    throw new Error(`fts hash ${name} failed: ${result.stderr.trim()}`);
  }
  if (digest !== file.sha256) {
    throw new Error(`the object ${name} differs from its source (SHA-256)`);
  }
}

/** Builds the case result for an fts-versus-s3cmd comparison. */
function s3Result(
  head: { id: string; title: string; target: string },
  results: ContenderResult[],
  limit: number,
  gateway: S3Gateway,
  metrics: Record<string, number | string | boolean | null>,
): CaseResult {
  return peerCaseResult(
    head,
    results,
    [`gateway: ${gateway.origin}`, boundNote(results)],
    {
      peer: (name) => name.startsWith("s3cmd"),
      limit,
      missing: "s3cmd did not run",
    },
    { ...metrics, ...gatewayCpuMetrics(results) },
  );
}

/** Untimed steps around each run of a contender. */
interface Checks {
  prepare: () => Promise<void>;
  verify: () => Promise<void>;
}

/**
 * The fts contender: `fts connect SERVER COMMAND` (built anew for each run)
 * through the S3-served server, with the gateway's CPU.
 */
function ftsContender(
  ctx: BenchContext,
  setup: S3Setup,
  command: () => string[],
  timeout: number,
  checks: Checks,
): Contender {
  const { gateway, server } = setup;
  return {
    name: "fts",
    fts: true,
    description: `fts ${
      connectArgs(server, command()).join(" ")
    } (server: fts serve s3://BUCKET/${PREFIX})`,
    ...checks,
    run: withGatewayCpu(
      gateway,
      () => timedClient(ctx, server, connectArgs(server, command()), timeout),
    ),
  };
}

/** The s3cmd contender: `s3cmd ARGS` (built anew for each run), with the gateway's CPU. */
function s3cmdContender(
  gateway: S3Gateway,
  name: string,
  args: () => string[],
  timeout: number,
  checks: Checks,
): Contender {
  return {
    name,
    fts: false,
    description: gateway.describe(args()),
    ...checks,
    run: withGatewayCpu(gateway, async () => ({
      seconds: await gateway.s3cmdOk(args(), timeout),
    })),
  };
}

/** `<size> random file, put to S3`: fts put against `s3cmd put`. */
export async function s3PutFileCase(ctx: BenchContext): Promise<CaseResult> {
  const head = {
    id: "s3-put-file",
    title: `${formatBytes(ctx.config.fileBytes)} random file, put to S3`,
    target: "fts time ≤ 1.2x s3cmd put",
  };
  const file = await ctx.bigFile();
  const timeout = ctx.transferTimeoutMs(file.bytes);
  return await withS3(ctx, head, 2, timeout, async (setup) => {
    const { gateway, bucket, server } = setup;
    const contenders = [
      ftsContender(ctx, setup, () => ["put", file.path, "put.bin"], timeout, {
        prepare: () => gateway.collectGarbage(),
        verify: () => expectObject(ctx, server, "put.bin", file),
      }),
    ];
    if (ctx.config.peers) {
      contenders.push(s3cmdContender(
        gateway,
        "s3cmd put",
        () => ["put", file.path, `s3://${bucket}/${PREFIX}/s3cmd-put.bin`],
        timeout,
        {
          prepare: () => gateway.collectGarbage(),
          verify: () => expectObject(ctx, server, "s3cmd-put.bin", file),
        },
      ));
    }
    const results = await ctx.alternate(contenders);
    return s3Result(head, results, 1.2, gateway, { bytes: file.bytes });
  });
}

/** `<size> random file, get from S3`: fts get against `s3cmd get`. */
export async function s3GetFileCase(ctx: BenchContext): Promise<CaseResult> {
  const head = {
    id: "s3-get-file",
    title: `${formatBytes(ctx.config.fileBytes)} random file, get from S3`,
    target: "fts time ≤ 1.2x s3cmd get",
  };
  const file = await ctx.bigFile();
  const timeout = ctx.transferTimeoutMs(file.bytes);
  return await withS3(ctx, head, 2, timeout, async (setup) => {
    const { gateway, bucket } = setup;
    const object = `s3://${bucket}/${PREFIX}/big.bin`;
    ctx.log(`  putting ${formatBytes(file.bytes)} into ${object} with s3cmd`);
    await gateway.s3cmdOk(["put", file.path, object], timeout);
    const out = ctx.path("s3-fts-get.bin");
    const contenders = [
      ftsContender(ctx, setup, () => ["get", "big.bin", out], timeout, {
        prepare: () => removeQuietly(out),
        verify: () => expectFile(out, file),
      }),
    ];
    if (ctx.config.peers) {
      const s3cmdOut = ctx.path("s3cmd-get.bin");
      contenders.push(s3cmdContender(
        gateway,
        "s3cmd get",
        () => ["get", "--force", object, s3cmdOut],
        timeout,
        {
          prepare: () => removeQuietly(s3cmdOut),
          verify: () => expectFile(s3cmdOut, file),
        },
      ));
    }
    const results = await ctx.alternate(contenders);
    return s3Result(head, results, 1.2, gateway, { bytes: file.bytes });
  });
}

/**
 * Throws unless s3cmd lists exactly the tree's files (count and bytes) under
 * `s3://bucket/prefix/`.
 */
async function expectTreeObjects(
  gateway: S3Gateway,
  uri: string,
  digest: TreeDigest,
): Promise<void> {
  const listing = await gateway.s3cmd(["ls", "-r", uri], 120_000);
  if (!listing.success) throw new Error(`s3cmd ls -r ${uri} failed`);
  const objects = listing.stdout.split("\n").filter((line) =>
    line.includes("s3://") && !line.trimEnd().endsWith("/")
  );
  const bytes = objects.reduce(
    (sum, line) => sum + Number(line.trim().split(/\s+/)[2]),
    0,
  );
  if (objects.length !== digest.files || bytes !== digest.bytes) {
    throw new Error(
      `${uri} holds ${objects.length} objects of ${bytes} bytes, not ${digest.files} of ${digest.bytes}`,
    );
  }
}

/** `1,000 files of 4 KiB, put -r to S3`: fts put -r against `s3cmd sync`. */
export async function s3TreePutCase(ctx: BenchContext): Promise<CaseResult> {
  const shape = ctx.config.s3Tree;
  const files = shape.folders * shape.filesPerFolder;
  const head = {
    id: "s3-tree-put",
    title: `${files.toLocaleString("en-US")} files of ${
      formatBytes(shape.fileSize)
    } (${shape.folders} folders), put -r to S3`,
    target: "fts time ≤ 1.0x s3cmd sync",
  };
  const timeout = 60_000 + files * 200;
  return await withS3(ctx, head, 2, timeout, async (setup) => {
    const { gateway, bucket } = setup;
    const tree = ctx.path("s3-tree");
    ctx.log(`  creating ${files} files of ${formatBytes(shape.fileSize)}`);
    const digest = await makeTree(tree, shape);
    // Every run goes to a new folder, so each starts from an empty target.
    let ftsRun = 0;
    let s3cmdRun = 0;
    const contenders = [
      ftsContender(
        ctx,
        setup,
        () => ["put", "-r", tree, `fts-${ftsRun}`],
        timeout,
        {
          prepare: () => Promise.resolve(void ftsRun++),
          verify: () =>
            expectTreeObjects(
              gateway,
              `s3://${bucket}/${PREFIX}/fts-${ftsRun}/`,
              digest,
            ),
        },
      ),
    ];
    if (ctx.config.peers) {
      contenders.push(s3cmdContender(
        gateway,
        "s3cmd sync",
        () => [
          "sync",
          `${tree}/`,
          `s3://${bucket}/${PREFIX}/s3cmd-${s3cmdRun}/`,
        ],
        timeout,
        {
          prepare: () => Promise.resolve(void s3cmdRun++),
          verify: () =>
            expectTreeObjects(
              gateway,
              `s3://${bucket}/${PREFIX}/s3cmd-${s3cmdRun}/`,
              digest,
            ),
        },
      ));
    }
    const results = await ctx.alternate(contenders);
    return s3Result(head, results, 1.0, gateway, {
      files: digest.files,
      bytes: digest.bytes,
    });
  });
}
