/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The page's requests to its server: the folder it shows, URL building, and
 * the server's refusals turned into sentences for people ("a file with that
 * name exists", not a status line).
 *
 * @module
 */

/** The folder this page shows, as a URL path ending in `/`. */
export const here: string = location.pathname.endsWith("/")
  ? location.pathname
  : `${location.pathname}/`;

/** Percent-encodes each segment of a relative path. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** The URL path of `name` (a relative path) inside this folder. */
export function urlOf(name: string, folder = false): string {
  return here + encodePath(name) + (folder ? "/" : "");
}

/**
 * `fetch` with the header that marks the page's own requests: the server's
 * CSRF guard refuses writes from a session cookie without it.
 */
export function api(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("x-requested-with", "fts");
  return fetch(url, { ...init, headers });
}

/** A request the server refused, worded for the person who asked. */
export class PageError extends Error {
  /** The HTTP status, 0 when the connection failed. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** What a status means to someone who asked to `action` (e.g. `rename "a.txt"`). */
export function explain(status: number, serverText: string): string {
  switch (status) {
    case 0:
      return "the server cannot be reached; check the connection";
    case 401:
      return "your login has ended; reload the page to log in again";
    case 403:
      return /read-only/.test(serverText)
        ? "you may only read here"
        : "the server does not allow it";
    case 404:
      return "it is not there any more (moved or deleted meanwhile?)";
    case 405:
    case 412:
      return "a file or folder with that name exists";
    case 409:
      return "the folder it goes into does not exist";
    case 413:
      return "it is too large for this server";
    case 421:
      return "the server does not answer to this address (see --http-host)";
    case 423:
      return "another program has locked it";
    case 429:
      return "too many attempts; wait a minute and try again";
    case 460:
      return "the bytes arrived damaged";
    case 507:
      return "the server's disk is full";
    default:
      return serverText.trim() || `the server answered ${status}`;
  }
}

/** Throws a {@linkcode PageError} worded for `action` unless `response` is OK. */
export async function expectOk(
  response: Response,
  action: string,
): Promise<Response> {
  if (response.ok) return response;
  const text = await response.text().catch(() => "");
  throw new PageError(
    `Cannot ${action}: ${explain(response.status, text)}.`,
    response.status,
  );
}

/** Runs `request`; a failed connection becomes a worded {@linkcode PageError}. */
export async function send(
  action: string,
  request: () => Promise<Response>,
): Promise<Response> {
  let response: Response;
  try {
    response = await request();
  } catch {
    throw new PageError(`Cannot ${action}: ${explain(0, "")}.`, 0);
  }
  return await expectOk(response, action);
}
