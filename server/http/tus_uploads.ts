/**
 * Resumable uploads with the tus 1.0 protocol (core, creation and
 * termination), which tus-js-client, Uppy and a few lines of curl speak:
 * `POST` to a folder creates an upload, `HEAD` tells how many bytes the
 * server holds, `PATCH` appends from that offset, `DELETE` gives up.
 * tus was chosen over ranged PATCH because it is a published protocol with
 * real clients and the same three operations the staging area has.
 *
 * There is no upload table: the upload URL is the target file's URL with
 * `?tus=SIZE.MTIME.MAC`, an HMAC (per server run) over path, size and time,
 * and the bytes live in the store's staging area under the same
 * (target, size, time) key as a resumable `fts put`. The last PATCH commits
 * through the same staged rename; with `Upload-Metadata: sha256 <hex>` the
 * whole staged file is hashed first and a mismatch is refused (and dropped),
 * so the upload is verified end to end. A PATCH may also carry
 * `Upload-Checksum: sha256 <base64>` (tus's checksum extension, which the
 * web page sends): its bytes are hashed as they arrive, and a mismatch
 * drops them (460) so the client sends that chunk again.
 *
 * @module
 */

import { createHmac, randomBytes } from "node:crypto";
import { IntegrityError } from "../../protocol/errors.ts";
import type { HttpRequest } from "./context.ts";
import { HttpError } from "./http_errors.ts";
import { copyBody } from "./upload_body.ts";
import { sha256OfHandle } from "./read_stream.ts";
import { joinPath, parentOf } from "./paths.ts";
import { statOrNull } from "./file_handlers.ts";
import { remotePathOf, urlPathOf } from "./request_path.ts";
import { checkLocks, writeTargets } from "./webdav/locks.ts";
import { UploadLifecycle } from "../storage/upload_lifecycle.ts";

/** The protocol version spoken. */
export const TUS_VERSION = "1.0.0";
const secret = randomBytes(32);
const TUS_HEADERS = { "tus-resumable": TUS_VERSION };

function mac(path: string, size: number, mtime: number): string {
  return createHmac("sha256", secret).update(`${path}\0${size}\0${mtime}`)
    .digest("base64url").slice(0, 22);
}

/** What an upload URL names. */
interface TusUpload {
  size: number;
  mtime: number;
  sha256?: string;
}

/** The upload a `?tus=` token names for the request path. */
function uploadOf(req: HttpRequest): TusUpload {
  const token = req.url.searchParams.get("tus") ?? "";
  const [size, mtime, tag, sha256] = token.split(".");
  const upload = { size: Number(size), mtime: Number(mtime) };
  if (
    !Number.isSafeInteger(upload.size) || !Number.isSafeInteger(upload.mtime) ||
    tag !== mac(`${req.path}\0${sha256 ?? ""}`, upload.size, upload.mtime)
  ) {
    throw new HttpError(404, "no such upload", TUS_HEADERS);
  }
  return sha256 ? { ...upload, sha256 } : upload;
}

/** `Upload-Metadata` as a map of decoded values. */
function metadataOf(header: string | null): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of (header ?? "").split(",")) {
    const [key, value] = pair.trim().split(" ");
    if (!key) continue;
    try {
      map.set(
        key,
        value ? new TextDecoder().decode(Uint8Array.fromBase64(value)) : "",
      );
    } catch {
      throw new HttpError(400, "malformed Upload-Metadata", TUS_HEADERS);
    }
  }
  return map;
}

/** OPTIONS answer headers for tus discovery. */
export const TUS_OPTIONS_HEADERS: Record<string, string> = {
  "tus-resumable": TUS_VERSION,
  "tus-version": TUS_VERSION,
  "tus-extension": "creation,termination,checksum",
  "tus-checksum-algorithm": "sha256",
};

/** The SHA-256 `Upload-Checksum` announces for a PATCH body, if any. */
function announcedChecksum(headers: Headers): string | null {
  const header = headers.get("upload-checksum");
  if (header === null) return null;
  const [algorithm, value] = header.trim().split(/\s+/);
  if (algorithm !== "sha256") {
    throw new HttpError(400, "Upload-Checksum supports sha256 only", {
      ...TUS_HEADERS,
      "tus-checksum-algorithm": "sha256",
    });
  }
  try {
    const digest = Uint8Array.fromBase64(value ?? "");
    if (digest.length === 32) return digest.toHex();
  } catch {
    // answered below
  }
  throw new HttpError(400, "malformed Upload-Checksum", TUS_HEADERS);
}

/** Whether a request is a tus request (creation, or on an upload URL). */
export function isTus(request: Request, url: URL): boolean {
  return url.searchParams.has("tus") ||
    (request.method === "POST" && request.headers.has("tus-resumable"));
}

/** POST to a folder: creates an upload of `filename` (metadata) there. */
async function create(req: HttpRequest): Promise<Response> {
  const size = Number(req.request.headers.get("upload-length"));
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new HttpError(400, "Upload-Length is needed", TUS_HEADERS);
  }
  const meta = metadataOf(req.request.headers.get("upload-metadata"));
  const folder = await req.ctx.store.stat(req.path, { follow: true });
  if (folder.type !== "dir") {
    throw new HttpError(409, "uploads are created in a folder", TUS_HEADERS);
  }
  const name = meta.get("filename") ?? meta.get("name");
  if (!name || name.includes("/")) {
    throw new HttpError(
      400,
      "a filename in Upload-Metadata is needed",
      TUS_HEADERS,
    );
  }
  const sha256 = meta.get("sha256")?.toLowerCase();
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new HttpError(
      400,
      "sha256 metadata must be 64 hex digits",
      TUS_HEADERS,
    );
  }
  // The name goes through the same decoding and normalisation as a URL.
  const target = remotePathOf(urlPathOf(joinPath(req.path, name), false));
  await checkLocks({ ...req, path: target }, writeTargets(target, false));
  // The source's time comes from the client when it says (a later POST of
  // the same file resumes), else now.
  const lastModified = Number(meta.get("lastModified") ?? NaN);
  const mtime = Number.isSafeInteger(lastModified) ? lastModified : Date.now();
  const tag = mac(`${target}\0${sha256 ?? ""}`, size, mtime);
  const token = [size, mtime, tag, ...(sha256 ? [sha256] : [])].join(".");
  return new Response(null, {
    status: 201,
    headers: {
      ...TUS_HEADERS,
      location: `${urlPathOf(target, false)}?tus=${token}`,
    },
  });
}

