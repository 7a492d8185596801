/**
 * The durable cases, on disk whatever `--disk` says: a large file put and
 * got into a folder on disk against `nc` followed by `sync FILE`, and the
 * tree of small files put and got against `rsync -a` over ssh and `rsync -a
 * --fsync` (rsync's durable mode, which fts always has). Sources stay in the
 * work folder (tmpfs when mounted: reading them costs every contender the
 * same); only what each contender writes lands on disk.
 *
 * This disk's synced writes swing from 0.8 to 4 s per GiB with dirty-page
 * writeback (../shared/field-notes.md), so these cases run at most
 * {@linkcode DISK_RUNS} rounds, without warm-up, and each output is removed
 * and synced away before the next run.
 *
 * @module
 */

import { join } from "@std/path";
import { type Contender, runAlternating } from "./alternate.ts";
import {
  type BenchContext,
  expectFile,
  expectTree,
  ftsMissing,
  peerCaseResult,
  removeQuietly,
  skippedCase,
} from "./context.ts";
import { timedClient } from "./cases_file.ts";
import { connectArgs } from "./fts_runner.ts";
import type { CaseResult, ContenderResult } from "./model.ts";
import { missingNote, ncSynced, rsyncGet, rsyncPut } from "./peers.ts";
import { makeTempDir, run } from "./process.ts";
import { formatBytes } from "./stats.ts";

type Direction = "put" | "get";

/** Rounds per disk case at most. */
const DISK_RUNS = 3;

/** A folder on disk for this run's durable outputs, made on first use. */
let diskDir: Promise<{ dir: string; note: string | null }> | null = null;

function disk(): Promise<{ dir: string; note: string | null }> {
  diskDir ??= (async () => {
    const dir = await makeTempDir("fts-bench-disk-");
    const kind = await run("stat", ["-f", "-c", "%T", dir], {
      timeoutMs: 5000,
      captureStdout: true,
    });
    const type = kind.stdout.trim();
    return {
      dir,
      note: type === "tmpfs" || type === "ramfs"
        ? `TMPDIR is on ${type}: these cases did not touch a disk`
        : null,
    };
  })();
  return diskDir;
}

/** Removes `path` and syncs its file system, so the next run starts level. */
async function removeSynced(path: string): Promise<void> {
  await removeQuietly(path);
  await run("sync", ["-f", join(path, "..") as string], { timeoutMs: 120_000 });
}

function alternateFew(
  ctx: BenchContext,
  contenders: Contender[],
): Promise<ContenderResult[]> {
  return runAlternating(contenders, {
    runs: Math.min(ctx.config.runs, DISK_RUNS),
    warmups: 0,
    log: ctx.log,
  });
}

/** `put-file-disk` / `get-file-disk`: fts (durable) against nc + sync. */
export async function diskFileCase(
  ctx: BenchContext,
  direction: Direction,
): Promise<CaseResult> {
  const id = `${direction}-file-disk`;
  const title = `${
    formatBytes(ctx.config.fileBytes)
  } random file, ${direction}, on disk, durable`;
  const target = "fts time ≤ 1.0x nc + sync of the file";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const file = await ctx.bigFile();
  const { dir, note: diskNote } = await disk();
  const timeout = ctx.transferTimeoutMs(file.bytes);
  // put: a served folder on disk receives; get: the data dir is served and
  // the client writes to disk.
  const served = direction === "put"
    ? join(dir, "srv-put") as string
    : ctx.path("data");
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(2, timeout),
  );
  const notes: string[] = diskNote ? [diskNote] : [];
  try {
    const out = direction === "put"
      ? join(served, "disk.bin") as string
      : join(dir, "fts-get.bin") as string;
    const args = connectArgs(
      server,
      direction === "put"
        ? ["put", file.path, "disk.bin"]
        : ["get", "big.bin", out],
    );
    const contenders: Contender[] = [{
      name: "fts",
      fts: true,
      description: `fts ${args.join(" ")}`,
      prepare: () => removeSynced(out),
      run: () => timedClient(ctx, server, args, timeout),
      verify: () => expectFile(out, file),
    }];
    const peerMissing = ctx.config.peers
      ? missingNote(ctx.tools, ["nc"])
      : "peers skipped";
    if (peerMissing) notes.push(`nc: ${peerMissing}`);
    else {
      const ncOut = join(dir, `nc-${direction}.bin`) as string;
      contenders.push({
        name: "nc + sync",
        fts: false,
        description: direction === "put"
          ? "nc -l 127.0.0.1 PORT > out && sync out; nc -N 127.0.0.1 PORT < in"
          : "nc -N -l 127.0.0.1 PORT < in; nc -d 127.0.0.1 PORT > out && sync out",
        prepare: () => removeSynced(ncOut),
        run: async () => ({
          seconds: await ncSynced(
            ctx.tools,
            direction,
            file.path,
            ncOut,
            timeout,
          ),
        }),
        verify: () => expectFile(ncOut, file),
      });
    }
    const results = await alternateFew(ctx, contenders);
    await removeQuietly(out);
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: "nc + sync",
      limit: 1.0,
      missing: notes.find((n) => n.startsWith("nc")) ?? "nc did not run",
    }, { bytes: file.bytes, disk: dir });
  } finally {
    await server.stop();
  }
}

