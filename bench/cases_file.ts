/**
 * Single large file cases: put and get against `nc`, put with TLS against
 * `scp` (aes128-gcm and the default cipher), get with TLS against `scp`
 * (aes128-gcm), and put without verification (`--no-verify`) against a
 * normal put to show the cost of hashing.
 *
 * Every fts run goes to a fresh server per case; the server's peak memory is
 * reset before and read after each run.
 *
 * @module
 */

import { join } from "@std/path";
import type { Contender, RunOutcome } from "./alternate.ts";
import {
  type BenchContext,
  type DataFile,
  errorNotes,
  expectFile,
  ftsClient,
  ftsMissing,
  ftsRatios,
  peerCaseResult,
  removeQuietly,
  skippedCase,
} from "./context.ts";
import { connectArgs, type FtsLauncher, type FtsServer } from "./fts_runner.ts";
import type { CaseResult } from "./model.ts";
import { missingNote, ncGet, ncPut, scpGet, scpPut } from "./peers.ts";
import { formatBytes, formatSeconds } from "./stats.ts";

/**
 * One fts client run against `server`: wall time, peak memory and CPU
 * seconds of each side (the server's from /proc before and after).
 */
export async function timedClient(
  ctx: BenchContext,
  server: FtsServer,
  args: string[],
  timeoutMs: number,
  launcher?: FtsLauncher,
): Promise<RunOutcome> {
  await server.resetPeak();
  const cpuBefore = await server.cpuSeconds();
  const result = await ftsClient(ctx, args, timeoutMs, launcher);
  const cpuAfter = await server.cpuSeconds();
  return {
    seconds: result.seconds,
    serverPeakKiB: await server.peakKiB(),
    clientPeakKiB: result.peakKiB,
    serverCpuSeconds: cpuBefore === null || cpuAfter === null
      ? null
      : cpuAfter - cpuBefore,
    clientCpuSeconds: result.cpuSeconds,
  };
}

/** A put of `file` as `name` into `server`, timed with server and client peak memory. */
function ftsPut(
  ctx: BenchContext,
  server: FtsServer,
  servedDir: string,
  file: DataFile,
  name: string,
  label: string,
  flags: string[] = [],
): Contender {
  const args = connectArgs(server, ["put", file.path, name], flags);
  const out = join(servedDir, name) as string;
  return {
    name: label,
    fts: true,
    description: `fts ${args.join(" ")}`,
    prepare: () => removeQuietly(out),
    run: () =>
      timedClient(ctx, server, args, ctx.transferTimeoutMs(file.bytes)),
    verify: () => expectFile(out, file),
  };
}

/** The fts contender getting the data dir's big file (served as is) to `out`. */
function ftsGet(
  ctx: BenchContext,
  server: FtsServer,
  file: DataFile,
  out: string,
  label: string,
): Contender {
  const args = connectArgs(server, ["get", "big.bin", out]);
  return {
    name: label,
    fts: true,
    description: `fts ${args.join(" ")}`,
    prepare: () => removeQuietly(out),
    run: () =>
      timedClient(ctx, server, args, ctx.transferTimeoutMs(file.bytes)),
    verify: () => expectFile(out, file),
  };
}

/** Why the TLS cases skip when the fts under test has no TLS. */
const NO_TLS = "`fts serve --help` does not mention --tls";

/** Peers that apply, or a note saying why not. */
function peerNote(
  ctx: BenchContext,
  needed: Parameters<typeof missingNote>[1],
): string | null {
  if (!ctx.config.peers) {
    return ctx.config.quick
      ? "peers skipped in --quick"
      : "peers skipped (--no-peers)";
  }
  return missingNote(ctx.tools, needed);
}