/** Opens the staged upload for a HEAD or PATCH; refuses one already running. */
async function begin(req: HttpRequest, upload: TusUpload) {
  const staged = await UploadLifecycle.begin(req.ctx.store, req.path, {
    size: upload.size,
    mtime: upload.mtime,
    resume: true,
  }, true);
  if (!staged.resumable) {
    await staged.abort(false);
    throw new HttpError(
      423,
      "this upload is running on another request",
      TUS_HEADERS,
    );
  }
  // Writes go after the staged bytes (a resumed upload starts at 0 otherwise).
  await staged.restartAt(staged.offset);
  return staged;
}

/** HEAD: the bytes the server holds. */
async function offset(req: HttpRequest): Promise<Response> {
  const upload = uploadOf(req);
  const parent = await statOrNull(req, parentOf(req.path));
  if (parent?.type !== "dir") {
    throw new HttpError(404, "no such upload", TUS_HEADERS);
  }
  const staged = await begin(req, upload);
  const at = staged.offset;
  await staged.abort(true);
  return new Response(null, {
    headers: {
      ...TUS_HEADERS,
      "upload-offset": String(at),
      "upload-length": String(upload.size),
      "cache-control": "no-store",
    },
  });
}

/** PATCH: appends at `Upload-Offset`; the last byte commits. */
async function append(req: HttpRequest): Promise<Response> {
  const upload = uploadOf(req);
  if (
    req.request.headers.get("content-type") !==
      "application/offset+octet-stream"
  ) {
    throw new HttpError(
      415,
      "tus PATCH needs application/offset+octet-stream",
      TUS_HEADERS,
    );
  }
  const claimed = Number(req.request.headers.get("upload-offset"));
  await checkLocks(req, writeTargets(req.path, false));
  const staged = await begin(req, upload);
  // Whatever way this ends without a commit, the staged bytes are kept for
  // the client to resume from the new HEAD offset (unless found bad).
  return await staged.run(async () => {
    if (claimed !== staged.offset) {
      throw new HttpError(409, `the server holds ${staged.offset} bytes`, {
        ...TUS_HEADERS,
        "upload-offset": String(staged.offset),
      });
    }
    const lengthHeader = req.request.headers.get("content-length");
    const length = lengthHeader === null ? null : Number(lengthHeader);
    if (length !== null && staged.offset + length > upload.size) {
      throw new HttpError(400, "the body goes past Upload-Length", TUS_HEADERS);
    }
    const checksum = announcedChecksum(req.request.headers);
    let received: number;
    try {
      const body = await copyBody(
        req.request.body,
        staged,
        length,
        checksum !== null,
        req.ctx.idleTimeoutMs,
        // A chunked body past Upload-Length stops there: nothing beyond the
        // declared (and --partial-limit-checked) size is ever staged.
        upload.size - staged.offset,
      );
      received = body.bytes;
      if (checksum !== null && body.sha256!.toHex() !== checksum) {
        throw new HttpError(460, "the chunk does not match its checksum", {
          ...TUS_HEADERS,
          "upload-offset": String(staged.offset),
        });
      }
    } catch (error) {
      // Bytes under a checksum count only once they all arrived and match;
      // a store that cannot go back there (S3 between parts) starts over.
      if (checksum !== null) {
        staged.keep = await staged.restartAt(staged.offset).then(
          () => true,
          () => false,
        );
      }
      throw error;
    }
    const now = staged.offset + received;
    if (now > upload.size) {
      throw new HttpError(400, "the body goes past Upload-Length", TUS_HEADERS);
    }
    if (now === upload.size) {
      if (
        upload.sha256 &&
        await sha256OfHandle(await staged.openStaged()) !== upload.sha256
      ) {
        staged.keep = false;
        throw new IntegrityError(
          "the uploaded bytes do not match their sha256",
        );
      }
      // The whole file's sha256 is known when the upload declared one (and
      // it was checked above) or one checked PATCH carried every byte.
      const sha256 = upload.sha256 ??
        (checksum !== null && staged.offset === 0 ? checksum : undefined);
      await staged.commit(
        { mode: null, mtime: upload.mtime, noClobber: false },
        sha256 ? { digests: { sha256 } } : undefined,
      );
    }
    return new Response(null, {
      status: 204,
      headers: { ...TUS_HEADERS, "upload-offset": String(now) },
    });
  });
}

/** DELETE of an upload: drops the staged bytes. */
async function terminate(req: HttpRequest): Promise<Response> {
  const staged = await begin(req, uploadOf(req));
  await staged.abort(false);
  return new Response(null, { status: 204, headers: TUS_HEADERS });
}

/** Answers a tus request. */
export async function handleTus(req: HttpRequest): Promise<Response> {
  switch (req.request.method) {
    case "POST":
      return await create(req);
    case "HEAD":
      return await offset(req);
    case "PATCH":
      return await append(req);
    case "DELETE":
      return await terminate(req);
  }
  throw new HttpError(405, "not a tus method", TUS_HEADERS);
}
