/**
 * Test helper: the real S3 gateway the S3 tests run against, from
 * `FTS_TEST_S3_ENDPOINT`, `FTS_TEST_S3_ACCESS_KEY`, `FTS_TEST_S3_SECRET_KEY`
 * (and optionally `FTS_TEST_S3_REGION`), as `.ci/s3_env` exports them after
 * `tests/s3/start_radosgw.sh`. Each test gets a bucket of its own, deleted
 * afterwards; `s3cmd` is the independent S3 tool on the other side.
 *
 * Only loopback endpoints are accepted: the tests never send traffic
 * anywhere else.
 *
 * @module
 */

import {
  S3Store,
  type S3StoreOptions,
} from "../../server/storage/s3/s3_store.ts";
import { FtsServer } from "../../server/server.ts";
import { prerequisite } from "./prerequisite.ts";

/** Where the gateway is and who to be there. */
export interface S3TestEnv {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** The gateway from the environment, or null (then the S3 tests skip). */
export function s3TestEnv(): S3TestEnv | null {
  const endpoint = Deno.env.get("FTS_TEST_S3_ENDPOINT");
  const accessKey = Deno.env.get("FTS_TEST_S3_ACCESS_KEY");
  const secretKey = Deno.env.get("FTS_TEST_S3_SECRET_KEY");
  if (!endpoint || !accessKey || !secretKey) return null;
  const host = new URL(endpoint).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") {
    throw new Error(
      `FTS_TEST_S3_ENDPOINT must be a loopback address, not ${host}`,
    );
  }
  return {
    endpoint,
    accessKey,
    secretKey,
    region: Deno.env.get("FTS_TEST_S3_REGION") ?? "us-east-1",
  };
}

/**
 * The gateway from the environment for the test file `file`, or null after
 * printing the one line that says its gateway tests are ignored (under
 * `CI=true` a missing gateway throws: see tests/helpers/prerequisite.ts).
 */
export function s3TestEnvFor(file: string): S3TestEnv | null {
  const env = s3TestEnv();
  prerequisite(
    `an S3 gateway (FTS_TEST_S3_ENDPOINT, see docs/s3.md) for ${file}`,
    env !== null,
  );
  return env;
}

/** The `AWS_*` variables a store or `fts serve s3://…` reads, for `env`. */
export function awsEnv(env: S3TestEnv): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: env.accessKey,
    AWS_SECRET_ACCESS_KEY: env.secretKey,
    AWS_REGION: env.region,
    AWS_ENDPOINT_URL: env.endpoint,
  };
}

/** A fresh bucket, a store on `s3://bucket/prefix`, and s3cmd beside it. */
export interface TestBucket {
  bucket: string;
  store: S3Store;
  /** Opens another store on the same bucket and prefix (another server). */
  reopen(options?: S3StoreOptions): Promise<S3Store>;
  /** Runs `s3cmd` against the gateway; throws with its stderr on failure. */
  s3cmd(...args: string[]): Promise<Uint8Array>;
  /** Deletes every object, every unfinished upload and the bucket. */
  cleanup(): Promise<void>;
}

let serial = 0;

/** Makes a new bucket (`fts-test-…`) and a store on `s3://bucket/prefix`. */
export async function makeTestBucket(
  env: S3TestEnv,
  prefix = "root",
  options: S3StoreOptions = {},
): Promise<TestBucket> {
  const bucket = `fts-test-${Date.now().toString(36)}-${serial++}-${
    Math.random().toString(36).slice(2, 8)
  }`;
  const config = await Deno.makeTempFile({ prefix: "fts-s3cmd-" });
  const host = new URL(env.endpoint).host;
  await Deno.writeTextFile(
    config,
    [
      "[default]",
      `access_key = ${env.accessKey}`,
      `secret_key = ${env.secretKey}`,
      `host_base = ${host}`,
      `host_bucket = ${host}`,
      "use_https = False",
      "signature_v2 = False",
      `bucket_location = ${env.region}`,
      "",
    ].join("\n"),
  );
  const s3cmd = async (...args: string[]): Promise<Uint8Array> => {
    const output = await new Deno.Command("s3cmd", {
      args: ["-c", config, "--no-progress", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `s3cmd ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`,
      );
    }
    return output.stdout;
  };
  await s3cmd("mb", `s3://${bucket}`);
  const target = `s3://${bucket}/${prefix}`;
  const open = (extra: S3StoreOptions = {}) =>
    S3Store.open(target, { env: awsEnv(env), ...options, ...extra });
  const store = await open();
  return {
    bucket,
    store,
    reopen: open,
    s3cmd,
    async cleanup() {
      try {
        const uploads = new TextDecoder().decode(
          await s3cmd("multipart", `s3://${bucket}`),
        );
        for (const line of uploads.split("\n")) {
          const [, uri, id] = line.split("\t");
          if (uri?.startsWith("s3://") && id) {
            await s3cmd("abortmp", uri, id).catch(() => {});
          }
        }
        await s3cmd("rb", "--recursive", "--force", `s3://${bucket}`);
      } finally {
        await Deno.remove(config);
      }
    },
  };
}

/** What {@linkcode withS3Server} hands its test. */
export interface S3ServerWorld {
  bucket: TestBucket;
  /** The fts server serving `s3://BUCKET/served`, on 127.0.0.1. */
  server: FtsServer;
  /** A local temporary folder, removed afterwards. */
  work: string;
}

/**
 * Runs `fn` with a bucket of its own, an fts server serving its `served`
 * prefix and a local work folder, and removes all three afterwards.
 */
export async function withS3Server(
  env: S3TestEnv,
  fn: (world: S3ServerWorld) => Promise<void>,
): Promise<void> {
  const bucket = await makeTestBucket(env, "served");
  const server = await FtsServer.start({
    root: `s3://${bucket.bucket}/served`,
    hostname: "127.0.0.1",
    port: 0,
    log: null,
    s3: { env: awsEnv(env) },
  });
  const work = await Deno.makeTempDir({ prefix: "fts-s3-work-" });
  try {
    await fn({ bucket, server, work });
  } finally {
    await server.shutdown(1000);
    await bucket.store.close();
    await bucket.cleanup();
    await Deno.remove(work, { recursive: true });
  }
}
