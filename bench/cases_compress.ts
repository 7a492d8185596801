/**
 * Compression over a slow link: 192 MiB of log-like text and 64 MiB of
 * random data put over a 100 Mbit/s link (a shaped network namespace, see
 * netns.ts), `fts -z` against fts uncompressed and `--compress=auto`.
 * Targets: text with `-z` ≤ 0.4x fts uncompressed; random data with `-z`
 * ≤ 1.1x fts uncompressed. (`rsync -z` over ssh inside the namespace is
 * not run here yet; docs/performance.md has a hand-run comparison.)
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender } from "./alternate.ts";
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
import { connectArgs, FtsServer } from "./fts_runner.ts";
import type { CaseResult } from "./model.ts";
import { createShapedNetns } from "./netns.ts";
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
  const limit = kind === "text" ? 0.4 : 1.1;
  const title = `${formatBytes(bytes)} ${kind}, put -z over 100 Mbit/s`;
  const target = `fts -z time ≤ ${limit}x fts uncompressed`;
  const missing = ftsMissing(ctx);
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
    const server = await FtsServer.start(launcher, served, {
      tls: false,
      lifetimeMs: ctx.serverLifetimeMs(3, timeout),
    });
    try {
      const contender = (label: string, flags: string[]): Contender => {
        const out = join(served, "out");
        const args = connectArgs(server, ["put", path, "out"], flags);
        return {
          name: label,
          fts: flags.includes("-z"),
          description: `${launcher.description} ${args.join(" ")}`,
          prepare: () => removeQuietly(out),
          run: () => timedClient(ctx, server, args, timeout, launcher),
          verify: () => expectFile(out, file),
        };
      };
      // --quick only checks that the case works: fts -z alone.
      const results = await ctx.alternate(
        ctx.config.quick ? [contender("fts -z", ["-z"])] : [
          contender("fts -z", ["-z"]),
          contender("fts uncompressed", []),
          contender("fts --compress=auto", ["--compress=auto"]),
        ],
      );
      const ratios = ftsRatios(results);
      return {
        id,
        title,
        status: caseStatus(results),
        notes: [
          `link: loopback of network namespace ${ns.name}, tc tbf rate ${ns.rate} burst 256kb latency 50ms`,
          ...errorNotes(results),
        ],
        contenders: results,
        ratios,
        target: ratioTarget(
          target,
          results,
          ratios.find((r) => r.denominator === "fts uncompressed"),
          limit,
          "fts uncompressed did not run",
        ),
        metrics: { bytes },
      };
    } finally {
      await server.stop();
    }
  } finally {
    await ns.remove();
  }
}
