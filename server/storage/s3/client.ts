/**
 * Signed requests to one S3 bucket, with retries and typed errors.
 *
 * Signing is `npm:aws4fetch` (SigV4 over `fetch`, one 96 KB package without
 * dependencies), loaded with a dynamic import the first time a client is
 * made, so `fts serve ./folder` never loads it. `@aws-sdk/client-s3` was the
 * alternative: ~17 MB, ~4 s to load the first time, and its PutObject fails in
 * Deno with a web ReadableStream body. Everything fts needs (ranged GET,
 * ListObjectsV2, multipart, CopyObject, DeleteObjects) is a handful of REST
 * calls with small XML bodies, written here and in `s3_xml.ts`.
 *
 * Payloads are sent as `UNSIGNED-PAYLOAD` (aws4fetch's default for S3), so a
 * part is not hashed twice; fts checks the whole file with its own checksum.
 *
 * Retries: network failures, timeouts, 5xx, 429 and S3's throttling codes are
 * retried with full-jitter exponential backoff; then one typed error whose
 * reason names the store's origin and the S3 error code, never a secret or a
 * signature. A store that cannot be reached is an `IoError` (the server's
 * storage failed), never a `ConnectionError`, which sessions keep for their
 * own client's link.
 *
 * @module
 */

import {
  AlreadyExistsError,
  type FtsError,
  IoError,
  NotFoundError,
} from "../../../protocol/errors.ts";
import type { S3Config } from "./config.ts";
import { xmlBlocks, xmlText } from "./xml.ts";

/** How hard the client tries before it gives up. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Backoff before the second attempt; doubles each time, with full jitter. */
  baseDelayMs: number;
  /** Longest wait between two attempts. */
  maxDelayMs: number;
  /** Time limit of one request until its answer's headers arrive. */
  timeoutMs: number;
}

/** Six attempts over about 15 s before an error; one minute per request. */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  timeoutMs: 60_000,
};

/** One S3 REST call. */
export interface S3Request {
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  /** Full object key (prefix included), or undefined for the bucket itself. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Bodies are whole buffers, so a retry can send them again. */
  body?: Uint8Array | string;
  /** Statuses that are answers, not errors (e.g. 404 for a HEAD probe). */
  accept?: number[];
}

/** An S3 error answer, before it becomes an {@linkcode FtsError}. */
export interface S3Failure {
  status: number;
  /** S3's error code (`NoSuchKey`, `SlowDown`, …), or `""` for a bodiless answer. */
  code: string;
}

const RETRY_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "InternalError",
  "ServiceUnavailable",
]);
const CREDENTIAL_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "AuthorizationHeaderMalformed",
]);

interface Signer {
  sign(url: string, init: RequestInit): Promise<Request>;
}

