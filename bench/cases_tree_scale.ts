/**
 * Trees at scale (issues 21 and 22): 100,000 one-line files in 1,000 folders
 * moved with `fts put -r` (a first copy, and a rerun with nothing to send)
 * against `rsync -a` over the throwaway sshd, with the server's peak memory;
 * and the quick check of a mirror over 200,000 files in 20,000 folders
 * (`put -r --delete -n` with nothing to do) against `rsync -a -n --delete`.
 * The trees are built once per run (`trees/`, in the benchmark's tmpfs
 * when it mounted one).
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender } from "./alternate.ts";
import {
  type BenchContext,
  expectTree,
  ftsMissing,
  peerCaseResult,
  removeQuietly,
  skippedCase,
} from "./context.ts";
import { timedClient } from "./cases_file.ts";
import { connectArgs, type FtsServer } from "./fts_runner.ts";
import { type TreeDigest, treeDigest } from "./files.ts";
import type { CaseResult } from "./model.ts";
import { missingNote, rsyncPut, type SshServer } from "./peers.ts";

/** Folders and one-line files per folder of a scale tree. */
interface ScaleShape {
  folders: number;
  files: number;
}

function shapes(ctx: BenchContext): { copy: ScaleShape; check: ScaleShape } {
  return ctx.config.quick
    ? { copy: { folders: 3, files: 5 }, check: { folders: 4, files: 3 } }
    : {
      copy: { folders: 1_000, files: 100 },
      check: { folders: 20_000, files: 10 },
    };
}

const built = new Map<string, Promise<{ dir: string; digest: TreeDigest }>>();

/** `trees/NAME`, built on first use: one line per file, synchronous writes. */
function scaleTree(
  ctx: BenchContext,
  name: string,
  shape: ScaleShape,
): Promise<{ dir: string; digest: TreeDigest }> {
  const dir = ctx.path("trees", name);
  let tree = built.get(dir);
  if (!tree) {
    tree = (async () => {
      ctx.log(
        `  creating ${
          (shape.folders * shape.files).toLocaleString("en-US")
        } one-line files in ${shape.folders} folders`,
      );
      const encoder = new TextEncoder();
      for (let d = 0; d < shape.folders; d++) {
        const folder = join(dir, `d${String(d).padStart(5, "0")}`) as string;
        Deno.mkdirSync(folder, { recursive: true });
        for (let f = 0; f < shape.files; f++) {
          Deno.writeFileSync(
            `${folder}/f${String(f).padStart(3, "0")}.txt`,
            encoder.encode(`line ${d} ${f}\n`),
          );
        }
      }
      return { dir, digest: await treeDigest(dir) };
    })();
    built.set(dir, tree);
  }
  return tree;
}

/** The count of a shape, written out. */
function count(shape: ScaleShape): string {
  return (shape.folders * shape.files).toLocaleString("en-US");
}

/** The sshd for rsync, or a note saying why there is none. */
async function sshFor(ctx: BenchContext): Promise<SshServer | string> {
  if (!ctx.config.peers) {
    return ctx.config.quick
      ? "peers skipped in --quick"
      : "peers skipped (--no-peers)";
  }
  const missing = missingNote(ctx.tools, ["rsync", "ssh", "sshd", "sshKeygen"]);
  if (missing) return `rsync: ${missing}`;
  try {
    return await ctx.ssh();
  } catch (error) {
    return `rsync: ${(error as Error).message}`;
  }
}

/** Runs `cp -a from to` (the target of a quick check, made once). */
async function copyTree(from: string, to: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("cp", {
    args: ["-a", from, to],
    stderr: "piped",
  }).output();
  if (!success) throw new Error(new TextDecoder().decode(stderr).trim());
}

/** What a scale case sets up before its runs. */
interface ScaleRun {
  server: FtsServer;
  tree: { dir: string; digest: TreeDigest };
  served: string;
  timeout: number;
  /** The sshd for rsync, or why there is none. */
  ssh: SshServer | string;
}

/**
 * Builds (once) the tree `name` of `shape`, serves an empty folder, lets
 * `contenders` say who runs, alternates them and sums up against rsync.
 */
