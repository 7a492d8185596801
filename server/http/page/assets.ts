/**
 * The web page's files as the browser fetches them (`GET /?asset=NAME`): its
 * stylesheet, icon and TypeScript modules, which live in `static/` as real
 * files that `deno lint` and `deno check` see. Modules are turned into
 * JavaScript at the first request with `stripTypeScriptTypes` (type
 * annotations become spaces; nothing to bundle, no build step), and their
 * import specifiers are pointed at `?asset=` URLs. The SCRAM client is
 * protocol/scram.ts itself, the one the command line uses.
 *
 * The files are read relative to this module, so `deno compile` needs
 * `--include server/http/page/static` and the protocol modules listed below
 * (deno.json's `compile` task and the release workflow carry them).
 *
 * @module
 */

import { stripTypeScriptTypes } from "node:module";

const STATIC = new URL("./static/", import.meta.url);
const PROTOCOL = new URL("../../../protocol/", import.meta.url);

/** Every file the page may load, by its `?asset=` name. */
export const ASSETS: Record<string, URL> = {
  "page.css": new URL("page.css", STATIC),
  "favicon.svg": new URL("favicon.svg", STATIC),
  "main.ts": new URL("main.ts", STATIC),
  "actions.ts": new URL("actions.ts", STATIC),
  "api.ts": new URL("api.ts", STATIC),
  "dialogs.ts": new URL("dialogs.ts", STATIC),
  "dom.ts": new URL("dom.ts", STATIC),
  "format.ts": new URL("format.ts", STATIC),
  "listing.ts": new URL("listing.ts", STATIC),
  "login.ts": new URL("login.ts", STATIC),
  "menu.ts": new URL("menu.ts", STATIC),
  "upload.ts": new URL("upload.ts", STATIC),
  "upload_panel.ts": new URL("upload_panel.ts", STATIC),
  "timing_safe_equal.ts": new URL("timing_safe_equal.ts", STATIC),
  "base64_polyfill.ts": new URL("base64_polyfill.ts", STATIC),
  "scram.ts": new URL("scram.ts", PROTOCOL),
  "errors.ts": new URL("errors.ts", PROTOCOL),
};

/** Bare specifiers the browser cannot resolve, and the asset that stands in. */
const BARE: Record<string, string> = {
  "@std/crypto/timing-safe-equal": "timing_safe_equal.ts",
};

const TYPES: Record<string, string> = {
  ts: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/** A file ready to send. */
interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

const cache = new Map<string, Promise<Asset>>();

/** The `?asset=` name an import specifier of the page's code stands for. */
function assetOf(specifier: string): string {
  const name = BARE[specifier] ??
    specifier.slice(specifier.lastIndexOf("/") + 1);
  if (!(name in ASSETS)) {
    throw new Error(`the web page imports ${specifier}, which it is not given`);
  }
  return name;
}

/**
 * Turns a page module into JavaScript the browser loads: types stripped,
 * every `import … from "x"` (and `export … from`) pointed at `/?asset=`.
 */
export function toBrowserModule(source: string): string {
  return stripTypeScriptTypes(source).replace(
    /^((?:import|export)(?:\s[^;"]*?\bfrom\s*|\s*))"([^"]+)"/gm,
    (_, lead: string, specifier: string) =>
      `${lead}"/?asset=${assetOf(specifier)}"`,
  );
}

async function load(name: string): Promise<Asset> {
  const extension = name.slice(name.lastIndexOf(".") + 1);
  const raw = await Deno.readFile(ASSETS[name]);
  const body = extension === "ts"
    ? new TextEncoder().encode(
      toBrowserModule(new TextDecoder().decode(raw)),
    )
    : raw;
  const digest = await crypto.subtle.digest("SHA-256", body);
  return {
    body,
    type: TYPES[extension],
    etag: `"${new Uint8Array(digest).toHex().slice(0, 20)}"`,
  };
}

/** Whether `name` is one of the page's files. */
export function isAsset(name: string): boolean {
  return Object.hasOwn(ASSETS, name);
}

/** Answers GET/HEAD `?asset=NAME` (404 for a name that is not the page's). */
export async function assetResponse(
  name: string,
  request: Request,
): Promise<Response> {
  if (!isAsset(name)) {
    return new Response("no such page file\n", {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  let pending = cache.get(name);
  if (!pending) {
    pending = load(name);
    cache.set(name, pending);
    pending.catch(() => cache.delete(name));
  }
  const asset = await pending;
  const headers = {
    "content-type": asset.type,
    "cache-control": "no-cache",
    "etag": asset.etag,
    "x-content-type-options": "nosniff",
  };
  if (request.headers.get("if-none-match") === asset.etag) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(request.method === "HEAD" ? null : asset.body, {
    headers,
  });
}
