/**
 * Compression over a slow link: 192 MiB of log-like text and 64 MiB of
 * random data put over a 100 Mbit/s link (a shaped network namespace, see
 * netns.ts), `fts -z` against fts uncompressed, `--compress=auto`, and
 * `rsync -z` (zstd, as rsync 3.5 negotiates it) over ssh to a throwaway
 * sshd inside the namespace. Targets: text with `-z` ≤ 0.9x `rsync -z`
 * (≤ 0.4x fts uncompressed when rsync cannot run); random data with `-z`
 * ≤ 1.1x fts uncompressed. Each run also records the bytes the link
 * carried (`extra.wireBytes`, the namespace's `lo` counter).
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender } from "./alternate.ts";
import { counted } from "./cases_delta.ts";
import { timedClient } from "./cases_file.ts";
import {
  type BenchContext,
  caseStatus,
  type DataFile,
  errorNotes,
  expectFile,
  ftsMissing,
  ftsRatios,
  ratioTarget,
  removeQuietly,
  skippedCase,
} from "./context.ts";
import { makeRandomFile, makeTextFile } from "./files.ts";
import { connectArgs, FtsServer, runClient } from "./fts_runner.ts";
import type { CaseResult } from "./model.ts";
import { createShapedNetns, type ShapedNetns } from "./netns.ts";
import { missingNote, SshServer } from "./peers.ts";
import { formatBytes } from "./stats.ts";

const MiB = 1024 * 1024;

/** `compress-text` or `compress-random`. */
export async function compressCase(
  ctx: BenchContext,
  kind: "text" | "random",
): Promise<CaseResult> {
  const id = `compress-${kind}`;
  const bytes = (kind === "text" ? 192 : 64) *
    (ctx.config.quick ? MiB / 32 : MiB);
  const title = `${formatBytes(bytes)} ${kind}, put -z over 100 Mbit/s`;
  const missing = ftsMissing(ctx);
  const peerNote = !ctx.config.peers
    ? `peers skipped (${ctx.config.quick ? "--quick" : "--no-peers"})`
    : missingNote(ctx.tools, ["rsync", "ssh", "sshd", "sshKeygen"]);
  // The target for text is rsync's; without rsync, fts's own.
  const against = kind === "text" && !peerNote
    ? { peer: "rsync -z over ssh", limit: 0.9 }
    : { peer: "fts uncompressed", limit: kind === "text" ? 0.4 : 1.1 };
  const target = `fts -z time ≤ ${against.limit}x ${against.peer}`;
  if (missing) return skippedCase(id, title, target, missing);
  const ns = await createShapedNetns();
  if (typeof ns === "string") return skippedCase(id, title, target, ns);
  try {
    const dir = ctx.path(`compress-${kind}`);
    await Deno.mkdir(dir, { recursive: true });
    const path = join(dir, `source.${kind === "text" ? "txt" : "bin"}`);
    ctx.log(`  creating ${formatBytes(bytes)} of ${kind}`);
    const file: DataFile = {
      path,
      bytes,
      sha256: kind === "text"
        ? await makeTextFile(path, bytes)
        : await makeRandomFile(path, bytes),
    };
    const launcher = ns.wrap(ctx.launcher!);
    // Generous: the link moves 12.5 MB/s.
    const timeout = 60_000 + Math.ceil(bytes / MiB) * 500;
    const served = join(dir, "served");
    await Deno.mkdir(served);
    const lifetimeMs = ctx.serverLifetimeMs(4, timeout);
    const server = await FtsServer.start(launcher, served, {
      tls: false,
      lifetimeMs,
    });
    let ssh: SshServer | null = null;
    try {
      const contender = (label: string, flags: string[]): Contender => {
        const out = join(served, "out");
        const args = connectArgs(server, ["put", path, "out"], flags);
        return {
          name: label,
          fts: flags.includes("-z"),
          description: `${launcher.description} ${args.join(" ")}`,
          prepare: () => removeQuietly(out),
          run: () =>
            counted(
              ns,
              () => timedClient(ctx, server, args, timeout, launcher),
            ),
          verify: () => expectFile(out, file),
        };
      };
      // --quick only checks that the case works: fts -z alone.
      const contenders = ctx.config.quick ? [contender("fts -z", ["-z"])] : [
        contender("fts -z", ["-z"]),
        contender("fts uncompressed", []),
        contender("fts --compress=auto", ["--compress=auto"]),
      ];
      if (!peerNote) {
        ssh = await SshServer.start(ctx.tools, lifetimeMs, ns.name);
        contenders.push(rsyncContender(ctx, ns, ssh, file, served, timeout));
      }
      const results = await ctx.alternate(contenders);
      const ratios = ftsRatios(results);
      return {
        id,
        title,
        status: caseStatus(results),
        notes: [
          `link: loopback of network namespace ${ns.name}, tc tbf rate ${ns.rate} burst 256kb latency 50ms`,
          "bytes: the namespace's lo tx counter around each run (extra.wireBytes)",
          ...(peerNote ? [`rsync: ${peerNote}`] : []),
          ...errorNotes(results),
        ],
        contenders: results,
        ratios,
        target: ratioTarget(
          target,
          results,
          ratios.find((r) => r.denominator === against.peer),
          against.limit,
          `${against.peer} did not run`,
        ),
        metrics: { bytes },
      };
    } finally {
      await ssh?.stop();
      await server.stop();
    }
  } finally {
    await ns.remove();
  }
}

/**
 * `rsync -z FILE 127.0.0.1:DIR/rsync-out` over ssh inside the namespace;
 * rsync's CPU (with its ssh) from GNU time, the server side's unmeasured.
 */
function rsyncContender(
  ctx: BenchContext,
  ns: ShapedNetns,
  ssh: SshServer,
  file: DataFile,
  served: string,
  timeout: number,
): Contender {
  const out = join(served, "rsync-out");
  const args = [
    "-z",
    "-e",
    ssh.rsyncShell(ctx.tools.ssh!),
    file.path,
    `127.0.0.1:${out}`,
  ];
  const launcher = {
    description: `ip netns exec ${ns.name} rsync`,
    command: "ip",
    prefix: ["netns", "exec", ns.name, ctx.tools.rsync!],
    entryFile: ctx.tools.rsync!,
  };
  return {
    name: "rsync -z over ssh",
    fts: false,
    description: `${launcher.description} ${args.join(" ")}`,
    prepare: () => removeQuietly(out),
    run: () =>
      counted(ns, async () => {
        const result = await runClient(launcher, args, timeout);
        if (!result.success) {
          throw new Error(`rsync exited ${result.code}: ${result.stderr}`);
        }
        return { seconds: result.seconds, clientCpuSeconds: result.cpuSeconds };
      }),
    verify: () => expectFile(out, file),
  };
}
