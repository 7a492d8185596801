/**
 * MKCOL, COPY and MOVE. `Destination` must name a path on this server (it
 * goes through the same decoding and the same store, so it stays in the
 * jail); `Overwrite: F` refuses an existing target with 412, otherwise the
 * target is replaced (204) or created (201).
 *
 * @module
 */

import type { HttpRequest } from "../context.ts";
import { HttpError } from "../http_errors.ts";
import { statOrNull } from "../file_handlers.ts";
import { isWithin, parentOf } from "../paths.ts";
import { rawPathOf, remotePathOf } from "../request_path.ts";
import { checkLocks, writeTargets } from "./locks.ts";
import { checkShowable } from "../../storage/remote_path.ts";

/** MKCOL: one new folder whose parent exists. */
export async function handleMkcol(req: HttpRequest): Promise<Response> {
  // A body was refused from the headers already (see the router).
  if (req.path === "" || await statOrNull(req, req.path)) {
    throw new HttpError(405, "something is there already", {
      allow: "GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK",
    });
  }
  const parent = await statOrNull(req, parentOf(req.path));
  if (parent?.type !== "dir") {
    throw new HttpError(409, "the parent folder does not exist");
  }
  await req.ctx.store.mkdirp(req.path);
  return new Response(null, { status: 201 });
}

/** The remote path the `Destination` header names. */
function destinationOf(req: HttpRequest): string {
  const header = req.request.headers.get("destination");
  if (!header) throw new HttpError(400, "a Destination header is needed");
  let url: URL;
  try {
    url = new URL(header, req.url);
  } catch {
    throw new HttpError(400, "malformed Destination");
  }
  if (url.host !== req.url.host) {
    throw new HttpError(502, "the Destination is on another server");
  }
  // The raw form: `new URL` would already have applied dot segments.
  const raw = /^[a-z][a-z0-9+.-]*:/i.test(header)
    ? rawPathOf(header)
    : header.split(/[?#]/)[0];
  const path = remotePathOf(raw);
  // Refused before an Overwrite removes what is there.
  checkShowable(path);
  return path;
}

/** COPY and MOVE. */
export async function handleCopyMove(req: HttpRequest): Promise<Response> {
  const move = req.request.method === "MOVE";
  const { store, props, locks } = req.ctx;
  const to = destinationOf(req);
  const from = req.path;
  if (from === "" || to === "") {
    throw new HttpError(403, "the root cannot be copied or moved");
  }
  if (isWithin(to, from)) {
    throw new HttpError(403, "the Destination is the source or inside it");
  }
  const source = await store.stat(from, { follow: !move });
  const depth = (req.request.headers.get("depth") ?? "infinity").toLowerCase();
  if (move ? depth !== "infinity" : depth !== "0" && depth !== "infinity") {
    throw new HttpError(400, "bad Depth");
  }
  const overwrite =
    (req.request.headers.get("overwrite") ?? "T").toUpperCase() !== "F";
  await checkLocks(req, [
    ...(move ? writeTargets(from, true) : []),
    ...writeTargets(to, true),
  ]);
  const parent = await statOrNull(req, parentOf(to));
  if (parent?.type !== "dir") {
    throw new HttpError(409, "the Destination's folder does not exist");
  }
  const existing = await statOrNull(req, to);
  if (existing && !overwrite) {
    throw new HttpError(412, "the Destination exists and Overwrite is F");
  }
  const shallow = source.type === "dir" && depth === "0";
  if (!move) props.checkCopy(from, !shallow);
  if (existing) {
    await store.remove(to, { recursive: true });
    props.removeTree(to);
    locks.removeTree(to);
  }
  if (move) {
    await store.move(from, to, { noClobber: true });
    props.moveTree(from, to);
    locks.removeTree(from);
  } else if (shallow) {
    await store.mkdirp(to);
    props.copyTree(from, to, false);
  } else {
    await store.copy(from, to, { noClobber: true });
    props.copyTree(from, to, true);
  }
  return new Response(null, { status: existing ? 204 : 201 });
}
