/**
 * Delta transfers over a 100 Mbit/s link (a shaped network namespace, see
 * netns.ts): a 256 MiB file whose older version the other side holds,
 * changed in one of the shapes, moved by `fts put`/`fts get` and by
 * `rsync --no-whole-file` (an rsync daemon inside the namespace: no ssh, so
 * its bytes are rsync's own). Bytes on the wire are read from the
 * namespace's loopback counters (`ip -s -j link`, both directions, since
 * every packet on lo is sent once), the same way for both. Each run starts
 * from the old version copied into place, so fts has no record of it and
 * reads it first, as rsync does; "fts, recorded" first lets the server
 * record its version's chunks (the steady state of files kept in step).
 * Targets: bytes ≤ 1.0x rsync.
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender, RunOutcome } from "./alternate.ts";
import { timedClient } from "./cases_file.ts";
import {
  type BenchContext,
  caseStatus,
  errorNotes,
  ftsMissing,
  ftsRatios,
  skippedCase,
} from "./context.ts";
import { makeRandomFile } from "./files.ts";
import { connectArgs, FtsServer } from "./fts_runner.ts";
import type { CaseResult, ContenderResult, TargetResult } from "./model.ts";
import { createShapedNetns, type ShapedNetns } from "./netns.ts";
import { missingNote } from "./peers.ts";
import { run, startBackground } from "./process.ts";
import { formatBytes } from "./stats.ts";

const MiB = 1024 * 1024;

/** How the new version differs from the old one. */
export type DeltaShape = "edits" | "insert" | "append";

const SHAPES: Record<DeltaShape, (size: number) => string> = {
  edits: () => "100 scattered 4 KiB edits",
  insert: () => "one byte inserted at the front",
  append: (size) => `${formatBytes(appended(size))} appended`,
};

/** Bytes appended in the `append` shape: 10 MiB (less for a small file). */
function appended(size: number): number {
  return Math.min(10 * MiB, size / 4);
}

