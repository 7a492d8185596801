/**
 * Facts about the machine and tool versions for the results file, all read
 * at run time: CPU model and core count from `/proc/cpuinfo`, memory from
 * `/proc/meminfo`, Deno's version, and peer tool versions.
 *
 * @module
 */

import type { HostInfo } from "./model.ts";
import type { PeerTools } from "./peers.ts";
import { run } from "./process.ts";

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Parses `/proc/cpuinfo`: the first `model name` and the number of `processor` entries. */
export function parseCpuInfo(
  text: string,
): { model: string | null; processors: number } {
  const model = text.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? null;
  const processors = (text.match(/^processor\s*:/gm) ?? []).length;
  return { model, processors };
}

/** The machine the benchmark runs on. */
export function hostInfo(): HostInfo {
  const cpu = parseCpuInfo(readText("/proc/cpuinfo") ?? "");
  const memTotal = readText("/proc/meminfo")?.match(/^MemTotal:\s+(\d+)\s+kB/m)
    ?.[1];
  let hostname = "";
  try {
    hostname = Deno.hostname();
  } catch { /* not allowed */ }
  return {
    cpuModel: cpu.model,
    cores: cpu.processors || navigator.hardwareConcurrency,
    memTotalKiB: memTotal ? Number(memTotal) : null,
    kernel: Deno.osRelease(),
    os: `${Deno.build.os} ${Deno.build.arch}`,
    hostname,
  };
}

/** Deno's version and path. */
export function denoInfo(): {
  deno: string;
  v8: string;
  typescript: string;
  path: string;
} {
  return { ...Deno.version, path: Deno.execPath() };
}

async function firstLine(
  cmd: string | null,
  args: string[],
  pattern?: RegExp,
): Promise<string | null> {
  if (!cmd) return null;
  try {
    const result = await run(cmd, args, {
      timeoutMs: 10_000,
      captureStdout: true,
    });
    const text = `${result.stdout}\n${result.stderr}`.split("\n").map((l) =>
      l.trim()
    ).filter((l) => l);
    return (pattern ? text.find((l) => pattern.test(l)) : text[0]) ?? null;
  } catch {
    return null;
  }
}

/** Path and version (where the tool reports one) of every peer tool. */
export async function peerInfo(
  tools: PeerTools,
): Promise<Record<string, { path: string | null; version: string | null }>> {
  return {
    nc: {
      path: tools.nc,
      version: await firstLine(tools.nc, ["-h"], /netcat/i),
    },
    ssh: { path: tools.ssh, version: await firstLine(tools.ssh, ["-V"]) },
    scp: { path: tools.scp, version: null },
    sshd: { path: tools.sshd, version: null },
    rsync: {
      path: tools.rsync,
      version: await firstLine(tools.rsync, ["--version"]),
    },
    tar: {
      path: tools.tar,
      version: await firstLine(tools.tar, ["--version"]),
    },
    curl: {
      path: tools.curl,
      version: await firstLine(tools.curl, ["--version"]),
    },
    nginx: {
      path: tools.nginx,
      version: await firstLine(tools.nginx, ["-v"], /nginx/),
    },
  };
}
