/**
 * Where an `s3://BUCKET[/PREFIX]` target lives and how to sign for it, from
 * the target and the variables every S3 tool reads (`AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
 * `AWS_ENDPOINT_URL`). Kept apart from the client so that `storage/open.ts`
 * can recognise an S3 target without loading anything S3-specific.
 *
 * @module
 */

import { InvalidPathError, IoError } from "../../../protocol/errors.ts";

/** Everything the S3 client needs; the secret never leaves it. */
export interface S3Config {
  bucket: string;
  /** Key prefix of the served root: `""` or ending in `/`. */
  prefix: string;
  /** Origin of the S3 API, e.g. `https://s3.eu-west-1.amazonaws.com`. */
  endpoint: string;
  region: string;
  /** Bucket in the path (`endpoint/bucket/key`) rather than the host name. */
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Whether a serve target names an S3 bucket rather than a folder. */
export function isS3Target(target: string): boolean {
  return target.startsWith("s3://");
}

/** Overrides of what the environment says (command-line options, tests). */
export interface S3ConfigOverrides {
  /** `--s3-path-style` (true) or `--s3-virtual-host` (false). */
  pathStyle?: boolean;
  /** The variables to read instead of `Deno.env` (tests). */
  env?: Record<string, string | undefined>;
}

/**
 * Parses `s3://BUCKET[/PREFIX]` and reads credentials and endpoint.
 *
 * Path-style addressing is the default when `AWS_ENDPOINT_URL` is given
 * (self-hosted stores rarely have wildcard DNS for bucket names), virtual
 * hosts otherwise (what AWS wants).
 *
 * @throws {InvalidPathError} for a malformed target.
 * @throws {IoError} for missing credentials or a malformed endpoint.
 */
export function s3ConfigFrom(
  target: string,
  overrides: S3ConfigOverrides = {},
): S3Config {
  const read = (name: string): string | undefined => {
    const value = overrides.env ? overrides.env[name] : Deno.env.get(name);
    return value === "" ? undefined : value;
  };
  if (!isS3Target(target)) {
    throw new InvalidPathError(`"${target}" is not an s3:// address`);
  }
  const [bucket, ...rest] = target.slice("s3://".length).split("/");
  if (!/^[a-z0-9][a-z0-9.\-_]{2,62}$/i.test(bucket)) {
    throw new InvalidPathError(`"${bucket}" is not a valid bucket name`);
  }
  const segments = rest.filter((segment) => segment !== "");
  if (segments.some((segment) => segment === "." || segment === "..")) {
    throw new InvalidPathError("the S3 prefix must not contain . or ..");
  }
  const accessKeyId = read("AWS_ACCESS_KEY_ID");
  const secretAccessKey = read("AWS_SECRET_ACCESS_KEY");
  if (!accessKeyId || !secretAccessKey) {
    throw new IoError(
      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to serve s3://",
    );
  }
  const region = read("AWS_REGION") ?? read("AWS_DEFAULT_REGION") ??
    "us-east-1";
  const custom = read("AWS_ENDPOINT_URL_S3") ?? read("AWS_ENDPOINT_URL");
  let endpoint: string;
  try {
    endpoint = new URL(custom ?? `https://s3.${region}.amazonaws.com`).origin;
  } catch {
    throw new IoError("AWS_ENDPOINT_URL is not a valid URL");
  }
  return {
    bucket,
    prefix: segments.length ? segments.join("/") + "/" : "",
    endpoint,
    region,
    pathStyle: overrides.pathStyle ?? custom !== undefined,
    accessKeyId,
    secretAccessKey,
    sessionToken: read("AWS_SESSION_TOKEN"),
  };
}
