/**
 * Tree cases: many small files moved with `fts put -r` and `fts get -r`,
 * against `rsync -a` over the throwaway sshd (the target) and `tar c | nc`
 * into `tar x` (for reference). Every run starts from an empty destination.
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender } from "./alternate.ts";
import {
  type BenchContext,
  expectTree,
  freshDir,
  ftsClient,
  ftsMissing,
  peerCaseResult,
  removeQuietly,
  skippedCase,
} from "./context.ts";
import { connectArgs } from "./fts_runner.ts";
import type { CaseResult } from "./model.ts";
import {
  missingNote,
  rsyncGet,
  rsyncPut,
  type SshServer,
  tarNcGet,
  tarNcPut,
} from "./peers.ts";
import { formatBytes } from "./stats.ts";

type Direction = "put" | "get";

function treeTitle(ctx: BenchContext, direction: Direction): string {
  const shape = ctx.config.tree;
  const files = shape.folders * shape.filesPerFolder;
  return `${files.toLocaleString("en-US")} files of ${
    formatBytes(shape.fileSize)
  } (${shape.folders} folders of ${
    shape.filesPerFolder.toLocaleString("en-US")
  }), ${direction} -r`;
}

/** Tree put (`fts put -r`) or get (`fts get -r`) against rsync and tar | nc. */
export async function treeCase(
  ctx: BenchContext,
  direction: Direction,
): Promise<CaseResult> {
  const id = `tree-${direction}`;
  const title = treeTitle(ctx, direction);
  const target = "fts time ≤ 1.0x rsync -a over ssh";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  if (!ctx.features?.recursive) {
    return skippedCase(
      id,
      title,
      target,
      "`fts connect --help` does not mention -r",
    );
  }
  const tree = await ctx.tree();
  const timeout = ctx.treeTimeoutMs();
  // put: an empty served dir receives the tree. get: the tree's parent is served.
  const served = direction === "put" ? ctx.path("srv-tree-put") : tree.parent;
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(3, timeout),
  );
  const notes: string[] = [];
  try {
    const remote = direction === "put" ? "uploaded" : "tree";
    const local = direction === "put" ? tree.dir : ctx.path("fts-tree-get");
    const out = direction === "put" ? join(served, remote) as string : local;
    const args = connectArgs(
      server,
      direction === "put"
        ? ["put", "-r", local, remote]
        : ["get", "-r", remote, local],
    );
    let layout = "";
    const contenders: Contender[] = [{
      name: "fts",
      fts: true,
      description: `fts ${args.join(" ")}`,
      prepare: () => removeQuietly(out),
      run: async () => {
        await server.resetPeak();
        const result = await ftsClient(ctx, args, timeout);
        return {
          seconds: result.seconds,
          serverPeakKiB: await server.peakKiB(),
          clientPeakKiB: result.peakKiB,
        };
      },
      verify: async () => {
        layout = await expectTree(
          [out, join(out, "tree") as string],
          tree.digest,
        );
      },
    }];
    if (!ctx.config.peers) {
      notes.push(
        ctx.config.quick
          ? "peers skipped in --quick"
          : "peers skipped (--no-peers)",
      );
    } else {
      let rsyncNote = missingNote(ctx.tools, [
        "rsync",
        "ssh",
        "sshd",
        "sshKeygen",
      ]);
      let ssh: SshServer | null = null;
      if (!rsyncNote) {
        try {
          ssh = await ctx.ssh();
        } catch (error) {
          rsyncNote = (error as Error).message;
        }
      }
      if (ssh) {
        const sshServer = ssh;
        const rsyncOut = ctx.path(`rsync-tree-${direction}`);
        contenders.push({
          name: "rsync -a over ssh",
          fts: false,
          description: direction === "put"
            ? 'rsync -a -e "ssh -p PORT -i KEY ..." src/ 127.0.0.1:dst/'
            : 'rsync -a -e "ssh -p PORT -i KEY ..." 127.0.0.1:src/ dst/',
          prepare: () => removeQuietly(rsyncOut),
          run: async () => ({
            seconds: direction === "put"
              ? await rsyncPut(
                ctx.tools,
                sshServer,
                tree.dir,
                rsyncOut,
                timeout,
              )
              : await rsyncGet(
                ctx.tools,
                sshServer,
                tree.dir,
                rsyncOut,
                timeout,
              ),
          }),
          verify: async () => {
            await expectTree([rsyncOut], tree.digest);
          },
        });
      } else notes.push(`rsync: ${rsyncNote}`);
      const tarNote = missingNote(ctx.tools, ["nc", "tar"]);
      if (tarNote) notes.push(`tar | nc: ${tarNote}`);
      else {
        const tarOut = ctx.path(`tar-tree-${direction}`);
        contenders.push({
          name: "tar c | nc → tar x",
          fts: false,
          description: direction === "put"
            ? "nc -l 127.0.0.1 PORT | tar x -C dst; tar c -C src . | nc -N 127.0.0.1 PORT"
            : "tar c -C src . | nc -N -l 127.0.0.1 PORT; nc -d 127.0.0.1 PORT | tar x -C dst",
          prepare: () => freshDir(tarOut),
          run: async () => ({
            seconds: direction === "put"
              ? await tarNcPut(ctx.tools, tree.dir, tarOut, timeout)
              : await tarNcGet(ctx.tools, tree.dir, tarOut, timeout),
          }),
          verify: async () => {
            await expectTree([tarOut], tree.digest);
          },
        });
      }
    }
    const results = await ctx.alternate(contenders);
    const rsyncMissing = notes.find((n) =>
      n.startsWith("rsync") || n.startsWith("peers")
    ) ?? "rsync did not run";
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: (name) => name.startsWith("rsync"),
      limit: 1.0,
      missing: rsyncMissing,
    }, {
      files: tree.digest.files,
      bytes: tree.digest.bytes,
      ftsLayout: layout === out
        ? "REMOTE holds the files"
        : layout
        ? "REMOTE/<name>/ holds the files"
        : null,
    });
  } finally {
    await server.stop();
  }
}
