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
  readStatusKiB,
  resetPeak,
} from "./memory.ts";
import {
  type Background,
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
}

/**
 * The launcher for fts: `FTS_BIN` when set, else `deno run -A main.ts` with
 * this Deno. Returns null when neither exists.
 */
export function resolveLauncher(mainTs: string): FtsLauncher | null {
  const bin = Deno.env.get("FTS_BIN");
  if (bin) {
    return { description: bin, command: bin, prefix: [] };
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
  };
}

/** What the fts build under test supports. */
export interface FtsFeatures {
  /** Output of `fts --version` (first line), or null if it failed. */
  version: string | null;
  /** `fts serve --help` mentions `--tls`. */
  tls: boolean;
  /** `fts connect --help` mentions `-r`. */
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
  const recursive = /(^|[\s,\[])-r\b/m.test(connectHelp);
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
 * succeed while the same put with a made-up flag must fail (otherwise unknown
 * flags are ignored and the probe proves nothing).
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
      runClient(launcher, [
        "connect",
        server!.address,
        flag,
        "--quiet",
        "put",
        file,
        name,
      ], 30_000);
    const withFlag = await put("--no-verify", "a.bin");
    const bogus = await put("--no-such-flag-fts-bench", "b.bin");
    if (withFlag.success && !bogus.success) {
      return {
        noVerify: true,
        noVerifyNote:
          "probe: accepted by `fts connect`, unknown flags are rejected",
      };
    }
    if (!withFlag.success && !bogus.success) {
      return {
        noVerify: false,
        noVerifyNote: "probe: `fts connect --no-verify` is rejected",
      };
    }
    if (withFlag.success && bogus.success) {
      return {
        noVerify: null,
        noVerifyNote: "probe inconclusive: `fts connect` ignores unknown flags",
      };
    }
    return { noVerify: false, noVerifyNote: "probe: `--no-verify` put failed" };
  } catch (error) {
    return {
      noVerify: null,
      noVerifyNote: `probe failed: ${(error as Error).message}`,
    };
  } finally {
    await server?.stop();
  }
}

/** Options for {@link FtsServer.start}. */
export interface ServerOptions {
  /** Serve TLS (`--tls`). */
  tls: boolean;
  /** Kill the server after this long, whatever happens. */
  lifetimeMs: number;
}

/** A running `fts serve` on 127.0.0.1 with a kernel-chosen port. */
export class FtsServer {
  /** `HOST:PORT` to pass to `fts connect`. */
  readonly address: string;
  /** Every stdout line after the first (e.g. a TLS fingerprint). */
  readonly extraLines: string[];
  /** Flags every `fts connect` to this server needs (e.g. for TLS). */
  clientFlags: string[] = [];
  #proc: Background;
  #resettable: boolean | null = null;

  private constructor(address: string, proc: Background, extraLines: string[]) {
    this.address = address;
    this.#proc = proc;
    this.extraLines = extraLines;
  }

  /**
   * Starts `fts serve DIR --port 0 --host 127.0.0.1 --quiet [--tls]` and
   * waits for its first stdout line, `fts listening on HOST:PORT`.
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
      "0",
      "--host",
      "127.0.0.1",
      "--quiet",
      ...(options.tls ? ["--tls"] : []),
    ];
    const extra: string[] = [];
    let resolveAddress: (address: string) => void = () => {};
    const addressSeen = new Promise<string>((resolve) => {
      resolveAddress = resolve;
    });
    let first = true;
    const proc = startBackground(launcher.command, args, {
      timeoutMs: options.lifetimeMs,
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
    return new FtsServer(address, proc, extra);
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

  /** Peak resident memory (`VmHWM`) since the last reset, in KiB. */
  peakKiB(): Promise<number | null> {
    return readStatusKiB(this.pid, "VmHWM");
  }

  /** Stops the server with SIGTERM (SIGKILL after a grace period) and returns its exit code. */
  async stop(): Promise<number> {
    const status = await this.#proc.stop(5000);
    return status.code;
  }
}

/**
 * Arguments for `fts connect` to `server`: the address, `--quiet`, whatever
 * the server needs (TLS), `flags`, then the command such as `put SRC NAME`.
 */
export function connectArgs(
  server: FtsServer,
  command: string[],
  flags: string[] = [],
): string[] {
  return [
    "connect",
    server.address,
    "--quiet",
    ...server.clientFlags,
    ...flags,
    ...command,
  ];
}

/** Outcome of one fts client run. */
export interface ClientResult extends RunResult {
  /** Peak resident memory of the fts client in KiB, null when unknown. */
  peakKiB: number | null;
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
          "%M",
          "-o",
          memFile,
          launcher.command,
          ...launcher.prefix,
          ...args,
        ],
        { timeoutMs },
      );
      let peakKiB: number | null = null;
      try {
        peakKiB = parseGnuTimeMaxRss(await Deno.readTextFile(memFile));
      } catch { /* killed before time wrote it */ }
      return { ...result, peakKiB };
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
  return { ...result, peakKiB };
}
