/**
 * One HTTP request from start to answer: login, path decoding, the read-only
 * and lock checks, dispatch by method, errors mapped to statuses, and one
 * log line in the server log's format.
 *
 * @module
 */

import type { HttpContext, HttpRequest } from "./context.ts";
import { errorResponse, HttpError, statusOf } from "./http_errors.ts";
import { rawPathOf, remotePathOf } from "./request_path.ts";
import { handleDelete, handleGet, handlePut } from "./file_handlers.ts";
import { handlePropfind, handleProppatch } from "./webdav/props.ts";
import { handleCopyMove, handleMkcol } from "./webdav/collections.ts";
import { handleTus, isTus, TUS_OPTIONS_HEADERS } from "./tus_uploads.ts";
import { CSRF_HEADER } from "./browser_login.ts";
import { assetResponse } from "./page/assets.ts";
import {
  errorPageResponse,
  isNavigation,
  pageResponse,
} from "./page/page_html.ts";
import { refuseBody } from "./request_body.ts";
import {
  checkLocks,
  handleLock,
  handleUnlock,
  writeTargets,
} from "./webdav/locks.ts";

/** Methods this front-end answers, for `Allow`. */
export const METHODS =
  "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, POST, PATCH";

/** Methods that change something. */
const WRITES = new Set([
  "POST",
  "PATCH",
  "PUT",
  "DELETE",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
]);

/** Methods that take no request body: one is refused before it is read. */
const NO_BODY = new Set([
  "GET",
  "HEAD",
  "DELETE",
  "MKCOL",
  "COPY",
  "MOVE",
  "UNLOCK",
  "OPTIONS",
]);

/** Longest request URL accepted. */
const MAX_URL = 8192;

type Handler = (req: HttpRequest) => Response | Promise<Response>;

const HANDLERS: Record<string, Handler> = {
  GET: handleGet,
  HEAD: handleGet,
  PUT: async (req) => {
    await checkLocks(req, writeTargets(req.path, false));
    return await handlePut(req);
  },
  DELETE: async (req) => {
    await checkLocks(req, writeTargets(req.path, true));
    return await handleDelete(req);
  },
  MKCOL: async (req) => {
    await checkLocks(req, writeTargets(req.path, false));
    return await handleMkcol(req);
  },
  PROPPATCH: async (req) => {
    await checkLocks(req, [{ path: req.path, deep: false }]);
    return await handleProppatch(req);
  },
  PROPFIND: handlePropfind,
  COPY: handleCopyMove,
  MOVE: handleCopyMove,
  LOCK: handleLock,
  UNLOCK: handleUnlock,
};

function options(): Response {
  return new Response(null, {
    headers: {
      "dav": "1, 2",
      "allow": METHODS,
      "ms-author-via": "DAV",
      "accept-ranges": "bytes",
      ...TUS_OPTIONS_HEADERS,
    },
  });
}

/** Methods that only read, allowed on a page session without the CSRF header. */
const SAFE = new Set(["GET", "HEAD", "PROPFIND"]);

/** What {@linkcode login} decided. */
type Login =
  | { kind: "open" }
  | { kind: "user"; name: string; readOnly: boolean }
  | { kind: "page" };

/**
 * Who a request is from: a page session (cookie), a Basic login, or nobody
 * yet — a browser navigating without either gets the page, which shows its
 * login form.
 */
async function login(
  ctx: HttpContext,
  request: Request,
  url: URL,
  peerHost: string,
): Promise<Login> {
  if (!ctx.auth || !ctx.browser) return { kind: "open" };
  const fromPage = request.headers.get(CSRF_HEADER) === "fts";
  const session = ctx.browser.user(request);
  if (session) {
    if (!SAFE.has(request.method) && !fromPage) {
      throw new HttpError(403, "a write from the page needs its CSRF header");
    }
    return { kind: "user", ...session };
  }
  const authorization = request.headers.get("authorization");
  if (
    authorization === null && request.method === "GET" &&
    (request.headers.get("accept") ?? "").includes("text/html") &&
    !url.searchParams.has("json") && !url.searchParams.has("zip")
  ) {
    return { kind: "page" };
  }
  // The page handles its own 401; a challenge would pop up the browser's.
  const challenge: Record<string, string> = fromPage
    ? {}
    : { "www-authenticate": 'Basic realm="fts", charset="UTF-8"' };
  if (authorization === null) {
    throw new HttpError(401, "a login is needed", challenge);
  }
  if (!ctx.tls && !ctx.allowBasicInsecure) {
    throw new HttpError(
      403,
      "this server needs a login, and Basic logins over plain HTTP are off " +
        "(serve with --tls, or --http-allow-basic-insecure)",
    );
  }
  const user = await ctx.auth.check(authorization, peerHost);
  if (!user) throw new HttpError(401, "a login is needed", challenge);
  return { kind: "user", ...user };
}

