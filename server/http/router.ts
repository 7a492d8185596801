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
import { handlePropfind, handleProppatch } from "./webdav_props.ts";
import { handleCopyMove, handleMkcol } from "./webdav_collections.ts";
import { handleTus, isTus, TUS_OPTIONS_HEADERS } from "./tus_uploads.ts";
import {
  checkLocks,
  handleLock,
  handleUnlock,
  writeTargets,
} from "./webdav_locks.ts";

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

/** The user of a request, or a refusal. */
async function login(
  ctx: HttpContext,
  request: Request,
  peerHost: string,
): Promise<{ name: string; readOnly: boolean } | null> {
  if (!ctx.auth) return null;
  if (!ctx.tls && !ctx.allowBasicInsecure) {
    throw new HttpError(
      403,
      "this server needs a login, and Basic logins over plain HTTP are off " +
        "(serve with --tls, or --http-allow-basic-insecure)",
    );
  }
  const user = await ctx.auth.check(
    request.headers.get("authorization"),
    peerHost,
  );
  if (!user) {
    throw new HttpError(401, "a login is needed", {
      "www-authenticate": 'Basic realm="fts", charset="UTF-8"',
    });
  }
  return user;
}

/** Answers one request. */
export async function route(
  ctx: HttpContext,
  request: Request,
  peer: Deno.NetAddr,
): Promise<Response> {
  const started = performance.now();
  const method = request.method.toUpperCase();
  let path: string | undefined;
  let user: string | undefined;
  let response: Response;
  let failure: string | undefined;
  try {
    if (request.url.length > MAX_URL) {
      throw new HttpError(414, "the URL is too long");
    }
    if (request.url.includes("#")) {
      // A fragment never belongs in a request; acting on the path before it
      // would delete something the client did not name.
      throw new HttpError(400, "the URL contains a fragment");
    }
    const raw = rawPathOf(request.url);
    path = remotePathOf(raw);
    if (method === "OPTIONS") {
      response = options();
    } else {
      const who = await login(ctx, request, peer.hostname);
      user = who?.name;
      const url = new URL(request.url);
      const tus = isTus(request, url);
      const handler = tus ? handleTus : HANDLERS[method];
      if (!handler) {
        throw new HttpError(405, `${method} is not supported`, {
          allow: METHODS,
        });
      }
      const readOnly = ctx.readOnly || (who?.readOnly ?? false);
      if (readOnly && (WRITES.has(method) || (tus && method !== "HEAD"))) {
        throw new HttpError(403, "the server is read-only for you");
      }
      response = await handler({
        request,
        url,
        path,
        slash: raw.endsWith("/"),
        readOnly,
        ctx,
      });
    }
  } catch (error) {
    response = errorResponse(error, method);
    failure = statusOf(error).text;
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
