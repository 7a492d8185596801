/**
 * Running fts for the benchmark: finding the command, probing which features
 * the current build has (TLS, recursive transfers, the hidden `--no-verify`),
 * starting a server on a free loopback port and timing client runs with
 * their peak memory.
 *
 * fts runs as `deno run -A <repo>/main.ts` with the running Deno
 * (`Deno.execPath()`), or as the binary named by the `FTS_BIN` environment
 * variable. Everything else in the benchmark talks to fts only through
 * {@link FtsLauncher}, {@link FtsServer} and {@link runClient}.
 *
 * @module
 */

import { join } from "@std/path";
import {
  findGnuTime,
  parseGnuTimeMaxRss,
  PeakPoller,
  processCpuSeconds,
  readStatusKiB,
  resetPeak,
} from "./memory.ts";
import {
  type Background,
  cleanup,
  makeTempDir,
  run,
  type RunResult,
  startBackground,
} from "./process.ts";

/** How to start fts: a command and the arguments that come before fts's own. */
export interface FtsLauncher {
  /** Human-readable form, e.g. `deno run -A /repo/main.ts`. */
  readonly description: string;
  /** The program to execute. */
  readonly command: string;
  /** Arguments before fts's own arguments. */
  readonly prefix: readonly string[];
  /** The file holding fts's program (main.ts or the binary), for static probes. */
  readonly entryFile: string;
}

/**
 * The launcher for fts: `FTS_BIN` when set, else `deno run -A main.ts` with
 * this Deno. Returns null when neither exists.
 */
export function resolveLauncher(mainTs: string): FtsLauncher | null {
  const bin = Deno.env.get("FTS_BIN");
  if (bin) {
    return { description: bin, command: bin, prefix: [], entryFile: bin };
  }
  try {
    Deno.statSync(mainTs);
  } catch {
    return null;
  }
  const deno = Deno.execPath();
  return {
    description: `${deno} run -A ${mainTs}`,
    command: deno,
    prefix: ["run", "-A", mainTs],
    entryFile: mainTs,
  };
}

/** What the fts build under test supports. */
export interface FtsFeatures {
  /** Output of `fts --version` (first line), or null if it failed. */
  version: string | null;
  /** `fts serve --help` mentions `--tls`. */
  tls: boolean;
  /** `fts connect --help` mentions `-r` on a line about put or get. */
  recursive: boolean;
  /** `--no-verify` on `fts connect` exists; null when the probe was inconclusive. */
  noVerify: boolean | null;
  /** How `noVerify` was decided. */
  noVerifyNote: string;
  /** Text of `fts serve --help`. */
  serveHelp: string;
  /** Text of `fts connect --help`. */
  connectHelp: string;
}

async function helpText(
  launcher: FtsLauncher,
  args: string[],
): Promise<string> {
  const result = await run(launcher.command, [...launcher.prefix, ...args], {
    timeoutMs: 30_000,
    captureStdout: true,
  });
  return `${result.stdout}\n${result.stderr}`;
}