async function runScale(
  ctx: BenchContext,
  head: { id: string; title: string; target: string },
  name: string,
  shape: ScaleShape,
  contenders: (run: ScaleRun) => Promise<Contender[]>,
): Promise<CaseResult> {
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(head.id, head.title, head.target, missing);
  const tree = await scaleTree(ctx, name, shape);
  const timeout = 60_000 + shape.folders * shape.files;
  const served = ctx.path(`srv-${head.id}`);
  await Deno.mkdir(served, { recursive: true });
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(2, timeout),
  );
  try {
    const ssh = await sshFor(ctx);
    const notes = typeof ssh === "string" ? [ssh] : [];
    const who = await contenders({ server, tree, served, timeout, ssh });
    const results = await ctx.alternate(who);
    return peerCaseResult(head, results, notes, {
      peer: (name) => name.startsWith("rsync"),
      limit: 1.0,
      missing: notes[0] ?? "rsync did not run",
    }, { files: tree.digest.files, bytes: tree.digest.bytes });
  } finally {
    await server.stop();
    await removeQuietly(served);
  }
}

/**
 * `fts put -r` of the 100,000-file tree into an empty folder (`first`), or
 * again onto a complete copy (`rerun`: nothing to send), against `rsync -a`
 * doing the same over ssh.
 */
export function scalePutCase(
  ctx: BenchContext,
  kind: "first" | "rerun",
): Promise<CaseResult> {
  const shape = shapes(ctx).copy;
  const id = kind === "first" ? "tree-100k-put" : "tree-100k-rerun";
  const title = kind === "first"
    ? `${count(shape)} one-line files (${shape.folders} folders), put -r`
    : `${count(shape)} one-line files, put -r again, nothing to send`;
  const target = "fts time ≤ 1.0x rsync -a over ssh";
  const clear = kind === "first";
  return runScale(ctx, { id, title, target }, "scale-copy", shape, async (
    { server, tree, served, timeout, ssh },
  ) => {
    const out = join(served, "copy") as string;
    const rsyncOut = ctx.path(`rsync-${id}`);
    const args = connectArgs(server, ["put", "-r", `${tree.dir}/`, "copy"]);
    if (!clear) {
      await timedClient(ctx, server, args, timeout);
      if (typeof ssh !== "string") {
        await rsyncPut(ctx.tools, ssh, tree.dir, rsyncOut, timeout);
      }
    }
    const contenders: Contender[] = [{
      name: "fts",
      fts: true,
      description: `fts ${args.join(" ")}`,
      prepare: () => clear ? removeQuietly(out) : Promise.resolve(),
      run: () => timedClient(ctx, server, args, timeout),
      verify: () => expectTree([out], tree.digest).then(() => {}),
    }];
    if (typeof ssh === "string") return contenders;
    return [...contenders, {
      name: "rsync -a over ssh",
      fts: false,
      description: 'rsync -a -e "ssh -p PORT -i KEY ..." src/ 127.0.0.1:dst/',
      prepare: () => clear ? removeQuietly(rsyncOut) : Promise.resolve(),
      run: async () => ({
        seconds: await rsyncPut(ctx.tools, ssh, tree.dir, rsyncOut, timeout),
      }),
      verify: () => expectTree([rsyncOut], tree.digest).then(() => {}),
    }];
  });
}

/**
 * A mirror's first pass over 200,000 files in 20,000 folders with nothing
 * to do: `fts put -r --delete -n` against `rsync -a -n --delete`, both onto
 * the same complete copy (a dry run changes nothing).
 */
export function scaleCheckCase(ctx: BenchContext): Promise<CaseResult> {
  const shape = shapes(ctx).check;
  const id = "tree-200k-check";
  const title = `${count(shape)} files in ${
    shape.folders.toLocaleString("en-US")
  } folders, quick check of a mirror (put -r --delete -n), nothing to do`;
  const target = "fts time ≤ 1.0x rsync -a -n --delete over ssh";
  return runScale(ctx, { id, title, target }, "scale-check", shape, async (
    { server, tree, served, timeout, ssh },
  ) => {
    const copy = join(served, "copy") as string;
    await copyTree(tree.dir, copy);
    const args = connectArgs(server, [
      "put",
      "-r",
      "--delete",
      "-n",
      `${tree.dir}/`,
      "copy",
    ]);
    const contenders: Contender[] = [{
      name: "fts",
      fts: true,
      description: `fts ${args.join(" ")}`,
      run: () => timedClient(ctx, server, args, timeout),
    }];
    if (typeof ssh === "string") return contenders;
    return [...contenders, {
      name: "rsync -a -n --delete over ssh",
      fts: false,
      description:
        'rsync -a -n --delete -e "ssh -p PORT -i KEY ..." src/ 127.0.0.1:dst/',
      run: async () => ({
        seconds: await rsyncPut(ctx.tools, ssh, tree.dir, copy, timeout, [
          "-n",
          "--delete",
        ]),
      }),
    }];
  });
}
