/**
 * The web page's HTML documents: the page itself (static/index.html, with a
 * plain listing inside `<noscript>` so a folder can be browsed without
 * JavaScript) and a styled error page for a browser that opens a missing or
 * forbidden address.
 *
 * @module
 */

import { format as formatBytes } from "@std/fmt/bytes";
import type { Entry } from "../../../protocol/messages.ts";
import type { Store } from "../../storage/store.ts";
import { urlPathOf } from "../request_path.ts";
import { ASSETS } from "./assets.ts";

const STATIC = new URL("./static/", import.meta.url);
// Read once at start, so a binary built without them fails at once.
const INDEX = (await Deno.readTextFile(new URL("index.html", STATIC)))
  // Every module announced up front: the browser fetches them side by side
  // instead of discovering the imports one level at a time.
  .replace(
    "</head>",
    Object.keys(ASSETS).filter((name) => name.endsWith(".ts")).map((name) =>
      `<link rel="modulepreload" href="/?asset=${name}">\n`
    ).join("") + "</head>",
  );
const ERROR = await Deno.readTextFile(new URL("error.html", STATIC));

/**
 * What the page may load: its own files only; no inline script or style,
 * so nothing injected into a name can run.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; " +
  "form-action 'self'";

const HTML_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-cache",
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
};

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A folder to list in the page for browsers without JavaScript. */
export interface PlainFolder {
  /** The folder's remote path ("" for the top). */
  path: string;
  entries: Entry[];
}

function plainRow(entry: Entry): string {
  const dir = entry.type === "dir";
  const href = encodeURIComponent(entry.name) + (dir ? "/" : "");
  const size = dir ? "" : formatBytes(entry.size, { binary: true });
  const time = new Date(entry.mtime).toISOString().slice(0, 16).replace(
    "T",
    " ",
  );
  const name = escapeHtml(entry.name) + (dir ? "/" : "");
  return `<tr><td class="name"><a href="${href}">${name}</a>` +
    `<span class="meta">${size}${size ? " · " : ""}${time}</span></td>` +
    `<td class="size">${size}</td><td class="time">${time}</td></tr>`;
}

/**
 * Rows the plain listing shows at most: it is sent inside every page load
 * (browsers with JavaScript skip it), so a huge folder must not make every
 * page heavy.
 */
export const PLAIN_MAX = 2000;

/** The folder as a table of links, for `<noscript>`. */
export function plainListing(folder: PlainFolder): string {
  const sorted = [...folder.entries]
    .filter((e) => e.type === "dir" || e.type === "file")
    .sort((a, b) =>
      Number(b.type === "dir") - Number(a.type === "dir") ||
      a.name.localeCompare(b.name)
    );
  const up = folder.path === ""
    ? ""
    : `<tr><td class="name"><a href="../">..</a></td><td class="size"></td><td class="time"></td></tr>`;
  return `<p>Index of /${escapeHtml(folder.path)}${
    folder.path ? "/" : ""
  } (this page works better with JavaScript: uploads, renames and more).</p>` +
    `<table class="plain"><thead><tr><th class="name">Name</th>` +
    `<th class="size">Size</th><th class="time">Modified (UTC)</th></tr></thead>` +
    `<tbody>${up}${sorted.slice(0, PLAIN_MAX).map(plainRow).join("")}${
      sorted.length > PLAIN_MAX
        ? `<tr><td class="name">… and ${
          sorted.length - PLAIN_MAX
        } more, not shown here</td><td class="size"></td><td class="time"></td></tr>`
        : ""
    }</tbody></table>`;
}

/**
 * The web page. With `folder`, it carries that folder's plain listing;
 * without (a login is needed first), it says the login needs JavaScript.
 */
export function pageResponse(head = false, folder?: PlainFolder): Response {
  const fallback = folder
    ? plainListing(folder)
    : "<p>This server needs a login, and the login form needs JavaScript. " +
      "Command-line clients can log in with HTTP Basic over TLS.</p>";
  const html = INDEX.replace("<!--plain listing-->", fallback);
  return new Response(head ? null : html, { headers: HTML_HEADERS });
}

/** Whether a request is a browser opening an address (not the page's script). */
export function isNavigation(request: Request, url: URL): boolean {
  return request.method === "GET" &&
    (request.headers.get("accept") ?? "").includes("text/html") &&
    !request.headers.has("x-requested-with") &&
    !["json", "zip", "sha256", "asset", "tus"].some((k) =>
      url.searchParams.has(k)
    );
}

const TITLES: Record<number, string> = {
  400: "This address is not valid",
  403: "Not allowed",
  404: "Nothing is here",
  409: "This cannot be opened",
};

/** How far up {@linkcode backLink} looks for a folder that exists. */
const MAX_UP = 16;

/** The nearest folder above `path` that exists, as a link and a name. */
async function backLink(
  store: Store,
  path: string,
): Promise<{ href: string; name: string }> {
  const parts = path.split("/").filter(Boolean);
  for (let n = parts.length - 1; n > 0 && parts.length - n <= MAX_UP; n--) {
    const folder = parts.slice(0, n).join("/");
    const entry = await store.stat(folder, { follow: true }).catch(() => null);
    if (entry?.type === "dir") {
      return { href: urlPathOf(folder, true), name: `“${parts[n - 1]}”` };
    }
  }
  return { href: "/", name: "the top folder" };
}

/**
 * A styled page for an error a browser met while opening `path` (undefined
 * when the address could not be read), with a link to the nearest folder
 * above that exists (for a 404) or to the top. `reason` names remote paths
 * only.
 */
export async function errorPageResponse(
  status: number,
  reason: string,
  store: Store,
  path: string | undefined,
  headers: HeadersInit = {},
): Promise<Response> {
  // Only a 404 comes after the login passed (from the store): other errors,
  // such as a refused Host or login, must not tell which folders exist.
  const back = status !== 404 || path === undefined
    ? { href: "/", name: "the top folder" }
    : await backLink(store, path);
  const values: Record<string, string> = {
    title: TITLES[status] ?? "Something went wrong",
    message: status === 404 && path !== undefined
      ? `There is no file or folder at /${path}.`
      : reason,
    back: back.href,
    backName: back.name,
  };
  // `{{ name }}` slots (deno fmt puts the spaces in), filled with escaped text.
  const html = ERROR.replace(
    /\{\{\s*(\w+)\s*\}\}/g,
    (_, key: string) => escapeHtml(values[key] ?? ""),
  );
  const merged = new Headers(headers);
  for (const [key, value] of Object.entries(HTML_HEADERS)) {
    merged.set(key, value);
  }
  return new Response(html, { status, headers: merged });
}