/**
 * Refuses a request whose URL is too long or carries a fragment, or whose
 * Host is not a name of this server.
 */
function checkTarget(ctx: HttpContext, request: Request): void {
  if (request.url.length > MAX_URL) {
    throw new HttpError(414, "the URL is too long");
  }
  if (request.url.includes("#")) {
    // A fragment never belongs in a request; acting on the path before it
    // would delete something the client did not name.
    throw new HttpError(400, "the URL contains a fragment");
  }
  const host = request.headers.get("host") ?? new URL(request.url).host;
  if (!ctx.hosts.allows(host)) {
    // DNS rebinding: a page on an attacker's name pointed at this server.
    throw new HttpError(
      421,
      `${JSON.stringify(host.slice(0, 100))} is not a name of this server ` +
        "(serve with --http-host NAME to allow it)",
    );
  }
}

/** Answers one request. */
export async function route(
  ctx: HttpContext,
  request: Request,
  peer: Deno.NetAddr,
): Promise<Response> {
  const started = performance.now();
  // Case-sensitive (RFC 9110 §9.1): a lowercase "move" is no MOVE.
  const method = request.method;
  let path: string | undefined;
  let user: string | undefined;
  let response: Response;
  let failure: string | undefined;
  try {
    checkTarget(ctx, request);
    if (NO_BODY.has(method)) refuseBody(method, request.headers);
    const raw = rawPathOf(request.url);
    path = remotePathOf(raw);
    const url = new URL(request.url);
    if (method === "OPTIONS") {
      response = options();
    } else if (
      (method === "GET" || method === "HEAD") && url.searchParams.has("asset")
    ) {
      // The page's own files are public: the login form needs them.
      response = await assetResponse(url.searchParams.get("asset")!, request);
    } else if (
      ctx.browser &&
      (url.searchParams.has("login") || url.searchParams.has("logout"))
    ) {
      response = await ctx.browser.handle(request, url, peer.hostname);
    } else {
      const who = await login(ctx, request, url, peer.hostname);
      if (who.kind === "page") {
        response = pageResponse();
      } else {
        user = who.kind === "user" ? who.name : undefined;
        const tus = isTus(request, url);
        const handler = tus ? handleTus : HANDLERS[method];
        if (!handler) {
          throw new HttpError(405, `${method} is not supported`, {
            allow: METHODS,
          });
        }
        const readOnly = ctx.readOnly || (who.kind === "user" && who.readOnly);
        if (readOnly && (WRITES.has(method) || (tus && method !== "HEAD"))) {
          throw new HttpError(403, "the server is read-only for you");
        }
        response = await handler({
          request,
          url,
          path,
          slash: raw.endsWith("/"),
          readOnly,
          user,
          peer: peer.hostname,
          peerAddress: peer,
          ctx,
        });
      }
    }
  } catch (error) {
    const { status, text } = statusOf(error);
    const url = URL.parse(request.url);
    response = url && status !== 401 && isNavigation(request, url)
      ? await errorPageResponse(
        status,
        text,
        ctx.store,
        path,
        error instanceof HttpError ? error.headers : {},
      )
      : errorResponse(error, method);
    failure = text;
    if (request.body && !request.bodyUsed) {
      // Leave nothing unread behind for the connection's next request.
      request.body.cancel().catch(() => {});
    }
  }
  const length = Number(response.headers.get("content-length") ?? NaN);
  ctx.log.record({
    peer: `${peer.hostname}:${peer.port}`,
    op: `http ${method}`,
    path,
    bytes: Number.isNaN(length) ? undefined : length,
    ms: performance.now() - started,
    result: `${response.status}${
      user === undefined ? "" : ` ${JSON.stringify(user)}`
    }${failure ? `: ${failure}` : ""}`,
  });
  return response;
}
