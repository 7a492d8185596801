/**
 * Turns a request target into a remote path, decoding percent escapes exactly
 * once and refusing what could mean something else to some layer: encoded
 * slashes, backslashes, NUL, dot segments and malformed or overlong UTF-8.
 * What is left goes through {@linkcode normalizePath} like every native path.
 *
 * @module
 */

import { InvalidPathError } from "../../protocol/errors.ts";
import { normalizePath, UNSHOWABLE_NAME } from "../storage/remote_path.ts";
import { HttpError } from "./http_errors.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The remote path of the URL path `rawPath` (still percent-encoded).
 *
 * @throws {HttpError} 400 for anything ambiguous or malformed.
 */
export function remotePathOf(rawPath: string): string {
  const segments: string[] = [];
  for (const raw of rawPath.split("/")) {
    if (raw === "") continue;
    const bytes: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === 0x25) {
        const hex = raw.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
          throw new HttpError(400, "malformed percent escape in the path");
        }
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else if (c > 0x7f) {
        // Deno hands over raw bytes as Latin-1-ish code units only when the
        // client sent them unencoded; encode them as UTF-8 like a browser.
        bytes.push(...new TextEncoder().encode(raw[i]));
      } else {
        bytes.push(c);
      }
    }
    let segment: string;
    try {
      // fatal: overlong forms and lone surrogates are errors, not U+FFFD.
      segment = strictUtf8.decode(new Uint8Array(bytes));
    } catch {
      throw new InvalidPathError(UNSHOWABLE_NAME);
    }
    if (segment.includes("/")) {
      throw new HttpError(400, "the path contains an encoded slash");
    }
    if (segment.includes("\\") || segment.includes("\0")) {
      throw new HttpError(400, "the path contains a backslash or NUL");
    }
    if (segment === "." || segment === "..") {
      throw new HttpError(400, "the path contains a dot segment");
    }
    segments.push(segment);
  }
  return normalizePath(segments.join("/"));
}

/** The URL path (encoded) of remote `path`, with a trailing slash for folders. */
export function urlPathOf(path: string, folder: boolean): string {
  const encoded = path === ""
    ? ""
    : "/" + path.split("/").map(encodeURIComponent).join("/");
  return folder ? `${encoded}/` : encoded || "/";
}

/**
 * The raw (undecoded) path of a request URL: Deno's `request.url` keeps the
 * request target as sent, so dot segments and escapes are still visible.
 */
export function rawPathOf(url: string): string {
  const afterScheme = url.indexOf("://");
  const start = url.indexOf("/", afterScheme < 0 ? 0 : afterScheme + 3);
  if (start < 0) return "/";
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}