/** `tree-put-disk` / `tree-get-disk`: fts against rsync -a and rsync -a --fsync. */
export async function diskTreeCase(
  ctx: BenchContext,
  direction: Direction,
): Promise<CaseResult> {
  const id = `tree-${direction}-disk`;
  const shape = ctx.config.tree;
  const title = `${
    (shape.folders * shape.filesPerFolder).toLocaleString("en-US")
  } files of ${formatBytes(shape.fileSize)}, ${direction} -r, on disk`;
  const target = "fts time ≤ 1.0x rsync -a over ssh";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  if (!ctx.features?.recursive) {
    return skippedCase(id, title, target, "`fts connect --help` has no -r");
  }
  const tree = await ctx.tree();
  const { dir, note: diskNote } = await disk();
  const timeout = ctx.treeTimeoutMs();
  const served = direction === "put"
    ? join(dir, "srv-tree-put") as string
    : tree.parent;
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(3, timeout),
  );
  const notes: string[] = diskNote ? [diskNote] : [];
  try {
    const out = direction === "put"
      ? join(served, "uploaded") as string
      : join(dir, "fts-tree-get") as string;
    const args = connectArgs(
      server,
      direction === "put"
        ? ["put", "-r", tree.dir, "uploaded"]
        : ["get", "-r", "tree", out],
    );
    const contenders: Contender[] = [{
      name: "fts",
      fts: true,
      description: `fts ${args.join(" ")}`,
      prepare: () => removeSynced(out),
      run: () => timedClient(ctx, server, args, timeout),
      verify: async () => {
        await expectTree([out, join(out, "tree") as string], tree.digest);
      },
    }];
    let rsyncNote = ctx.config.peers
      ? missingNote(ctx.tools, ["rsync", "ssh", "sshd", "sshKeygen"])
      : "peers skipped";
    if (!rsyncNote) {
      try {
        const ssh = await ctx.ssh();
        for (const flags of [[], ["--fsync"]]) {
          const name = `rsync -a ${flags.join(" ")}`.trim();
          const rsyncOut = join(
            dir,
            `rsync${flags.join("")}-tree-${direction}`,
          ) as string;
          contenders.push({
            name,
            fts: false,
            description: `${name} -e "ssh -p PORT -i KEY ..." ${
              direction === "put"
                ? "src/ 127.0.0.1:dst/"
                : "127.0.0.1:src/ dst/"
            }`,
            prepare: () => removeSynced(rsyncOut),
            run: async () => ({
              seconds: await (direction === "put" ? rsyncPut : rsyncGet)(
                ctx.tools,
                ssh,
                tree.dir,
                rsyncOut,
                timeout,
                flags,
              ),
            }),
            verify: async () => {
              await expectTree([rsyncOut], tree.digest);
            },
          });
        }
      } catch (error) {
        rsyncNote = (error as Error).message;
      }
    }
    if (rsyncNote) notes.push(`rsync: ${rsyncNote}`);
    const results = await alternateFew(ctx, contenders);
    await removeQuietly(out);
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: "rsync -a",
      limit: 1.0,
      missing: rsyncNote ?? "rsync did not run",
    }, { files: tree.digest.files, bytes: tree.digest.bytes });
  } finally {
    await server.stop();
  }
}
