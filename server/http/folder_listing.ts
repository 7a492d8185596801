/**
 * GET of a folder: the web page for browsers, JSON with `?json` or
 * `Accept: application/json`, and a streamed zip of the whole tree with
 * `?zip` (or of the entries `?zip&name=a&name=b` picks).
 *
 * @module
 */

import type { Entry } from "../../protocol/messages.ts";
import type { HttpRequest } from "./context.ts";
import { ZipWriter } from "./zip_writer.ts";
import { BODY_CHUNK, withStallTimer } from "./read_stream.ts";
import { joinPath } from "./paths.ts";
import { HttpError } from "./http_errors.ts";
import { pageResponse } from "./page/page_html.ts";
import { urlPathOf } from "./request_path.ts";

/** The JSON form of a folder listing. */
export interface FolderJson {
  path: string;
  readOnly: boolean;
  /** The logged-in user, if any (the page shows a log-out button). */
  user?: string;
  entries: { name: string; type: string; size: number; mtime: number }[];
}

/** Answers GET/HEAD of a folder. */
export async function getFolder(req: HttpRequest): Promise<Response> {
  const { url, request } = req;
  if (url.searchParams.has("zip")) return zipFolder(req);
  const wantsJson = url.searchParams.has("json") ||
    (request.headers.get("accept") ?? "").includes("application/json");
  if (!wantsJson) {
    if (!req.slash && req.path !== "") {
      // Relative links on the page need the trailing slash. Built from the
      // normalised path: `//evil.example` must not become a
      // protocol-relative `Location` (an open redirect).
      return new Response(null, {
        status: 301,
        headers: { location: `${urlPathOf(req.path, true)}${url.search}` },
      });
    }
    if (request.method === "HEAD") return pageResponse(true);
    const entries: Entry[] = await req.ctx.store.list(req.path);
    return pageResponse(false, { path: req.path, entries });
  }
  const entries: Entry[] = await req.ctx.store.list(req.path);
  const body: FolderJson = {
    path: req.path,
    readOnly: req.readOnly,
    user: req.user,
    entries: entries.map((e) => ({
      name: e.name,
      type: e.type,
      size: e.size,
      mtime: e.mtime,
    })),
  };
  return new Response(
    request.method === "HEAD" ? null : JSON.stringify(body),
    {
      headers: {
        "content-type": "application/json",
        "cache-control": "no-cache",
      },
    },
  );
}

/** Reads a store file in 1 MiB chunks. */
async function* fileChunks(
  req: HttpRequest,
  path: string,
): AsyncIterable<Uint8Array> {
  const handle = await req.ctx.store.open(path, 0, { follow: false });
  try {
    while (true) {
      const buffer = new Uint8Array(BODY_CHUNK);
      const n = await handle.read(buffer);
      if (n === null) return;
      yield buffer.subarray(0, n);
    }
  } finally {
    handle.close();
  }
}

/** Adds the tree under `base` to `zip`, its paths starting with `prefix`. */
async function addTree(
  zip: ZipWriter,
  req: HttpRequest,
  base: string,
  prefix: string,
): Promise<void> {
  for await (const item of req.ctx.store.walk(base)) {
    if (item.error) continue;
    const inZip = prefix + item.path;
    if (item.entry.type === "dir") {
      await zip.addFolder(inZip, item.entry.mtime);
    } else if (item.entry.type === "file") {
      await zip.addFile(
        inZip,
        item.entry.mtime,
        item.entry.size,
        fileChunks(req, joinPath(base, item.path)),
      );
    }
  }
}

/** The entries `?zip&name=a&name=b` picks (the page's selection), checked. */
async function pickedEntries(req: HttpRequest): Promise<Entry[] | null> {
  const names = req.url.searchParams.getAll("name");
  if (names.length === 0) return null;
  const picked: Entry[] = [];
  for (const name of new Set(names)) {
    if (name === "" || name === "." || name === ".." || name.includes("/")) {
      throw new HttpError(400, `"${name}" is not a name in this folder`);
    }
    picked.push(
      await req.ctx.store.stat(joinPath(req.path, name), { follow: false }),
    );
  }
  return picked;
}

/**
 * Streams the folder (or the entries `?name=` picks in it) as a zip.
 * Unreadable folders are skipped (the walk reports them), symlinks are left
 * out; the archive is written as the tree is read, with the transform's
 * small queue as the only buffer.
 */
async function zipFolder(req: HttpRequest): Promise<Response> {
  const picked = await pickedEntries(req);
  const name = req.path === "" ? "files" : req.path.split("/").at(-1)!;
  const headers = {
    "content-type": "application/zip",
    "content-disposition": `attachment; filename*=UTF-8''${
      encodeURIComponent(name)
    }.zip`,
  };
  if (req.request.method === "HEAD") return new Response(null, { headers });
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
    undefined,
    { highWaterMark: 1 },
    { highWaterMark: 1 },
  );
  const writer = writable.getWriter();
  const zip = new ZipWriter(writer);
  (async () => {
    if (picked === null) await addTree(zip, req, req.path, "");
    for (const entry of picked ?? []) {
      const full = joinPath(req.path, entry.name);
      if (entry.type === "dir") {
        await zip.addFolder(entry.name, entry.mtime);
        await addTree(zip, req, full, `${entry.name}/`);
      } else if (entry.type === "file") {
        await zip.addFile(
          entry.name,
          entry.mtime,
          entry.size,
          fileChunks(req, full),
        );
      }
    }
    await zip.finish();
  })().catch((error) => writer.abort(error).catch(() => {}));
  return new Response(withStallTimer(readable, req.ctx.idleTimeoutMs), {
    headers,
  });
}
