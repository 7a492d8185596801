/**
 * Reading an S3 object from an offset as a {@linkcode ReadHandle}: one ranged
 * GET whose body is read as it comes. A body that breaks off (a timeout, a
 * gateway restart) is picked up again with another ranged GET from the
 * position reached, pinned with `If-Match` to the ETag of the first answer,
 * so a file replaced meanwhile is never read half old, half new.
 *
 * @module
 */

import { type FtsError, IoError } from "../../../protocol/errors.ts";
import type { Entry } from "../../../protocol/messages.ts";
import type { S3Client } from "./client.ts";
import type { ReadHandle } from "../store.ts";

/** Entry of an object from the headers of a HEAD or GET answer. */
export function entryFromHeaders(name: string, headers: Headers): Entry {
  const range = headers.get("content-range");
  const size = range
    ? Number(range.slice(range.lastIndexOf("/") + 1))
    : Number(headers.get("content-length") ?? 0);
  return {
    name,
    type: "file",
    size,
    mtime: mtimeFromMeta(headers.get("x-amz-meta-mtime")) ??
      (Date.parse(headers.get("last-modified") ?? "") || 0),
    mode: modeFromMeta(headers.get("x-amz-meta-mode")),
  };
}

/**
 * Modification time from `x-amz-meta-mtime`: seconds since the epoch with a
 * fraction, as rclone writes it (and s3fs reads its integer part).
 */
export function mtimeFromMeta(value: string | null): number | undefined {
  const seconds = Number(value ?? NaN);
  return Number.isFinite(seconds) && seconds >= 0
    ? Math.round(seconds * 1000)
    : undefined;
}

/** `x-amz-meta-mtime`'s value for a time in milliseconds. */
export function mtimeMeta(mtime: number): string {
  return (mtime / 1000).toFixed(3);
}

/** Permission bits from `x-amz-meta-mode` (octal, type bits allowed, as rclone). */
export function modeFromMeta(value: string | null): number | null {
  if (!value || !/^[0-7]{1,7}$/.test(value)) return null;
  return parseInt(value, 8) & 0o7777;
}

/** `x-amz-meta-mode`'s value: octal with the file-type bits, as rclone writes it. */
export function modeMeta(mode: number, folder: boolean): string {
  return ((folder ? 0o40000 : 0o100000) | (mode & 0o7777)).toString(8);
}

/** How often a broken-off body is picked up again before reading fails. */
const READ_RESUMES = 3;

/** A {@linkcode ReadHandle} over a ranged GET. */
export class S3ReadHandle implements ReadHandle {
  readonly entry: Entry;
  #client: S3Client;
  #key: string;
  #what: string;
  #etag: string | null;
  #position: number;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null;
  #pending: Uint8Array | null = null;
  #closed = false;

  private constructor(
    client: S3Client,
    key: string,
    what: string,
    response: Response | null,
    entry: Entry,
    position: number,
  ) {
    this.#client = client;
    this.#key = key;
    this.#what = what;
    this.entry = entry;
    this.#position = position;
    this.#etag = response?.headers.get("etag") ?? null;
    this.#reader = response?.body?.getReader() ?? null;
  }

  /**
   * Opens object `key` (remote path `what`, entry name `name`) at `offset`.
   *
   * @throws {NotFoundError} when there is no such object.
   */
  static async open(
    client: S3Client,
    key: string,
    what: string,
    name: string,
    offset: number,
  ): Promise<S3ReadHandle> {
    const response = await client.send({
      method: "GET",
      key,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : undefined,
      accept: [416],
    }, what);
    if (response.status === 416) {
      // The offset is at or past the end: nothing to read, but the entry.
      await response.arrayBuffer();
      const head = await client.send({ method: "HEAD", key }, what);
      const entry = entryFromHeaders(name, head.headers);
      return new S3ReadHandle(client, key, what, null, entry, entry.size);
    }
    const entry = entryFromHeaders(name, response.headers);
    return new S3ReadHandle(client, key, what, response, entry, offset);
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new IoError(`"${this.#what}" is closed`);
    for (let resumes = 0;; resumes++) {
      if (!this.#pending) {
        if (!this.#reader || this.#position >= this.entry.size) return null;
        try {
          const { value, done } = await this.#next(this.#reader);
          if (done) {
            if (this.#position >= this.entry.size) return null;
            throw new IoError("the object store ended the body early");
          }
          this.#pending = value;
        } catch (error) {
          if (resumes >= READ_RESUMES) {
            throw new IoError(
              `reading "${this.#what}" from the object store broke off`,
              { cause: error },
            );
          }
          await this.#reopen();
          continue;
        }
      }
      const pending: Uint8Array = this.#pending;
      const n = Math.min(buffer.length, pending.length);
      buffer.set(pending.subarray(0, n));
      this.#pending = n < pending.length ? pending.subarray(n) : null;
      this.#position += n;
      return n;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader?.cancel().catch(() => {});
  }

  /**
   * The next chunk of the body, or a TimeoutError when none comes within the
   * client's request time limit (a stalled connection is then asked again).
   */
  async #next(
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ): Promise<ReadableStreamReadResult<Uint8Array>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DOMException("no data", "TimeoutError")),
        this.#client.retry.timeoutMs,
      );
    });
    try {
      return await Promise.race([reader.read(), stalled]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks again from the position reached, for the same version only. */
  async #reopen(): Promise<void> {
    this.#reader?.cancel().catch(() => {});
    this.#reader = null;
    const headers: Record<string, string> = {
      range: `bytes=${this.#position}-`,
    };
    if (this.#etag) headers["if-match"] = this.#etag;
    let response: Response;
    try {
      response = await this.#client.send(
        { method: "GET", key: this.#key, headers },
        this.#what,
      );
    } catch (error) {
      const typed = error as FtsError;
      if (typed.code === "exists") {
        // 412 on If-Match: the object was replaced while it was being read.
        throw new IoError(`"${this.#what}" changed on the server while read`);
      }
      throw error;
    }
    this.#reader = response.body?.getReader() ?? null;
  }
}
