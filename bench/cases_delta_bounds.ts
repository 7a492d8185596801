/**
 * The bounded worst cases of delta transfers, on loopback (a shaped link
 * would hide them behind the bytes a whole file costs): a 256 MiB file
 * unrelated to the server's version under the same name (target: at most
 * 1.1x a plain put), and a file of one repeated 64 KiB block with one byte
 * changed, the rsync#217 case (target: at most 2x a plain copy). Each run
 * starts from the old version copied into place, so the server has no
 * record of it and reads it first. The plain contender is the same put with
 * `--whole-file`, against the same old version.
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender } from "./alternate.ts";
import { timedClient } from "./cases_file.ts";
import {
  type BenchContext,
  ftsMissing,
  peerCaseResult,
  skippedCase,
} from "./context.ts";
import { makeRandomFile } from "./files.ts";
import { connectArgs } from "./fts_runner.ts";
import type { CaseResult } from "./model.ts";
import { formatBytes } from "./stats.ts";

const MiB = 1024 * 1024;

/** Which worst case. */
export type DeltaBound = "unrelated" | "repeated";

const BOUNDS: Record<DeltaBound, { title: string; limit: number }> = {
  unrelated: { title: "unrelated to the server's version", limit: 1.1 },
  repeated: {
    title: "one 64 KiB block repeated, one byte changed",
    limit: 2,
  },
};

/** Writes the old and the new version of `bound` at `old` and `next`. */
async function writeVersions(
  bound: DeltaBound,
  old: string,
  next: string,
  size: number,
): Promise<void> {
  if (bound === "unrelated") {
    await makeRandomFile(old, size);
    await makeRandomFile(next, size);
    return;
  }
  const block = new Uint8Array(64 * 1024);
  crypto.getRandomValues(block);
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += block.byteLength) data.set(block, at);
  await Deno.writeFile(old, data);
  data[size >> 1] ^= 0xff;
  await Deno.writeFile(next, data);
}

/** `delta-put-unrelated`, `delta-put-repeated`. */
export async function deltaBoundCase(
  ctx: BenchContext,
  bound: DeltaBound,
): Promise<CaseResult> {
  const id = `delta-put-${bound}`;
  const size = ctx.config.quick ? 8 * MiB : 256 * MiB;
  const { title: shape, limit } = BOUNDS[bound];
  const title = `${formatBytes(size)}, ${shape}, put over loopback`;
  const target = `fts (delta) time ≤ ${limit}x fts --whole-file`;
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const dir = ctx.path(id);
  const served = join(dir, "srv");
  await Deno.mkdir(served, { recursive: true });
  const old = join(dir, "old.bin");
  const next = join(dir, "new.bin");
  ctx.log(`  creating ${formatBytes(size)} and its other version`);
  await writeVersions(bound, old, next, size);
  const timeout = ctx.transferTimeoutMs(size) * 2;
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(2, timeout),
  );
  try {
    const stored = join(served, "f");
    const contender = (name: string, flags: string[]): Contender => {
      const args = connectArgs(server, ["put", next, "f"], flags);
      return {
        name,
        fts: flags.length === 0,
        description: `fts ${args.join(" ")}, the old version in place`,
        prepare: () => Deno.copyFile(old, stored),
        run: () => timedClient(ctx, server, args, timeout),
        verify: async () => {
          const [a, b] = await Promise.all([
            Deno.readFile(stored),
            Deno.readFile(next),
          ]);
          if (a.byteLength !== b.byteLength || !a.every((x, i) => x === b[i])) {
            throw new Error("the result differs from the new version");
          }
        },
      };
    };
    // --quick only checks that the case works: fts alone.
    const results = await ctx.alternate(
      ctx.config.quick ? [contender("fts", [])] : [
        contender("fts", []),
        contender("fts --whole-file", ["--whole-file"]),
      ],
    );
    return peerCaseResult({ id, title, target }, results, [
      "work folder on tmpfs unless --disk; no link shaping",
    ], {
      peer: "fts --whole-file",
      limit,
      missing: "fts --whole-file did not run (--quick)",
    }, { bytes: size });
  } finally {
    await server.stop();
  }
}
