/**
 * The S3 gateway the S3 cases run against, and `s3cmd`, the peer that moves
 * the same data to and from it directly.
 *
 * The gateway is the one the tests use when `FTS_TEST_S3_ENDPOINT`,
 * `FTS_TEST_S3_ACCESS_KEY` and `FTS_TEST_S3_SECRET_KEY` are set (loopback
 * only). Otherwise, when Ceph's packages are installed, the benchmark starts
 * its own with `tests/s3/start_radosgw.sh` in a temp folder on disk (never
 * the work tmpfs: the OSD would then live in memory) and stops it at the
 * end. `FTS_BENCH_S3=0` turns both off. Without a gateway the S3 cases are
 * skipped with one line saying why.
 *
 * @module
 */

import { fromFileUrl, join } from "@std/path";
import { processCpuSeconds } from "./memory.ts";
import {
  cleanup,
  makeTempDir,
  removeQuietly,
  run,
  type RunResult,
  which,
} from "./process.ts";

const SCRIPTS = fromFileUrl(new URL("../tests/s3/", import.meta.url));
/** The OSD of a gateway started here: room for every run's objects. */
const OSD_GB = 40;

/** What a gateway is made of. */
interface GatewayInit {
  endpoint: string;
  /** Where it came from, for the report. */
  origin: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The s3cmd program and its configuration file. */
  s3cmd: string;
  config: string;
  /** The cluster folder when known. */
  dir: string | null;
}

/** A reachable gateway with its credentials and an s3cmd configured for it. */
export class S3Gateway {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** Where it came from, for the report. */
  readonly origin: string;
  #accessKey: string;
  #secretKey: string;
  #region: string;
  #s3cmd: string;
  #config: string;
  /** The cluster folder when known (its garbage can then be collected). */
  #dir: string | null;

  private constructor(init: GatewayInit) {
    this.endpoint = init.endpoint;
    this.origin = init.origin;
    this.#accessKey = init.accessKey;
    this.#secretKey = init.secretKey;
    this.#region = init.region;
    this.#s3cmd = init.s3cmd;
    this.#config = init.config;
    this.#dir = init.dir;
  }

