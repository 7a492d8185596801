/**
 * PROPFIND (depth 0 and 1; infinity is refused with 403
 * `propfind-finite-depth`, as RFC 4918 allows) and PROPPATCH (dead
 * properties kept; `getlastmodified` and the Win32 time properties of
 * Windows Explorer set the file's time through the store).
 *
 * @module
 */

import type { Entry } from "../../../protocol/messages.ts";
import type { HttpRequest } from "../context.ts";
import { HttpError } from "../http_errors.ts";
import { etagOf, httpDate } from "../file_get.ts";
import { contentTypeOf } from "../content_type.ts";
import { joinPath } from "../paths.ts";
import { urlPathOf } from "../request_path.ts";
import { lockDiscoveryXml, SUPPORTED_LOCK_XML } from "./locks.ts";
import {
  childElements,
  DAV,
  emptyElementOf,
  escapeXml,
  isDav,
  multistatus,
  propertyKey,
  readXmlBody,
  serialize,
  statusLine,
  streamedMultistatus,
} from "../xml.ts";

const MS = "urn:schemas-microsoft-com:";

/** Live properties: key → value XML for an entry (undefined when not applicable). */
function liveProperties(
  req: HttpRequest,
  path: string,
  entry: Entry,
): Map<string, string> {
  const dir = entry.type === "dir";
  const props = new Map<string, string>();
  props.set(
    `{${DAV}}resourcetype`,
    dir
      ? "<D:resourcetype><D:collection/></D:resourcetype>"
      : "<D:resourcetype/>",
  );
  props.set(
    `{${DAV}}getlastmodified`,
    `<D:getlastmodified>${httpDate(entry.mtime)}</D:getlastmodified>`,
  );
  props.set(
    `{${DAV}}creationdate`,
    `<D:creationdate>${new Date(entry.mtime).toISOString()}</D:creationdate>`,
  );
  props.set(
    `{${DAV}}displayname`,
    `<D:displayname>${escapeXml(path.split("/").at(-1) ?? "")}</D:displayname>`,
  );
  if (!dir) {
    props.set(
      `{${DAV}}getcontentlength`,
      `<D:getcontentlength>${entry.size}</D:getcontentlength>`,
    );
    props.set(`{${DAV}}getetag`, `<D:getetag>${etagOf(entry)}</D:getetag>`);
    props.set(
      `{${DAV}}getcontenttype`,
      `<D:getcontenttype>${contentTypeOf(entry.name)}</D:getcontenttype>`,
    );
  }
  props.set(`{${DAV}}supportedlock`, SUPPORTED_LOCK_XML);
  props.set(`{${DAV}}lockdiscovery`, lockDiscoveryXml(path, req.ctx.locks));
  return props;
}

/** Live properties a client may not set. */
const PROTECTED = new Set(
  [
    "resourcetype",
    "getcontentlength",
    "getetag",
    "getcontenttype",
    "supportedlock",
    "lockdiscovery",
    "creationdate",
  ].map((name) => `{${DAV}}${name}`),
);

/** Properties that set the file's modification time. */
const TIME_PROPERTIES = new Set([
  `{${DAV}}getlastmodified`,
  `{${MS}}Win32LastModifiedTime`,
]);

type Request =
  | { kind: "allprop" }
  | { kind: "propname" }
  | { kind: "prop"; keys: string[] };

function propstat(props: string[], status: number): string {
  return `<D:propstat><D:prop>${props.join("")}</D:prop><D:status>${
    statusLine(status)
  }</D:status></D:propstat>`;
}

function responseXml(path: string, dir: boolean, propstats: string[]): string {
  return `<D:response><D:href>${escapeXml(urlPathOf(path, dir))}</D:href>${
    propstats.join("")
  }</D:response>`;
}

function describe(
  req: HttpRequest,
  path: string,
  entry: Entry,
  what: Request,
): string {
  const live = liveProperties(req, path, entry);
  const dead = req.ctx.props.get(path);
  const dir = entry.type === "dir";
  if (what.kind === "propname") {
    const names = [...live.keys(), ...dead.keys()].map(emptyElementOf);
    return responseXml(path, dir, [propstat(names, 200)]);
  }
  if (what.kind === "allprop") {
    return responseXml(path, dir, [
      propstat([...live.values(), ...dead.values()], 200),
    ]);
  }
  const found: string[] = [];
  const missing: string[] = [];
  for (const key of what.keys) {
    const value = live.get(key) ?? dead.get(key);
    if (value === undefined) missing.push(emptyElementOf(key));
    else found.push(value);
  }
  const stats = [];
  if (found.length > 0) stats.push(propstat(found, 200));
  if (missing.length > 0) stats.push(propstat(missing, 404));
  return responseXml(path, dir, stats);
}

