/**
 * HTTP cases: a large file fetched (`GET`) and uploaded (`PUT`) with curl
 * from `fts serve --http` against nginx (`sendfile on`, `dav_methods PUT`,
 * see `peer_nginx.ts`), files on the work folder's tmpfs. Targets: GET ≤
 * 1.0x nginx, PUT ≤ 1.2x nginx. CPU seconds per side: the server's from
 * /proc, curl's from GNU time.
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender, RunOutcome } from "./alternate.ts";
import {
  type BenchContext,
  type DataFile,
  expectFile,
  ftsMissing,
  peerCaseResult,
  removeQuietly,
  skippedCase,
} from "./context.ts";
import { type FtsLauncher, runClient } from "./fts_runner.ts";
import type { CaseResult } from "./model.ts";
import { NginxServer } from "./peer_nginx.ts";
import { missingNote } from "./peers.ts";
import { formatBytes } from "./stats.ts";

/** A server the HTTP contenders talk to: where, and its CPU. */
interface HttpServer {
  address: string;
  cpuSeconds(): Promise<number | null>;
}

/** One curl run against `server`, with CPU seconds of both sides. */
async function timedCurl(
  curl: string,
  server: HttpServer,
  args: string[],
  timeoutMs: number,
): Promise<RunOutcome> {
  // runClient runs any program under GNU time; curl is the client here.
  const launcher: FtsLauncher = {
    description: curl,
    command: curl,
    prefix: [],
    entryFile: curl,
  };
  const before = await server.cpuSeconds();
  const result = await runClient(launcher, args, timeoutMs);
  const after = await server.cpuSeconds();
  if (!result.success) {
    throw new Error(
      `curl ${args.join(" ")} ${
        result.timedOut ? "timed out" : `exited ${result.code}`
      }: ${result.stderr.trim().slice(0, 300)}`,
    );
  }
  return {
    seconds: result.seconds,
    clientPeakKiB: result.peakKiB,
    serverCpuSeconds: before === null || after === null ? null : after - before,
    clientCpuSeconds: result.cpuSeconds,
  };
}

/** The contender getting `file` (served as `big.bin`) from `server` to `out`, or putting it there. */
function curlContender(
  ctx: BenchContext,
  kind: "get" | "put",
  name: string,
  server: HttpServer,
  file: DataFile,
  out: string,
): Contender {
  const url = `http://${server.address}/${
    kind === "get" ? "big.bin" : "put.bin"
  }`;
  const args = kind === "get"
    ? ["-sSf", "-o", out, url]
    : ["-sSf", "-T", file.path, url];
  return {
    name,
    fts: name === "fts",
    description: `curl ${args.join(" ")}`,
    prepare: () => removeQuietly(out),
    run: () =>
      timedCurl(
        ctx.tools.curl!,
        server,
        args,
        ctx.transferTimeoutMs(file.bytes),
      ),
    verify: () => expectFile(out, file),
  };
}

/** `http-get-file` or `http-put-file`: curl against fts and nginx. */
export async function httpFileCase(
  ctx: BenchContext,
  kind: "get" | "put",
): Promise<CaseResult> {
  const id = `http-${kind}-file`;
  const title = `${
    formatBytes(ctx.config.fileBytes)
  } random file, HTTP ${kind.toUpperCase()} with curl`;
  const limit = kind === "get" ? 1.0 : 1.2;
  const target = `fts time ≤ ${limit}x nginx`;
  const missing = ftsMissing(ctx) ?? missingNote(ctx.tools, ["curl"]);
  if (missing) return skippedCase(id, title, target, missing);
  const file = await ctx.bigFile();
  const timeout = ctx.transferTimeoutMs(file.bytes);
  const lifetime = ctx.serverLifetimeMs(2, timeout);
  // GET serves the data folder itself; PUT writes into a folder of its own.
  const ftsRoot = kind === "get" ? ctx.path("data") : ctx.path("http-fts");
  const ngxRoot = kind === "get" ? ctx.path("data") : ctx.path("http-nginx");
  await Deno.mkdir(ftsRoot, { recursive: true });
  await Deno.mkdir(ngxRoot, { recursive: true });
  const fts = await ctx.startServer(ftsRoot, false, lifetime, true);
  const outOf = (root: string, name: string) =>
    kind === "get" ? ctx.path(`${name}-http-get.bin`) : join(root, "put.bin");
  const notes: string[] = [];
  let nginx: NginxServer | null = null;
  try {
    const contenders = [
      curlContender(
        ctx,
        kind,
        "fts",
        {
          address: fts.httpAddress!,
          cpuSeconds: () => fts.cpuSeconds(),
        },
        file,
        outOf(ftsRoot, "fts"),
      ),
    ];
    const note = ctx.config.peers
      ? missingNote(ctx.tools, ["nginx"])
      : `peers skipped (${ctx.config.quick ? "--quick" : "--no-peers"})`;
    if (note) notes.push(`nginx: ${note}`);
    else {
      nginx = await NginxServer.start(
        ctx.tools.nginx!,
        ngxRoot,
        ctx.path("http-nginx-staging"),
        lifetime,
      );
      contenders.push(
        curlContender(ctx, kind, "nginx", nginx, file, outOf(ngxRoot, "nginx")),
      );
    }
    const results = await ctx.alternate(contenders);
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: "nginx",
      limit,
      missing: notes[0] ?? "nginx did not run",
    }, { bytes: file.bytes });
  } finally {
    await nginx?.stop();
    await fts.stop();
  }
}