/** Runs `--version` and the help texts, then probes `--no-verify` against a real server. */
export async function probeFeatures(
  launcher: FtsLauncher,
): Promise<FtsFeatures> {
  const versionRun = await run(launcher.command, [
    ...launcher.prefix,
    "--version",
  ], {
    timeoutMs: 30_000,
    captureStdout: true,
  });
  const version = versionRun.success
    ? versionRun.stdout.trim().split("\n")[0]
    : null;
  const serveHelp = await helpText(launcher, ["serve", "--help"]);
  const connectHelp = await helpText(launcher, ["connect", "--help"]);
  const tls = /--tls\b/.test(serveHelp);
  // "-r" alone is not enough: the help may offer it for rm only.
  const recursive = connectHelp.split("\n").some((line) =>
    /(^|[\s,\[])-r\b/.test(line) && /\b(put|get)\b/.test(line)
  );
  let noVerify: boolean | null;
  let noVerifyNote: string;
  if (/--no-verify\b/.test(connectHelp)) {
    noVerify = true;
    noVerifyNote = "listed in `fts connect --help`";
  } else {
    ({ noVerify, noVerifyNote } = await probeNoVerify(launcher));
  }
  return {
    version,
    tls,
    recursive,
    noVerify,
    noVerifyNote,
    serveHelp,
    connectHelp,
  };
}

/**
 * `--no-verify` is hidden from the help, so try it: a small put with it must
 * succeed. When a made-up flag is rejected, that settles it. When unknown
 * flags are ignored as well, the flag counts as existing only if the fts
 * program (main.ts or the binary) names `no-verify`.
 */
async function probeNoVerify(
  launcher: FtsLauncher,
): Promise<{ noVerify: boolean | null; noVerifyNote: string }> {
  const dir = await makeTempDir("fts-bench-probe-");
  const served = join(dir, "served") as string;
  await Deno.mkdir(served);
  const file = join(dir, "probe.bin") as string;
  await Deno.writeFile(file, new Uint8Array(1024).fill(7));
  let server: FtsServer | null = null;
  try {
    server = await FtsServer.start(launcher, served, {
      tls: false,
      lifetimeMs: 60_000,
    });
    const put = (flag: string, name: string) =>
      runClient(
        launcher,
        connectArgs(server!, ["put", file, name], [flag]),
        30_000,
      );
    const withFlag = await put("--no-verify", "a.bin");
    if (!withFlag.success) {
      return {
        noVerify: false,
        noVerifyNote: `probe: \`fts connect --no-verify put\` failed: ${
          withFlag.stderr.trim().split("\n")[0]
        }`,
      };
    }
    const bogus = await put("--fts-bench-made-up-flag", "b.bin");
    if (!bogus.success) {
      return {
        noVerify: true,
        noVerifyNote:
          "probe: accepted by `fts connect`, which rejects unknown flags",
      };
    }
    const named = await programMentions(launcher.entryFile, "no-verify");
    return named
      ? {
        noVerify: true,
        noVerifyNote:
          "probe: accepted by `fts connect` (which ignores unknown flags) and named in the fts program",
      }
      : {
        noVerify: false,
        noVerifyNote:
          "probe: `fts connect` ignores unknown flags and the fts program never names no-verify",
      };
  } catch (error) {
    return {
      noVerify: null,
      noVerifyNote: `probe failed: ${(error as Error).message}`,
    };
  } finally {
    await server?.stop();
    await cleanup.removeDir(dir);
  }
}

/** True when the bytes of `path` contain `text` (works for source files and binaries). */
async function programMentions(path: string, text: string): Promise<boolean> {
  try {
    const bytes = await Deno.readFile(path);
    const needle = new TextEncoder().encode(text);
    outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
      for (let j = 0; j < needle.length; j++) {
        if (bytes[i + j] !== needle[j]) continue outer;
      }
      return true;
    }
  } catch { /* unreadable */ }
  return false;
}

/** Options for {@link FtsServer.start}. */
export interface ServerOptions {
  /** Serve TLS (`--tls`). */
  tls: boolean;
  /** Kill the server after this long, whatever happens. */
  lifetimeMs: number;
  /** Extra environment variables (the `AWS_*` of an `s3://` target). */
  env?: Record<string, string>;
  /** Listen on this port instead of a kernel-chosen one (a restart). */
  port?: number;
  /** Also serve HTTP (`--http 127.0.0.1:0`); see {@link FtsServer.httpAddress}. */
  http?: boolean;
}

/** A running `fts serve` on 127.0.0.1 with a kernel-chosen port. */
export class FtsServer {
  /** `HOST:PORT` to pass to `fts connect`. */
  readonly address: string;
  /** Every stdout line after the first (e.g. a TLS fingerprint). */
  readonly extraLines: string[];
  /** Flags every `fts connect` to this server needs (e.g. for TLS). */
  clientFlags: string[] = [];
  /** `HOST:PORT` of the HTTP front-end, when started with `http`. */
  httpAddress: string | null = null;
  #proc: Background;
  #resettable: boolean | null = null;

  private constructor(address: string, proc: Background, extraLines: string[]) {
    this.address = address;
    this.#proc = proc;
    this.extraLines = extraLines;
  }