/** Encodes a key for a URL path: every byte but `/` and RFC 3986's unreserved. */
export function encodeKey(key: string): string {
  return key.split("/").map((segment) =>
    encodeURIComponent(segment).replace(
      /[!'()*]/g,
      (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
    )
  ).join("/");
}

/**
 * Talks to one bucket. Make it with {@linkcode S3Client.create}.
 *
 * @example
 * ```ts
 * const client = await S3Client.create(s3ConfigFrom("s3://photos/2026"));
 * const answer = await client.send({ method: "HEAD", key: "2026/a.jpg", accept: [404] });
 * ```
 */
export class S3Client {
  /** The bucket every request goes to. */
  readonly bucket: string;
  /** Where the store is, for messages (an origin: no credentials in it). */
  readonly origin: string;
  /** Retry settings, changeable by tests. */
  retry: RetryPolicy;
  /** Requests sent so far, by method (attempts counted), for tests and benchmarks. */
  readonly sent: Record<S3Request["method"], number> = {
    GET: 0,
    HEAD: 0,
    PUT: 0,
    POST: 0,
    DELETE: 0,
  };
  #signer: Signer;
  #base: string;

  private constructor(config: S3Config, signer: Signer, retry: RetryPolicy) {
    this.bucket = config.bucket;
    this.origin = config.endpoint;
    this.retry = retry;
    this.#signer = signer;
    const url = new URL(config.endpoint);
    this.#base = config.pathStyle
      ? `${url.origin}/${config.bucket}/`
      : `${url.protocol}//${config.bucket}.${url.host}/`;
  }

  /** Loads the signing library (once) and makes a client for `config`. */
  static async create(
    config: S3Config,
    retry: RetryPolicy = DEFAULT_RETRY,
  ): Promise<S3Client> {
    const { AwsClient } = await import("aws4fetch");
    const signer: Signer = new AwsClient({
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      sessionToken: config.sessionToken,
      service: "s3",
      region: config.region,
      retries: 0,
    });
    return new S3Client(config, signer, retry);
  }

  /**
   * Sends a request, retrying what may succeed on a second try, and returns
   * a 2xx answer (or one whose status is in `accept`). A GET answer's body
   * is the caller's to read or cancel; every other answer comes with its
   * body read already, so its connection goes back to the pool.
   *
   * @throws {FtsError} a typed error for every other answer; `what` (a
   * remote path) names the file in it.
   */
  async send(request: S3Request, what = ""): Promise<Response> {
    const url = new URL(this.#base + encodeKey(request.key ?? ""));
    for (const [name, value] of Object.entries(request.query ?? {})) {
      url.searchParams.set(name, value);
    }
    let last: S3Failure | Error | undefined;
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      if (attempt > 0) await this.#backoff(attempt);
      this.sent[request.method]++;
      let response: Response;
      // The time limit ends once the headers are in: a long body (a GET of
      // a large file) is the reader's business, not this limit's.
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new DOMException("timed out", "TimeoutError")),
        this.retry.timeoutMs,
      );
      try {
        const signed = await this.#signer.sign(url.toString(), {
          method: request.method,
          headers: request.headers,
          body: request.body as BodyInit | undefined,
          signal: controller.signal,
        });
        response = await fetch(signed);
      } catch (error) {
        last = error instanceof Error ? error : new Error(String(error));
        continue;
      } finally {
        clearTimeout(timer);
      }
      if (response.ok || request.accept?.includes(response.status)) {
        return request.method === "GET" ? response : await drained(response);
      }
      const failure = await failureOf(response);
      if (!retryable(failure)) throw this.error(failure, what);
      last = failure;
    }
    throw this.#gaveUp(last);
  }

  /** Sends a request and returns its whole answer as text. */
  async text(request: S3Request, what = ""): Promise<string> {
    return await (await this.send(request, what)).text();
  }

  /**
   * Throws the error a 200 answer may hold: CompleteMultipartUpload and
   * the copies can fail after their status line was sent.
   */
  checkAnswer(xml: string, what: string): void {
    const failed = xmlBlocks(xml, "Error")[0];
    if (failed !== undefined) {
      throw this.error(
        { status: 500, code: xmlText(failed, "Code") ?? "" },
        what,
      );
    }
  }

  /** The typed error for an S3 error answer about remote path `what`. */
  error(failure: S3Failure, what: string): FtsError {
    const { status, code } = failure;
    const detail = code ? `${status} ${code}` : `${status}`;
    if (code === "NoSuchBucket") {
      return new NotFoundError(
        `the bucket "${this.bucket}" does not exist at ${this.origin}`,
      );
    }
    if (CREDENTIAL_CODES.has(code)) {
      return new IoError(
        `the object store at ${this.origin} refused the server's credentials (${code})`,
      );
    }
    if (code === "AccessDenied" || (status === 403 && code === "")) {
      return new IoError(
        `the object store denied access to ${
          what ? `"${what}"` : `the bucket "${this.bucket}"`
        } (${detail})`,
      );
    }
    if (code === "NoSuchKey" || code === "NoSuchUpload" || status === 404) {
      return new NotFoundError("no such file or folder on the server");
    }
    if (code === "PreconditionFailed" || status === 412) {
      return new AlreadyExistsError(`"${what}" already exists`);
    }
    return new IoError(`the object store refused the request (${detail})`);
  }

  /**
   * The error after the last retry. An `IoError`, not a `ConnectionError`:
   * to a session a ConnectionError means its own client's link is gone, so
   * it would drop the connection instead of telling the client why.
   */
  #gaveUp(last: S3Failure | Error | undefined): FtsError {
    const tries = `${this.retry.attempts} attempts`;
    if (last instanceof Error) {
      const why = last.name === "TimeoutError"
        ? `no answer within ${this.retry.timeoutMs / 1000} s`
        : "the connection failed";
      return new IoError(
        `the object store at ${this.origin} cannot be reached (${why}, ${tries})`,
        { cause: last },
      );
    }
    const detail = last ? `${last.status} ${last.code}`.trim() : "";
    return new IoError(
      `the object store at ${this.origin} keeps failing (${detail}, ${tries})`,
    );
  }

  async #backoff(attempt: number): Promise<void> {
    const cap = Math.min(
      this.retry.maxDelayMs,
      this.retry.baseDelayMs * 2 ** (attempt - 1),
    );
    await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
  }
}

/**
 * The answer with its (small) body read to the end. A body left unread, or
 * cancelled, costs the connection: the next request then opens a new one,
 * which measured ~40 ms a request on the local gateway. Only GET answers,
 * which may be large files, are left for the caller to stream.
 */
async function drained(response: Response): Promise<Response> {
  const body = await response.arrayBuffer();
  return new Response(body.byteLength ? body : null, {
    status: response.status,
    headers: response.headers,
  });
}

/** Whether a failure may go away on its own (throttling, 5xx). */
function retryable(failure: S3Failure): boolean {
  return failure.status >= 500 || failure.status === 429 ||
    RETRY_CODES.has(failure.code);
}

/** Reads the error code of an error answer (HEAD answers have no body). */
async function failureOf(response: Response): Promise<S3Failure> {
  const body = await response.text().catch(() => "");
  return { status: response.status, code: xmlText(body, "Code") ?? "" };
}

/** The `x-amz-copy-source` header's value for `key` in the client's bucket. */
export function copySource(client: S3Client, key: string): string {
  return `/${client.bucket}/${encodeKey(key)}`;
}
