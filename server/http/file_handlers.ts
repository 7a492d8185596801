/**
 * GET/HEAD (files and folders), PUT and DELETE.
 *
 * PUT goes through the store's staged upload like `fts put`: the bytes land in
 * the staging area, an optional `Content-Digest`/`Repr-Digest` SHA-256 is
 * checked, and only then does the commit rename them over the target. A body
 * cut off part-way (or shorter than its `Content-Length`) is aborted, so the
 * old file stays. Chunked bodies (no `Content-Length`, as macOS Finder sends)
 * work the same way.
 *
 * @module
 */

import { IntegrityError, NotFoundError } from "../../protocol/errors.ts";
import { sha256OfHandle } from "./read_stream.ts";
import type { Entry } from "../../protocol/messages.ts";
import { getFile } from "./file_get.ts";
import { copyBody } from "./upload_body.ts";
import { HttpError } from "./http_errors.ts";
import type { HttpRequest } from "./context.ts";
import { getFolder } from "./folder_listing.ts";
import { parentOf } from "./paths.ts";
import { UploadLifecycle } from "../storage/upload_lifecycle.ts";

/** The entry at `path`, or null when nothing is there. */
export async function statOrNull(
  req: HttpRequest,
  path: string,
): Promise<Entry | null> {
  try {
    return await req.ctx.store.stat(path, { follow: true });
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

/** GET or HEAD. */
export async function handleGet(req: HttpRequest): Promise<Response> {
  const entry = await req.ctx.store.stat(req.path, { follow: true });
  if (entry.type === "dir") return await getFolder(req);
  if (entry.type !== "file") throw new HttpError(403, "not a regular file");
  if (req.url.searchParams.has("sha256")) return await fileSha256(req);
  return await getFile(req, entry);
}

/** `?sha256`: the file's checksum, as the web page shows it. */
async function fileSha256(req: HttpRequest): Promise<Response> {
  const handle = await req.ctx.store.open(req.path);
  return Response.json({ sha256: await sha256OfHandle(handle) });
}

/** The SHA-256 a client announced for the body, if any (RFC 9530). */
function announcedSha256(headers: Headers): Uint8Array | null {
  const header = headers.get("content-digest") ?? headers.get("repr-digest");
  if (header === null) return null;
  const match = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):/.exec(header);
  if (!match) return null;
  try {
    return Uint8Array.fromBase64(match[1]);
  } catch {
    throw new HttpError(400, "malformed sha-256 digest");
  }
}

/** PUT: a staged, verified, atomic upload. */
export async function handlePut(req: HttpRequest): Promise<Response> {
  const { store } = req.ctx;
  if (req.path === "") throw new HttpError(405, "cannot PUT the root");
  const existing = await statOrNull(req, req.path);
  if (existing?.type === "dir") {
    throw new HttpError(405, "a folder is there");
  }
  const parent = await statOrNull(req, parentOf(req.path));
  if (parent?.type !== "dir") {
    throw new HttpError(409, "the parent folder does not exist");
  }
  const lengthHeader = req.request.headers.get("content-length");
  const expected = lengthHeader === null ? null : Number(lengthHeader);
  if (expected !== null && !Number.isSafeInteger(expected)) {
    throw new HttpError(400, "malformed Content-Length");
  }
  const digest = announcedSha256(req.request.headers);
  const upload = await UploadLifecycle.begin(store, req.path, {
    size: expected,
    mtime: Date.now(),
    resume: false,
  }, false);
  await upload.run(async () => {
    const result = await copyBody(
      req.request.body,
      upload,
      expected,
      digest !== null,
      req.ctx.idleTimeoutMs,
    );
    if (digest && result.sha256!.toHex() !== digest.toHex()) {
      throw new IntegrityError("the body does not match its sha-256 digest");
    }
    await upload.commit(
      { mode: null, mtime: Date.now(), noClobber: false },
      digest ? { digests: { sha256: digest.toHex() } } : undefined,
    );
  });
  return new Response(null, { status: existing ? 204 : 201 });
}

/** DELETE of a file or a whole folder. */
export async function handleDelete(req: HttpRequest): Promise<Response> {
  if (req.path === "") throw new HttpError(403, "cannot delete the root");
  await req.ctx.store.stat(req.path);
  await req.ctx.store.remove(req.path, { recursive: true });
  req.ctx.props.removeTree(req.path);
  req.ctx.locks.removeTree(req.path);
  return new Response(null, { status: 204 });
}
