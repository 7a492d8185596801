/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * One file's upload with the server's tus endpoint: create, ask the offset,
 * then append 4 MiB chunks. Each chunk is read from the file only when it is
 * sent and carries its SHA-256 (`Upload-Checksum`, tus's checksum
 * extension), which the server checks as the bytes arrive: any file size
 * works in bounded memory, and every byte is verified end to end. A cut
 * connection resumes from the offset the server reports; cancelling drops
 * the bytes the server staged.
 *
 * @module
 */

import { api, explain, PageError, send } from "./api.ts";

/** Bytes per PATCH: small enough to hold, large enough to keep the link busy. */
export const CHUNK = 4 * 1024 * 1024;
const TUS = { "tus-resumable": "1.0.0" };
/** Statuses after which a retry from the server's offset can succeed. */
const RETRY = new Set([0, 409, 423, 460, 500, 502, 503, 504]);
const MAX_FAILURES = 5;

/** The person cancelled the upload. */
export class UploadCancelled extends Error {
  constructor() {
    super("cancelled");
  }
}

const b64 = (text: string) => new TextEncoder().encode(text).toBase64();

/** One file going to a folder of the server. */
export class FileUpload {
  /** Bytes the server has confirmed or is receiving. */
  sent = 0;
  readonly file: File;
  /** Path shown to the person, relative to the page's folder. */
  readonly path: string;
  readonly #folderUrl: string;
  readonly #onProgress: (sent: number) => void;
  #xhr: XMLHttpRequest | null = null;
  #url: string | null = null;
  #cancelled = false;

  /**
   * @param folderUrl URL path of the folder the file goes to (ends in `/`).
   * @param onProgress called with the bytes sent so far.
   */
  constructor(
    file: File,
    path: string,
    folderUrl: string,
    onProgress: (sent: number) => void,
  ) {
    this.file = file;
    this.path = path;
    this.#folderUrl = folderUrl;
    this.#onProgress = onProgress;
  }

  /** Stops the upload; {@linkcode run} then rejects with {@linkcode UploadCancelled}. */
  cancel(): void {
    this.#cancelled = true;
    this.#xhr?.abort();
  }

  get #action(): string {
    return `upload “${this.path}”`;
  }

  /** Uploads the whole file; resolves once the server committed it. */
  async run(): Promise<void> {
    try {
      await this.#transfer();
    } catch (error) {
      if (this.#cancelled) {
        await this.#terminate();
        throw new UploadCancelled();
      }
      throw error;
    }
  }

  async #transfer(): Promise<void> {
    const name = this.path.slice(this.path.lastIndexOf("/") + 1);
    const created = await send(this.#action, () =>
      api(this.#folderUrl, {
        method: "POST",
        headers: {
          ...TUS,
          "upload-length": String(this.file.size),
          "upload-metadata": `filename ${b64(name)},lastModified ${
            b64(String(this.file.lastModified))
          }`,
        },
      }));
    this.#url = created.headers.get("location");
    let offset = await this.#serverOffset();
    for (let failures = 0;;) {
      if (this.#cancelled) throw new UploadCancelled();
      try {
        offset = await this.#sendChunk(offset);
        failures = 0;
        if (offset >= this.file.size) return;
      } catch (error) {
        const status = error instanceof PageError ? error.status : 0;
        if (
          this.#cancelled || !RETRY.has(status) || ++failures > MAX_FAILURES
        ) {
          throw error;
        }
        await new Promise((r) => setTimeout(r, 300 * failures));
        offset = await this.#serverOffset();
      }
    }
  }

  /** The bytes the server holds (where to go on). */
  async #serverOffset(): Promise<number> {
    const head = await send(
      this.#action,
      () => api(this.#url!, { method: "HEAD", headers: TUS }),
    );
    const offset = Number(head.headers.get("upload-offset")) || 0;
    this.#progress(offset);
    return offset;
  }

  /** Reads, hashes and sends the chunk at `offset`; answers the new offset. */
  async #sendChunk(offset: number): Promise<number> {
    const end = Math.min(offset + CHUNK, this.file.size);
    const bytes = new Uint8Array(
      await this.file.slice(offset, end).arrayBuffer(),
    );
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    // A cancel while the chunk was read finds no request to abort.
    if (this.#cancelled) throw new UploadCancelled();
    return await new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      this.#xhr = x;
      x.open("PATCH", this.#url!);
      x.setRequestHeader("tus-resumable", TUS["tus-resumable"]);
      x.setRequestHeader("x-requested-with", "fts");
      x.setRequestHeader("upload-offset", String(offset));
      x.setRequestHeader("upload-checksum", `sha256 ${digest.toBase64()}`);
      x.setRequestHeader("content-type", "application/offset+octet-stream");
      x.upload.onprogress = (e) => this.#progress(offset + e.loaded);
      const fail = (status: number, text: string) =>
        reject(
          new PageError(
            `Cannot ${this.#action}: ${explain(status, text)}.`,
            status,
          ),
        );
      x.onload = () => {
        if (x.status !== 204) return fail(x.status, x.responseText);
        const at = Number(x.getResponseHeader("upload-offset"));
        this.#progress(at);
        resolve(at);
      };
      x.onerror = () => fail(0, "");
      x.onabort = () => reject(new UploadCancelled());
      x.send(bytes);
    });
  }

  #progress(sent: number): void {
    this.sent = sent;
    this.#onProgress(sent);
  }

  /**
   * Drops the staged bytes. The cut PATCH may still hold the upload on the
   * server for a moment (423), so this asks a few times.
   */
  async #terminate(): Promise<void> {
    if (!this.#url) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await api(this.#url, { method: "DELETE", headers: TUS })
        .catch(() => null);
      if (r && r.status !== 423) return;
      await new Promise((ok) => setTimeout(ok, 200 * (attempt + 1)));
    }
  }
}
