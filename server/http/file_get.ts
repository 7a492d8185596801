/**
 * GET and HEAD of a file: validators (`ETag`, `Last-Modified`), conditional
 * requests (`If-None-Match`, `If-Modified-Since`, `If-Match`,
 * `If-Unmodified-Since`) and one byte range (`Range`, `If-Range`), as curl
 * `-C -` and browsers' resumed downloads use them.
 *
 * @module
 */

import type { Entry } from "../../protocol/messages.ts";
import type { HttpRequest } from "./context.ts";
import { readStream } from "./read_stream.ts";
import { sendfileResponse } from "./sendfile_response.ts";
import { contentTypeOf } from "./content_type.ts";

/** The strong entity tag of a file version: size and mtime. */
export function etagOf(entry: Entry): string {
  return `"${entry.size.toString(16)}-${Math.floor(entry.mtime).toString(16)}"`;
}

/** `Last-Modified` of an entry (HTTP dates have whole seconds). */
export function httpDate(mtime: number): string {
  return new Date(mtime).toUTCString();
}

/** Whether an `If-Match`/`If-None-Match` list names `etag` (or is `*`). */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(",").some((tag) => {
    const t = tag.trim().replace(/^W\//, "");
    return t === "*" || t === etag;
  });
}

/** Whether the entry changed after the HTTP date `since` (seconds precision). */
function modifiedSince(entry: Entry, since: string): boolean {
  const date = Date.parse(since);
  if (Number.isNaN(date)) return true;
  return Math.floor(entry.mtime / 1000) > Math.floor(date / 1000);
}

/** A byte range `[start, end]` (inclusive), or "unsatisfiable", or null for the whole file. */
function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Several ranges, or a unit we do not know: the whole file is a valid answer.
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

/** Answers GET or HEAD of the file `path` described by `entry`. */
export async function getFile(
  req: HttpRequest,
  entry: Entry,
): Promise<Response> {
  const { request } = req;
  const etag = etagOf(entry);
  const headers = new Headers({
    "etag": etag,
    "last-modified": httpDate(entry.mtime),
    "accept-ranges": "bytes",
    "content-type": contentTypeOf(entry.name),
    // Files are the users' content, served from the page's origin: never
    // let an uploaded HTML or SVG file run script there.
    "content-security-policy": "sandbox",
    "x-content-type-options": "nosniff",
  });
  const h = request.headers;
  const ifMatch = h.get("if-match");
  if (ifMatch !== null && !etagListMatches(ifMatch, etag)) {
    return new Response(null, { status: 412, headers });
  }
  const ifUnmodified = h.get("if-unmodified-since");
  if (
    ifMatch === null && ifUnmodified !== null &&
    modifiedSince(entry, ifUnmodified)
  ) {
    return new Response(null, { status: 412, headers });
  }
  const ifNoneMatch = h.get("if-none-match");
  const notModified = ifNoneMatch !== null
    ? etagListMatches(ifNoneMatch, etag)
    : h.get("if-modified-since") !== null &&
      !modifiedSince(entry, h.get("if-modified-since")!);
  if (notModified) return new Response(null, { status: 304, headers });

  let range = h.get("range") === null
    ? null
    : parseRange(h.get("range")!, entry.size);
  const ifRange = h.get("if-range");
  if (range !== null && ifRange !== null) {
    const current = ifRange.startsWith('"') || ifRange.startsWith("W/")
      ? ifRange === etag
      : !modifiedSince(entry, ifRange) &&
        Math.floor(entry.mtime / 1000) ===
          Math.floor(Date.parse(ifRange) / 1000);
    if (!current) range = null;
  }
  if (range === "unsatisfiable") {
    headers.set("content-range", `bytes */${entry.size}`);
    return new Response(null, { status: 416, headers });
  }
  const start = range?.start ?? 0;
  const length = range ? range.end - range.start + 1 : entry.size;
  headers.set("content-length", String(length));
  const status = range ? 206 : 200;
  if (range) {
    headers.set(
      "content-range",
      `bytes ${range.start}-${range.end}/${entry.size}`,
    );
  }
  if (request.method === "HEAD") {
    return new Response(null, { status, headers });
  }
  const handle = await req.ctx.store.open(req.path, start);
  const sent = await sendfileResponse(
    req,
    handle,
    status,
    headers,
    start,
    length,
  )
    .catch((error) => {
      handle.close();
      throw error;
    });
  if (sent) return sent;
  return new Response(
    readStream(handle, length, req.ctx.idleTimeoutMs),
    { status, headers },
  );
}