/** Writes the new version of `old` (at `path`) in `shape` to `out`. */
async function writeShape(
  path: string,
  out: string,
  shape: DeltaShape,
  size: number,
): Promise<void> {
  const old = await Deno.readFile(path);
  const random = (n: number) => {
    const bytes = new Uint8Array(n);
    for (let at = 0; at < n; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    return bytes;
  };
  let next: Uint8Array;
  if (shape === "edits") {
    next = old.slice();
    for (let i = 0; i < 100; i++) {
      next.set(random(4096), Math.floor((i + 0.5) * size / 100));
    }
  } else if (shape === "insert") {
    next = new Uint8Array(size + 1);
    next.set(old, 1);
  } else {
    const extra = appended(size);
    next = new Uint8Array(size + extra);
    next.set(old);
    next.set(random(extra), size);
  }
  await Deno.writeFile(out, next);
}

/** Bytes the namespace's loopback has carried so far. */
async function loBytes(ns: ShapedNetns): Promise<number> {
  const result = await run("ip", [
    "-s",
    "-j",
    "-n",
    ns.name,
    "link",
    "show",
    "lo",
  ], {
    timeoutMs: 10_000,
    captureStdout: true,
  });
  const [link] = JSON.parse(result.stdout);
  return link.stats64.tx.bytes;
}

/** Runs `timed`, adding the bytes the link carried meanwhile. */
export async function counted(
  ns: ShapedNetns,
  timed: () => Promise<RunOutcome>,
): Promise<RunOutcome> {
  const before = await loBytes(ns);
  const outcome = await timed();
  const wire = await loBytes(ns) - before;
  return { ...outcome, extra: { ...outcome.extra, wireBytes: wire } };
}

/** An rsync daemon serving `dir` as module `m` inside the namespace. */
async function rsyncDaemon(
  ctx: BenchContext,
  ns: ShapedNetns,
  dir: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const config = join(dir, "..", "rsyncd.conf");
  await Deno.writeTextFile(
    config,
    `use chroot = no\nuid = root\ngid = root\n[m]\npath = ${dir}\nread only = no\n`,
  );
  const port = 20000 + (Deno.pid % 20000);
  const daemon = startBackground("ip", [
    "netns",
    "exec",
    ns.name,
    ctx.tools.rsync!,
    "--daemon",
    "--no-detach",
    "--address=127.0.0.1",
    `--port=${port}`,
    `--config=${config}`,
  ], { timeoutMs: 3_600_000 });
  // Ready once it answers a module listing.
  for (let i = 0; i < 100; i++) {
    const probe = await run("ip", [
      "netns",
      "exec",
      ns.name,
      ctx.tools.rsync!,
      `rsync://127.0.0.1:${port}/`,
    ], { timeoutMs: 5_000 }).catch(() => null);
    if (probe?.success) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `rsync://127.0.0.1:${port}/m`,
    stop: async () => void await daemon.stop(),
  };
}

/** The bytes target: fts's median wire bytes against rsync's. */
function bytesTarget(results: ContenderResult[]): TargetResult {
  const description = "fts bytes on the wire ≤ 1.0x rsync --no-whole-file";
  const median = (c: ContenderResult | undefined) => {
    const values = (c?.samples ?? []).filter((s) => !s.warmup)
      .map((s) => Number(s.extra?.wireBytes)).sort((a, b) => a - b);
    return values.length ? values[Math.floor(values.length / 2)] : null;
  };
  const fts = median(results.find((c) => c.fts));
  const rsync = median(results.find((c) => c.name.startsWith("rsync")));
  if (fts === null || rsync === null) {
    return { description, verdict: "n/a", detail: "a contender did not run" };
  }
  const ratio = fts / rsync;
  return {
    description,
    verdict: ratio <= 1 ? "PASS" : "MISS",
    detail: `fts ${formatBytes(fts)}, rsync ${formatBytes(rsync)}: ${
      ratio.toFixed(2)
    }x`,
  };
}

/** `delta-put-edits`, `delta-put-insert`, `delta-put-append`, `delta-get-edits`. */
export async function deltaCase(
  ctx: BenchContext,
  direction: "put" | "get",
  shape: DeltaShape,
): Promise<CaseResult> {
  const id = `delta-${direction}-${shape}`;
  const size = ctx.config.quick ? 8 * MiB : 256 * MiB;
  const title = `${formatBytes(size)}, ${
    SHAPES[shape](size)
  }, ${direction} over 100 Mbit/s`;
  const target = "fts bytes on the wire ≤ 1.0x rsync --no-whole-file";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  // --quick only checks that the case works: fts alone.
  const rsyncNote = ctx.config.quick || !ctx.config.peers
    ? "peers not run (--quick or --no-peers)"
    : missingNote(ctx.tools, ["rsync"]);
  const ns = await createShapedNetns();
  if (typeof ns === "string") return skippedCase(id, title, target, ns);
  const dir = ctx.path(`delta-${direction}-${shape}`);
  try {
    const remote = join(dir, "remote");
    const local = join(dir, "local");
    await Deno.mkdir(remote, { recursive: true });
    await Deno.mkdir(local, { recursive: true });
    const old = join(dir, "old.bin");
    const next = join(dir, "new.bin");
    ctx.log(`  creating ${formatBytes(size)} and its changed version`);
    await makeRandomFile(old, size);
    await writeShape(old, next, shape, size);
    // put: the server holds the old version; get: the client does.
    const [oldAt, newAt] = direction === "put"
      ? [join(remote, "f"), next]
      : [join(local, "f"), join(remote, "new")];
    if (direction === "get") await Deno.copyFile(next, newAt);
    const launcher = ns.wrap(ctx.launcher!);
    const timeout = 600_000;
    const server = await FtsServer.start(launcher, remote, {
      tls: false,
      lifetimeMs: ctx.serverLifetimeMs(2, timeout),
    });
    const daemon = rsyncNote ? null : await rsyncDaemon(ctx, ns, remote);
    try {
      const prepare = () => Deno.copyFile(old, oldAt);
      const verify = async () => {
        const [a, b] = await Promise.all([
          Deno.readFile(oldAt),
          Deno.readFile(next),
        ]);
        if (a.byteLength !== b.byteLength || !a.every((x, i) => x === b[i])) {
          throw new Error("the result differs from the new version");
        }
      };
      const ftsArgs = direction === "put"
        ? connectArgs(server, ["put", next, "f"])
        : connectArgs(server, ["get", "new", oldAt]);
      const url = daemon?.url ?? "";
      const rsyncArgs = direction === "put"
        ? ["--no-whole-file", next, `${url}/f`]
        : ["--no-whole-file", `${url}/new`, oldAt];
      const ftsRun = () =>
        counted(ns, () => timedClient(ctx, server, ftsArgs, timeout, launcher));
      // The steady state: the server has the chunks of the version it holds
      // on record (a delta against itself records them).
      const recordArgs = direction === "put"
        ? connectArgs(server, ["put", old, "f"])
        : connectArgs(server, ["put", next, "new"]);
      const contenders: Contender[] = [
        {
          name: "fts",
          fts: true,
          description: `${launcher.description} ${ftsArgs.join(" ")}`,
          prepare,
          run: ftsRun,
          verify,
        },
      ];
      if (!ctx.config.quick) {
        contenders.push(
          {
            name: "fts, recorded",
            fts: false,
            description: `as fts, after an untimed ${
              recordArgs.join(" ")
            } that records the server's chunks`,
            prepare: async () => {
              await prepare();
              await timedClient(ctx, server, recordArgs, timeout, launcher);
            },
            run: ftsRun,
            verify,
          },
        );
      }
      if (daemon) {
        contenders.push(
          {
            name: "rsync --no-whole-file",
            fts: false,
            description: `rsync ${
              rsyncArgs.join(" ")
            } (daemon in the namespace)`,
            prepare,
            run: () =>
              counted(ns, async () => {
                const result = await run("ip", [
                  "netns",
                  "exec",
                  ns.name,
                  ctx.tools.rsync!,
                  ...rsyncArgs,
                ], { timeoutMs: timeout });
                if (!result.success) throw new Error(result.stderr.trim());
                return { seconds: result.seconds };
              }),
            verify,
          },
        );
      }
      const results = await ctx.alternate(contenders);
      return {
        id,
        title,
        status: caseStatus(results),
        notes: [
          `link: loopback of network namespace ${ns.name}, tc tbf rate ${ns.rate}`,
          ...(rsyncNote ? [`rsync: ${rsyncNote}`] : []),
          "bytes: the namespace's lo tx counter around each run (extra.wireBytes)",
          ...errorNotes(results),
        ],
        contenders: results,
        ratios: ftsRatios(results),
        target: bytesTarget(results),
        metrics: { bytes: size },
      };
    } finally {
      await daemon?.stop();
      await server.stop();
    }
  } finally {
    await ns.remove();
  }
}