  /**
   * Starts `fts serve DIR --port 0 --host 127.0.0.1 --quiet [--tls]` (or
   * the port of `options.port`) and
   * waits for its first stdout line, `fts listening on HOST:PORT`. DIR may
   * be an `s3://BUCKET/PREFIX` target.
   */
  static async start(
    launcher: FtsLauncher,
    dir: string,
    options: ServerOptions,
  ): Promise<FtsServer> {
    const args = [
      ...launcher.prefix,
      "serve",
      dir,
      "--port",
      String(options.port ?? 0),
      "--host",
      "127.0.0.1",
      "--quiet",
      ...(options.tls ? ["--tls"] : []),
      ...(options.http ? ["--http", "127.0.0.1:0"] : []),
    ];
    const extra: string[] = [];
    let resolveAddress: (address: string) => void = () => {};
    const addressSeen = new Promise<string>((resolve) => {
      resolveAddress = resolve;
    });
    let first = true;
    const proc = startBackground(launcher.command, args, {
      timeoutMs: options.lifetimeMs,
      env: options.env,
      onStdoutLine: (line) => {
        if (first) {
          first = false;
          const match = line.match(/listening on (\S+):(\d+)/);
          resolveAddress(match ? `${match[1]}:${match[2]}` : "");
        } else if (extra.length < 100) {
          extra.push(line);
        }
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const address = await Promise.race([
      addressSeen,
      proc.status.then(() => ""),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(""), 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (!address) {
      await proc.stop();
      throw new Error(
        `fts serve did not report its address: ${
          proc.stderrText.trim().slice(0, 500)
        }`,
      );
    }
    if (options.tls) {
      // A TLS server may print how to trust it (a fingerprint) after the first line.
      const deadline = Date.now() + 500;
      while (extra.length === 0 && Date.now() < deadline && !proc.exited) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const server = new FtsServer(address, proc, extra);
    if (options.http) {
      // "fts http listening on HOST:PORT" follows the first line.
      const deadline = Date.now() + 30_000;
      while (!server.httpAddress && Date.now() < deadline && !proc.exited) {
        const line = extra.map((l) => /http listening on (\S+:\d+)/.exec(l))
          .find((m) => m !== null);
        if (line) server.httpAddress = line[1];
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (!server.httpAddress) {
        await proc.stop();
        throw new Error("fts serve --http did not report its HTTP address");
      }
    }
    return server;
  }

  /** Process id of the server. */
  get pid(): number {
    return this.#proc.pid;
  }

  /** True when the server process has exited. */
  get exited(): boolean {
    return this.#proc.exited;
  }

  /** What the server wrote to stderr so far. */
  get stderr(): string {
    return this.#proc.stderrText;
  }

  /**
   * Resets the server's peak memory before a run. Returns whether the kernel
   * allowed it; if not, {@link FtsServer.peakKiB} is the peak since start.
   */
  async resetPeak(): Promise<boolean> {
    const ok = await resetPeak(this.pid);
    this.#resettable = ok;
    return ok;
  }

  /** Whether the last {@link FtsServer.resetPeak} worked (null before the first). */
  get peakResettable(): boolean | null {
    return this.#resettable;
  }

  /**
   * CPU seconds (user + system, all threads) the server has used since it
   * started, from `/proc/PID/stat`; null when unreadable. Read before and
   * after a run for that run's share.
   */
  async cpuSeconds(): Promise<number | null> {
    return await processCpuSeconds(this.pid);
  }

  /** Peak resident memory (`VmHWM`) since the last reset, in KiB. */
  peakKiB(): Promise<number | null> {
    return readStatusKiB(this.pid, "VmHWM");
  }

  /** Kills the server at once (`kill -9`) and waits for it to be gone. */
  async kill(): Promise<void> {
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch { /* gone already */ }
    await this.#proc.status;
  }

  /** Stops the server with SIGTERM (SIGKILL after a grace period) and returns its exit code. */
  async stop(): Promise<number> {
    const status = await this.#proc.stop(5000);
    return status.code;
  }
}

/**
 * Arguments for `fts connect` to `server`: the address, the command such as
 * `put SRC NAME`, then `--quiet`, whatever the server needs (TLS) and
 * `flags`. Options go last so that a flag the parser does not know cannot
 * swallow a command word as its value.
 */
export function connectArgs(
  server: FtsServer,
  command: string[],
  flags: string[] = [],
): string[] {
  return [
    "connect",
    server.address,
    ...command,
    "--quiet",
    ...server.clientFlags,
    ...flags,
  ];
}

/**
 * Flags `fts connect` needs to reach a `--tls` server, guessed from the
 * connect help and what the server printed: `--tls` when the help names it,
 * and the printed certificate fingerprint when the help offers a flag to
 * pin one (`--fingerprint`, `--pin` or `--cert-fingerprint`).
 */
export function tlsClientFlags(
  connectHelp: string,
  serverLines: readonly string[],
): string[] {
  const flags: string[] = [];
  if (/--tls\b/.test(connectHelp)) flags.push("--tls");
  const pinFlag = connectHelp.match(/--(fingerprint|pin|cert-fingerprint)\b/)
    ?.[0];
  if (pinFlag) {
    for (const line of serverLines) {
      // `SHA256:<base64>` as ssh and fts print it, else a hex or base64 run.
      const match =
        line.match(/\b(SHA256:[A-Za-z0-9+/]{43}=?)(?![A-Za-z0-9+/])/) ??
          line.match(
            /(?:fingerprint|sha-?256)\S*\s*[:=]?\s*((?:sha256:)?[A-Fa-f0-9:]{40,}|[A-Za-z0-9+/_-]{40,}=*)/i,
          );
      if (match) {
        flags.push(pinFlag, match[1]);
        break;
      }
    }
  }
  return flags;
}

/** Outcome of one fts client run. */
export interface ClientResult extends RunResult {
  /** Peak resident memory of the fts client in KiB, null when unknown. */
  peakKiB: number | null;
  /** User + system CPU seconds of the client (GNU time), null when unknown. */
  cpuSeconds: number | null;
}

/**
 * Runs `fts ARGS` (normally `connect ...`) to completion, bounded by
 * `timeoutMs`, measuring its wall time and peak memory. With GNU time
 * available the client runs under `time -f %M` (exact `ru_maxrss`), else its
 * `VmHWM` is polled.
 */
export async function runClient(
  launcher: FtsLauncher,
  args: string[],
  timeoutMs: number,
): Promise<ClientResult> {
  const gnuTime = await findGnuTime();
  if (gnuTime) {
    const memFile = await Deno.makeTempFile({ prefix: "fts-bench-mem-" });
    try {
      const result = await run(
        gnuTime,
        [
          "-f",
          "%M\n%U %S",
          "-o",
          memFile,
          launcher.command,
          ...launcher.prefix,
          ...args,
        ],
        { timeoutMs },
      );
      let peakKiB: number | null = null;
      let cpuSeconds: number | null = null;
      try {
        const text = await Deno.readTextFile(memFile);
        peakKiB = parseGnuTimeMaxRss(text);
        const cpu = /^(\d+\.\d+) (\d+\.\d+)$/m.exec(text);
        if (cpu) cpuSeconds = Number(cpu[1]) + Number(cpu[2]);
      } catch { /* killed before time wrote it */ }
      return { ...result, peakKiB, cpuSeconds };
    } finally {
      await Deno.remove(memFile).catch(() => {});
    }
  }
  return await runPolled(launcher, args, timeoutMs);
}

async function runPolled(
  launcher: FtsLauncher,
  args: string[],
  timeoutMs: number,
): Promise<ClientResult> {
  let poller: PeakPoller | null = null;
  const result = await run(launcher.command, [...launcher.prefix, ...args], {
    timeoutMs,
    onSpawn: (pid) => {
      poller = new PeakPoller(pid, 10).start();
    },
  });
  const peakKiB = poller ? await (poller as PeakPoller).stop() : null;
  return { ...result, peakKiB, cpuSeconds: null };
}