/** `<size> random file, put`: fts put against `nc` file to file. */
export async function putFileCase(ctx: BenchContext): Promise<CaseResult> {
  const id = "put-file";
  const title = `${formatBytes(ctx.config.fileBytes)} random file, put`;
  const target = "fts time ≤ 1.15x nc";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const file = await ctx.bigFile();
  const served = ctx.path("srv-put");
  const timeout = ctx.transferTimeoutMs(file.bytes);
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(2, timeout),
  );
  const notes: string[] = [];
  try {
    const contenders = [ftsPut(ctx, server, served, file, "put.bin", "fts")];
    const note = peerNote(ctx, ["nc"]);
    if (note) notes.push(`nc: ${note}`);
    else {
      const out = ctx.path("nc-put.bin");
      contenders.push({
        name: "nc",
        fts: false,
        description: "nc -l 127.0.0.1 PORT > out; nc -N 127.0.0.1 PORT < in",
        prepare: () => removeQuietly(out),
        run: async () => ({
          seconds: await ncPut(ctx.tools, file.path, out, timeout),
        }),
        verify: () => expectFile(out, file),
      });
    }
    const results = await ctx.alternate(contenders);
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: "nc",
      limit: 1.15,
      missing: notes[0] ?? "nc did not run",
    }, {
      bytes: file.bytes,
      serverPeakResettable: server.peakResettable,
    });
  } finally {
    await server.stop();
  }
}

/** `<size> random file, get`: fts get against `nc` serving the file. */
export async function getFileCase(ctx: BenchContext): Promise<CaseResult> {
  const id = "get-file";
  const title = `${formatBytes(ctx.config.fileBytes)} random file, get`;
  const target = "fts time ≤ 1.0x nc";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  const file = await ctx.bigFile();
  const timeout = ctx.transferTimeoutMs(file.bytes);
  // Serve the data dir itself, so the big file is served without a copy.
  const server = await ctx.startServer(
    ctx.path("data"),
    false,
    ctx.serverLifetimeMs(2, timeout),
  );
  const notes: string[] = [];
  try {
    const contenders = [
      ftsGet(ctx, server, file, ctx.path("fts-get.bin"), "fts"),
    ];
    const note = peerNote(ctx, ["nc"]);
    if (note) notes.push(`nc: ${note}`);
    else {
      const ncOut = ctx.path("nc-get.bin");
      contenders.push({
        name: "nc",
        fts: false,
        description: "nc -N -l 127.0.0.1 PORT < in; nc -d 127.0.0.1 PORT > out",
        prepare: () => removeQuietly(ncOut),
        run: async () => ({
          seconds: await ncGet(ctx.tools, file.path, ncOut, timeout),
        }),
        verify: () => expectFile(ncOut, file),
      });
    }
    const results = await ctx.alternate(contenders);
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: "nc",
      limit: 1.0,
      missing: notes[0] ?? "nc did not run",
    }, { bytes: file.bytes });
  } finally {
    await server.stop();
  }
}

/** `<size> put with TLS`: fts `--tls` against `scp -c aes128-gcm@openssh.com` and default scp. */
export async function putTlsCase(ctx: BenchContext): Promise<CaseResult> {
  const id = "put-file-tls";
  const title = `${formatBytes(ctx.config.fileBytes)} put with TLS`;
  const target = "fts time ≤ 0.6x scp aes128-gcm";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  if (!ctx.features?.tls) return skippedCase(id, title, target, NO_TLS);
  const file = await ctx.bigFile();
  const served = ctx.path("srv-tls");
  const timeout = ctx.transferTimeoutMs(file.bytes);
  const server = await ctx.startServer(
    served,
    true,
    ctx.serverLifetimeMs(3, timeout),
  );
  const notes: string[] = [];
  try {
    const contenders = [
      ftsPut(ctx, server, served, file, "tls.bin", "fts --tls"),
    ];
    let note = peerNote(ctx, ["scp", "ssh", "sshd", "sshKeygen"]);
    if (!note) {
      try {
        const ssh = await ctx.ssh();
        for (const cipher of ["aes128-gcm@openssh.com", null]) {
          const name = cipher ? "scp aes128-gcm" : "scp (default cipher)";
          const out = ctx.path(cipher ? "scp-aes.bin" : "scp-default.bin");
          contenders.push({
            name,
            fts: false,
            description: `scp ${
              cipher ? `-c ${cipher} ` : ""
            }-P PORT -i KEY in 127.0.0.1:out`,
            prepare: () => removeQuietly(out),
            run: async () => ({
              seconds: await scpPut(
                ctx.tools,
                ssh,
                file.path,
                out,
                cipher,
                timeout,
              ),
            }),
            verify: () => expectFile(out, file),
          });
        }
      } catch (error) {
        note = (error as Error).message;
      }
    }
    if (note) notes.push(`scp: ${note}`);
    const results = await ctx.alternate(contenders);
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: "scp aes128-gcm",
      limit: 0.6,
      missing: notes[0] ?? "scp did not run",
    }, { bytes: file.bytes });
  } finally {
    await server.stop();
  }
}

