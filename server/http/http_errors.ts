/**
 * The one place where a typed fts error becomes an HTTP status. Reasons name
 * remote paths only (the storage core guarantees it), so they may be shown.
 *
 * @module
 */

import { type ErrorCode, FtsError, IoError } from "../../protocol/errors.ts";

/** HTTP status of each error kind. */
const STATUS: Record<ErrorCode, number> = {
  not_found: 404,
  exists: 412,
  wrong_type: 409,
  invalid_path: 400,
  read_only: 403,
  protocol: 400,
  integrity: 400,
  busy: 503,
  auth: 401,
  connection: 400,
  no_space: 507,
  permission: 403,
  io: 500,
};

/** An error that answers with a given status (a request-level refusal). */
export class HttpError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** Extra response headers (`Allow`, `WWW-Authenticate`). */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** The status and one-line text of any error thrown while answering. */
export function statusOf(error: unknown): { status: number; text: string } {
  if (error instanceof HttpError) {
    return { status: error.status, text: error.message };
  }
  const typed = error instanceof FtsError
    ? error
    : new IoError("the server failed", { cause: error });
  return { status: STATUS[typed.code], text: typed.message };
}

/** A plain-text error response. */
export function errorResponse(error: unknown, method: string): Response {
  const { status, text } = statusOf(error);
  const headers = new Headers(
    error instanceof HttpError ? error.headers : {},
  );
  headers.set("content-type", "text/plain; charset=utf-8");
  return new Response(method === "HEAD" ? null : `${text}\n`, {
    status,
    headers,
  });
}