/** PROPFIND. */
export async function handlePropfind(req: HttpRequest): Promise<Response> {
  const depth = (req.request.headers.get("depth") ?? "infinity").toLowerCase();
  if (depth !== "0" && depth !== "1") {
    return new Response(
      `<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n`,
      {
        status: 403,
        headers: { "content-type": "application/xml; charset=utf-8" },
      },
    );
  }
  const body = await readXmlBody(req.request, req.ctx.bodyDeadlineMs);
  let what: Request = { kind: "allprop" };
  if (body !== null) {
    if (!isDav(body, "propfind")) {
      throw new HttpError(400, "PROPFIND needs a DAV:propfind body");
    }
    const first = childElements(body)[0];
    if (first && isDav(first, "propname")) what = { kind: "propname" };
    else if (first && isDav(first, "prop")) {
      what = { kind: "prop", keys: childElements(first).map(propertyKey) };
    } else if (!first || !isDav(first, "allprop")) {
      throw new HttpError(400, "PROPFIND needs allprop, propname or prop");
    }
  }
  const { store } = req.ctx;
  const entry = await store.stat(req.path, { follow: true });
  const children = depth === "1" && entry.type === "dir"
    ? (await store.list(req.path)).filter((child) =>
      child.type === "file" || child.type === "dir"
    )
    : [];
  // Described as the client reads: the cost of a large folder, or of locks
  // and dead properties on it, never lands in one step.
  function* responses(): Generator<string> {
    yield describe(req, req.path, entry, what);
    for (const child of children) {
      yield describe(req, joinPath(req.path, child.name), child, what);
    }
  }
  return streamedMultistatus(responses(), req.ctx.idleTimeoutMs);
}

/** A time property's value as ms since the epoch (HTTP or ISO date). */
function timeValue(text: string): number {
  const ms = Date.parse(text.trim());
  if (Number.isNaN(ms)) throw new HttpError(409, "not a date");
  return ms;
}

/**
 * PROPPATCH: all instructions in order, all or nothing. A protected live
 * property fails with 403 and the rest with 424 Failed Dependency.
 */
export async function handleProppatch(req: HttpRequest): Promise<Response> {
  const body = await readXmlBody(req.request, req.ctx.bodyDeadlineMs);
  if (body === null || !isDav(body, "propertyupdate")) {
    throw new HttpError(400, "PROPPATCH needs a DAV:propertyupdate body");
  }
  const entry = await req.ctx.store.stat(req.path, { follow: true });
  const dead = new Map(req.ctx.props.get(req.path));
  const results = new Map<string, number>();
  let mtime: number | undefined;
  let failed = false;
  for (const instruction of childElements(body)) {
    const set = isDav(instruction, "set");
    if (!set && !isDav(instruction, "remove")) continue;
    for (const prop of childElements(instruction)) {
      if (!isDav(prop, "prop")) continue;
      for (const item of childElements(prop)) {
        const key = propertyKey(item);
        if (PROTECTED.has(key)) {
          results.set(key, 403);
          failed = true;
          continue;
        }
        if (set && TIME_PROPERTIES.has(key)) {
          try {
            mtime = timeValue(item.textContent ?? "");
          } catch {
            results.set(key, 409);
            failed = true;
            continue;
          }
        }
        // getlastmodified stays live: the file's time is the value.
        if (key === `{${DAV}}getlastmodified`) {
          results.set(key, 200);
          continue;
        }
        if (set) dead.set(key, serialize(item));
        else dead.delete(key);
        results.set(key, 200);
      }
    }
  }
  if (!failed) {
    // Limits first (507 changes nothing), then the time, undone on failure.
    const before = req.ctx.props.get(req.path);
    req.ctx.props.set(req.path, dead);
    try {
      if (mtime !== undefined) {
        await req.ctx.store.setMeta(req.path, { mtime });
      }
    } catch (error) {
      req.ctx.props.set(req.path, before);
      throw error;
    }
  }
  const byStatus = new Map<number, string[]>();
  for (const [key, status] of results) {
    const shown = failed && status === 200 ? 424 : status;
    const names = byStatus.get(shown) ?? [];
    names.push(emptyElementOf(key));
    byStatus.set(shown, names);
  }
  return multistatus([
    responseXml(
      req.path,
      entry.type === "dir",
      [...byStatus].map(([status, names]) => propstat(names, status)),
    ),
  ]);
}
