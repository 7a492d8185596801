/**
 * Small request bodies read whole into memory (login steps, PROPFIND,
 * PROPPATCH and LOCK bodies): refused past a size limit, from the headers
 * when `Content-Length` says so, and cut off with 408 when the whole body has
 * not arrived within a deadline, so a client that stops half-way frees its
 * request slot. Also the check that refuses a body, from the headers, for
 * methods that take none.
 *
 * @module
 */

import { concat } from "@std/bytes/concat";
import { HttpError } from "./http_errors.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The body of `request` as UTF-8 text ("" when there is none).
 *
 * @param limit most bytes accepted
 * @param deadlineMs time the whole body may take to arrive
 * @throws {HttpError} 413 past `limit`, 408 when the body is not complete
 * within `deadlineMs`, 400 when it is not UTF-8.
 */
export async function readLimitedText(
  request: Request,
  limit: number,
  deadlineMs: number,
): Promise<string> {
  if (!request.body) return "";
  if (declaredLength(request.headers) > limit) {
    throw new HttpError(413, `the request body is over ${limit} bytes`);
  }
  const reader = request.body.getReader();
  // One deadline for the whole body, not per read: a body this small has
  // no reason to trickle, and a trickle must not hold a request slot.
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    reader.cancel().catch(() => {});
  }, deadlineMs);
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const next = await reader.read().catch((error) => {
        if (late) return null;
        throw error;
      });
      if (late || next === null) {
        throw new HttpError(408, "the client stopped sending the body");
      }
      if (next.done) break;
      const value = next.value;
      total += value.byteLength;
      if (total > limit) {
        throw new HttpError(413, `the request body is over ${limit} bytes`);
      }
      parts.push(value);
    }
  } finally {
    clearTimeout(timer);
    if (total > limit) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const all: Uint8Array = concat(parts);
  try {
    return strictUtf8.decode(all);
  } catch {
    throw new HttpError(400, "the request body is not UTF-8");
  }
}

/** The `Content-Length` of a request (0 when absent or malformed). */
function declaredLength(headers: Headers): number {
  const length = Number(headers.get("content-length") ?? 0);
  return Number.isFinite(length) ? length : 0;
}

/**
 * Refuses a body for a method that takes none, from the headers alone,
 * before a byte of it is read (MKCOL answers 415 as RFC 4918 says).
 *
 * @throws {HttpError} 415 for MKCOL, 413 for the others.
 */
export function refuseBody(method: string, headers: Headers): void {
  const length = headers.get("content-length");
  const chunked = headers.has("transfer-encoding");
  if (!chunked && (length === null || /^\s*0+\s*$/.test(length))) return;
  throw new HttpError(
    method === "MKCOL" ? 415 : 413,
    `${method} takes no request body`,
  );
}