/** `<size> get with TLS`: fts get `--tls` against `scp -c aes128-gcm@openssh.com` fetching. */
export async function getTlsCase(ctx: BenchContext): Promise<CaseResult> {
  const id = "get-file-tls";
  const title = `${formatBytes(ctx.config.fileBytes)} get with TLS`;
  const target = "fts time ≤ 0.6x scp aes128-gcm";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  if (!ctx.features?.tls) return skippedCase(id, title, target, NO_TLS);
  const file = await ctx.bigFile();
  const timeout = ctx.transferTimeoutMs(file.bytes);
  // Serve the data dir itself, so the big file is served without a copy.
  const server = await ctx.startServer(
    ctx.path("data"),
    true,
    ctx.serverLifetimeMs(2, timeout),
  );
  const notes: string[] = [];
  try {
    const contenders = [
      ftsGet(ctx, server, file, ctx.path("fts-tls-get.bin"), "fts --tls"),
    ];
    let note = peerNote(ctx, ["scp", "ssh", "sshd", "sshKeygen"]);
    if (!note) {
      try {
        const ssh = await ctx.ssh();
        const scpOut = ctx.path("scp-aes-get.bin");
        contenders.push({
          name: "scp aes128-gcm",
          fts: false,
          description:
            "scp -c aes128-gcm@openssh.com -P PORT -i KEY 127.0.0.1:in out",
          prepare: () => removeQuietly(scpOut),
          run: async () => ({
            seconds: await scpGet(
              ctx.tools,
              ssh,
              file.path,
              scpOut,
              "aes128-gcm@openssh.com",
              timeout,
            ),
          }),
          verify: () => expectFile(scpOut, file),
        });
      } catch (error) {
        note = (error as Error).message;
      }
    }
    if (note) notes.push(`scp: ${note}`);
    const results = await ctx.alternate(contenders);
    return peerCaseResult({ id, title, target }, results, notes, {
      peer: "scp aes128-gcm",
      limit: 0.6,
      missing: notes[0] ?? "scp did not run",
    }, { bytes: file.bytes });
  } finally {
    await server.stop();
  }
}

/** `<size> put without verification`: `--no-verify` against a normal put, to show the hashing cost. */
export async function putNoVerifyCase(ctx: BenchContext): Promise<CaseResult> {
  const id = "put-file-noverify";
  const title = `${formatBytes(ctx.config.fileBytes)} put without verification`;
  const target = "hashing cost reported (fts --no-verify vs fts)";
  const missing = ftsMissing(ctx);
  if (missing) return skippedCase(id, title, target, missing);
  if (ctx.features?.noVerify !== true) {
    return skippedCase(
      id,
      title,
      target,
      `--no-verify not available (${ctx.features?.noVerifyNote})`,
    );
  }
  const file = await ctx.bigFile();
  const served = ctx.path("srv-noverify");
  const timeout = ctx.transferTimeoutMs(file.bytes);
  const server = await ctx.startServer(
    served,
    false,
    ctx.serverLifetimeMs(2, timeout),
  );
  try {
    const results = await ctx.alternate([
      ftsPut(ctx, server, served, file, "noverify.bin", "fts --no-verify", [
        "--no-verify",
      ]),
      ftsPut(ctx, server, served, file, "verify.bin", "fts (verified)"),
    ]);
    const ratios = ftsRatios(results);
    const [without, withHash] = results;
    const cost = withHash.summary.median - without.summary.median;
    const ratio = ratios[0];
    return {
      id,
      title,
      status: results.some((c) => c.error !== undefined || c.summary.n === 0)
        ? "failed"
        : "ran",
      notes: [
        `--no-verify: ${ctx.features.noVerifyNote}`,
        ...errorNotes(results),
      ],
      contenders: results,
      ratios,
      target: {
        description: target,
        verdict: "n/a",
        detail: ratio
          ? `verification costs ${
            formatSeconds(cost)
          } (median); no-verify/verified ${ratio.summary.median.toFixed(2)}x`
          : "no complete pair of runs",
      },
      metrics: {
        bytes: file.bytes,
        hashingCostSeconds: Number.isFinite(cost) ? cost : null,
      },
    };
  } finally {
    await server.stop();
  }
}
