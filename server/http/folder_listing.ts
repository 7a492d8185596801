/**
 * GET of a folder: the web page for browsers, JSON with `?json` or
 * `Accept: application/json`, and a streamed zip of the whole tree with
 * `?zip`.
 *
 * @module
 */

import type { Entry } from "../../protocol/messages.ts";
import type { HttpRequest } from "./context.ts";
import { ZipWriter } from "./zip_writer.ts";
import { BODY_CHUNK, withStallTimer } from "./read_stream.ts";
import { joinPath } from "./paths.ts";
import { webPage } from "./web_page.ts";
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
    return pageResponse(request.method === "HEAD");
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

/** The web page (which loads its folder as JSON). */
export function pageResponse(head = false): Response {
  return new Response(head ? null : webPage(), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      // The page is the only script on this origin; nothing else may run.
      "content-security-policy":
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    },
  });
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

/**
 * Streams the folder as a zip. Unreadable folders are skipped (the walk
 * reports them), symlinks are left out; the archive is written as the tree
 * is read, with the transform's small queue as the only buffer.
 */
function zipFolder(req: HttpRequest): Response {
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
    for await (const item of req.ctx.store.walk(req.path)) {
      if (item.error) continue;
      const full = joinPath(req.path, item.path);
      if (item.entry.type === "dir") {
        await zip.addFolder(item.path, item.entry.mtime);
      } else if (item.entry.type === "file") {
        await zip.addFile(
          item.path,
          item.entry.mtime,
          item.entry.size,
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