  /**
   * The tests' gateway, or one started here; a string saying why there is
   * none otherwise.
   */
  static async find(
    log: (message: string) => void,
    mayStart: boolean,
  ): Promise<S3Gateway | string> {
    if (Deno.env.get("FTS_BENCH_S3") === "0") return "FTS_BENCH_S3=0";
    const s3cmd = which("s3cmd");
    if (!s3cmd) return "s3cmd not installed (apt-get install s3cmd)";
    const endpoint = Deno.env.get("FTS_TEST_S3_ENDPOINT");
    const accessKey = Deno.env.get("FTS_TEST_S3_ACCESS_KEY");
    const secretKey = Deno.env.get("FTS_TEST_S3_SECRET_KEY");
    if (endpoint && accessKey && secretKey) {
      const host = new URL(endpoint).hostname;
      if (!["127.0.0.1", "localhost", "[::1]"].includes(host)) {
        return `FTS_TEST_S3_ENDPOINT must be a loopback address, not ${host}`;
      }
      return await S3Gateway.#make({
        endpoint,
        origin: "the tests' gateway (FTS_TEST_S3_ENDPOINT)",
        accessKey,
        secretKey,
        region: Deno.env.get("FTS_TEST_S3_REGION") ?? "us-east-1",
        s3cmd,
        dir: Deno.env.get("FTS_TEST_S3_DIR") ?? null,
      });
    }
    if (!mayStart) return "no FTS_TEST_S3_ENDPOINT (--quick starts no gateway)";
    if (!which("radosgw") || !which("ceph-osd")) {
      return "no FTS_TEST_S3_ENDPOINT and Ceph is not installed (see docs/s3.md)";
    }
    // On disk, not in the work folder (a tmpfs): see the module comment.
    const dir = await Deno.makeTempDir({ prefix: "fts-bench-radosgw-" });
    log(`  starting a throwaway Ceph RADOS Gateway in ${dir}`);
    // Not process.ts's run: it starts nothing once clean-up has begun.
    const stop = async () => {
      await new Deno.Command("bash", {
        args: [join(SCRIPTS, "stop_radosgw.sh"), dir, "--purge"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(120_000),
      }).output().catch(() => {});
      await removeQuietly(dir);
    };
    cleanup.addAction(stop);
    const started = await run(
      "bash",
      [join(SCRIPTS, "start_radosgw.sh"), dir],
      {
        timeoutMs: 240_000,
        env: { FTS_S3_OSD_GB: String(OSD_GB), FTS_S3_TIMEOUT: "180" },
      },
    );
    if (!started.success) {
      await stop();
      return `tests/s3/start_radosgw.sh failed: ${lastLine(started)}`;
    }
    const vars = Object.fromEntries(
      (await Deno.readTextFile(join(dir, "s3.env"))).split("\n")
        .filter((line) => line.includes("="))
        .map((
          line,
        ) => [
          line.slice(0, line.indexOf("=")),
          line.slice(line.indexOf("=") + 1),
        ]),
    );
    return await S3Gateway.#make({
      endpoint: vars.S3_ENDPOINT,
      origin:
        `a gateway started by the benchmark (${OSD_GB} GiB sparse OSD on disk)`,
      accessKey: vars.S3_ACCESS_KEY,
      secretKey: vars.S3_SECRET_KEY,
      region: "us-east-1",
      s3cmd,
      dir,
    });
  }

  static async #make(init: Omit<GatewayInit, "config">): Promise<S3Gateway> {
    const folder = await makeTempDir("fts-bench-s3cmd-");
    const config = join(folder, "s3cfg");
    const host = new URL(init.endpoint).host;
    await Deno.writeTextFile(
      config,
      [
        "[default]",
        `access_key = ${init.accessKey}`,
        `secret_key = ${init.secretKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        "use_https = False",
        "signature_v2 = False",
        `bucket_location = ${init.region}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    return new S3Gateway({ ...init, config });
  }

  /** The `AWS_*` variables `fts serve s3://…` reads. */
  awsEnv(): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: this.#accessKey,
      AWS_SECRET_ACCESS_KEY: this.#secretKey,
      AWS_REGION: this.#region,
      AWS_ENDPOINT_URL: this.endpoint,
    };
  }

  /** The s3cmd command line for the report, without its config path. */
  describe(args: string[]): string {
    return `s3cmd --no-progress ${args.join(" ")}`;
  }

  /** Runs `s3cmd ARGS` (bounded); returns the result, failed or not. */
  async s3cmd(args: string[], timeoutMs: number): Promise<RunResult> {
    return await run(
      this.#s3cmd,
      ["-c", this.#config, "--no-progress", ...args],
      { timeoutMs, captureStdout: true },
    );
  }

  /** Runs `s3cmd ARGS` and throws when it fails; returns its wall time. */
  async s3cmdOk(args: string[], timeoutMs: number): Promise<number> {
    const result = await this.s3cmd(args, timeoutMs);
    if (!result.success) {
      throw new Error(
        `s3cmd ${args[0]} ${
          result.timedOut ? "timed out" : `exited ${result.code}`
        }: ${lastLine(result)}`,
      );
    }
    return result.seconds;
  }

  /** Makes a new bucket; see {@linkcode S3Gateway.removeBucket}. */
  async bucket(): Promise<string> {
    const name = `fts-bench-${Date.now().toString(36)}-${
      Math.random().toString(36).slice(2, 8)
    }`;
    await this.s3cmdOk(["mb", `s3://${name}`], 60_000);
    return name;
  }

  /**
   * Deletes a bucket, its objects and its unfinished uploads, and frees
   * their space. A gateway started here is purged whole at clean-up anyway,
   * but its OSD must not fill up during the run.
   */
  async removeBucket(name: string): Promise<void> {
    const uploads = await this.s3cmd(["multipart", `s3://${name}`], 60_000);
    for (const line of uploads.stdout.split("\n")) {
      const [, uri, id] = line.split("\t");
      if (uri?.startsWith("s3://") && id) {
        await this.s3cmd(["abortmp", uri, id], 60_000);
      }
    }
    await this.s3cmd(["rb", "--recursive", "--force", `s3://${name}`], 600_000);
    await this.collectGarbage();
  }

  /**
   * Frees the space of deleted and replaced objects now instead of after
   * radosgw's garbage collection delay, when the cluster folder is known
   * (untimed, between runs: repeated 1 GiB puts would otherwise fill a
   * small OSD).
   */
  async collectGarbage(): Promise<void> {
    if (!this.#dir || !which("radosgw-admin")) return;
    await run("radosgw-admin", ["gc", "process", "--include-all"], {
      timeoutMs: 120_000,
      env: { CEPH_CONF: join(this.#dir, "ceph.conf") },
    });
  }

  /**
   * CPU seconds radosgw and the OSD have used so far (from /proc), when the
   * cluster folder is known; read before and after a run for its share.
   */
  async cpuSeconds(): Promise<number | null> {
    if (!this.#dir) return null;
    let total = 0;
    for (const daemon of ["client.rgw.a", "osd.0"]) {
      const pid = Number(
        await Deno.readTextFile(join(this.#dir, "run", `${daemon}.pid`))
          .catch(() => ""),
      );
      const seconds = pid > 0 ? await processCpuSeconds(pid) : null;
      if (seconds === null) return null;
      total += seconds;
    }
    return total;
  }
}

function lastLine(result: RunResult): string {
  return result.stderr.trim().split("\n").at(-1)?.slice(0, 300) ?? "";
}
