/**
 * LOCK and UNLOCK, and the check every write makes: the `If:` header must
 * hold (else 412), and every lock on the resources the write touches must
 * have its token submitted in it (else 423).
 *
 * @module
 */

import type { HttpRequest } from "../context.ts";
import { HttpError } from "../http_errors.ts";
import { type Lock, LockTable, lockTimeout } from "./lock_table.ts";
import { type IfList, parseIf, submittedTokens } from "./if_header.ts";
import {
  childElements,
  escapeXml,
  isDav,
  readXmlBody,
  serialize,
  type XmlElement,
} from "../xml.ts";
import { etagOf } from "../file_get.ts";
import { statOrNull } from "../file_handlers.ts";
import { remotePathOf, urlPathOf } from "../request_path.ts";
import { parentOf } from "../paths.ts";
import { UploadLifecycle } from "../../storage/upload_lifecycle.ts";

/** The parsed `If:` header of a request (null when absent). */
function ifLists(req: HttpRequest): IfList[] | null {
  const header = req.request.headers.get("if");
  return header === null ? null : parseIf(header);
}

/** The remote path a tagged `If:` list names. */
function taggedPath(resource: string): string {
  try {
    return remotePathOf(new URL(resource, "http://x").pathname);
  } catch {
    return "\0"; // names nothing here: its conditions fail
  }
}

/** Whether one list's conditions all hold. */
async function listHolds(
  req: HttpRequest,
  list: IfList,
  locks: LockTable,
): Promise<boolean> {
  const path = list.resource === undefined
    ? req.path
    : taggedPath(list.resource);
  for (const c of list.conditions) {
    let holds: boolean;
    if (c.token !== undefined) {
      const lock = locks.get(c.token);
      holds = lock !== undefined && LockTable.covers(lock, path);
    } else {
      const entry = path === "\0" ? null : await statOrNull(req, path);
      holds = entry !== null && etagOf(entry) === c.etag;
    }
    if (holds === c.not) return false;
  }
  return true;
}

/**
 * Checks the `If:` header and the locks on `paths` (with everything below
 * them when `deep`), returning the submitted tokens.
 *
 * @throws {HttpError} 412 when the `If:` header does not hold; 423 when a
 * lock's token was not submitted.
 */
export async function checkLocks(
  req: HttpRequest,
  paths: { path: string; deep: boolean }[],
): Promise<Set<string>> {
  const { locks } = req.ctx;
  const lists = ifLists(req);
  let tokens = new Set<string>();
  if (lists) {
    let holds = false;
    for (const list of lists) {
      if (await listHolds(req, list, locks)) {
        holds = true;
        break;
      }
    }
    if (!holds) throw new HttpError(412, "the If header does not hold");
    tokens = submittedTokens(lists);
  }
  for (const { path, deep } of paths) {
    const held = deep
      ? [...locks.covering(path), ...locks.inside(path)]
      : locks.covering(path);
    if (held.some((lock) => !tokens.has(lock.token))) {
      throw new HttpError(423, `"${path}" is locked`);
    }
  }
  return tokens;
}

/** The locks a write to `path` must satisfy: its own and its folder's. */
export function writeTargets(
  path: string,
  deep: boolean,
): { path: string; deep: boolean }[] {
  return [{ path, deep }, { path: parentOf(path), deep: false }];
}

/** `D:activelock` of a lock. */
export function activeLockXml(lock: Lock, locks: LockTable): string {
  return `<D:activelock><D:locktype><D:write/></D:locktype>` +
    `<D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.depth}</D:depth>${lock.owner}` +
    `<D:timeout>Second-${locks.secondsLeft(lock)}</D:timeout>` +
    `<D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${
      escapeXml(urlPathOf(lock.path, false))
    }</D:href></D:lockroot>` +
    `</D:activelock>`;
}

/** `D:lockdiscovery` of `path` (the locks covering it). */
export function lockDiscoveryXml(path: string, locks: LockTable): string {
  return `<D:lockdiscovery>${
    locks.covering(path).map((lock) => activeLockXml(lock, locks)).join("")
  }</D:lockdiscovery>`;
}

/** `D:supportedlock`: exclusive and shared write locks. */
export const SUPPORTED_LOCK_XML = "<D:supportedlock>" +
  ["exclusive", "shared"].map((scope) =>
    `<D:lockentry><D:lockscope><D:${scope}/></D:lockscope>` +
    `<D:locktype><D:write/></D:locktype></D:lockentry>`
  ).join("") + "</D:supportedlock>";

/** The answer to a LOCK: the one lock taken or refreshed, no other owner. */
function lockResponse(
  lock: Lock,
  locks: LockTable,
  status: number,
): Response {
  return new Response(
    `<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:">` +
      `<D:lockdiscovery>${activeLockXml(lock, locks)}</D:lockdiscovery>` +
      `</D:prop>\n`,
    {
      status,
      headers: {
        "content-type": "application/xml; charset=utf-8",
        "lock-token": `<${lock.token}>`,
      },
    },
  );
}

/** LOCK: a new lock, or a refresh (no body, token in `If:`). */
export async function handleLock(req: HttpRequest): Promise<Response> {
  const { locks, store } = req.ctx;
  const timeout = lockTimeout(req.request.headers.get("timeout"));
  const body = await readXmlBody(req.request, req.ctx.bodyDeadlineMs);
  if (body === null) {
    const lists = ifLists(req);
    const tokens = lists ? submittedTokens(lists) : new Set<string>();
    const lock = [...tokens].map((t) => locks.get(t)).find((l) =>
      l !== undefined && LockTable.covers(l, req.path)
    );
    if (!lock) throw new HttpError(412, "no lock of this resource was named");
    locks.refresh(lock, timeout);
    return lockResponse(lock, locks, 200);
  }
  if (!isDav(body, "lockinfo")) {
    throw new HttpError(400, "LOCK needs a DAV:lockinfo body");
  }
  let scope: "exclusive" | "shared" | undefined;
  let owner = "";
  for (const child of childElements(body)) {
    if (isDav(child, "lockscope")) {
      const kind = childElements(child)[0];
      if (kind && isDav(kind, "exclusive")) scope = "exclusive";
      else if (kind && isDav(kind, "shared")) scope = "shared";
    } else if (isDav(child, "owner")) {
      owner = serialize(child as XmlElement);
    }
  }
  if (!scope) throw new HttpError(400, "LOCK needs a lock scope");
  const depthHeader = req.request.headers.get("depth") ?? "infinity";
  if (depthHeader !== "0" && depthHeader.toLowerCase() !== "infinity") {
    throw new HttpError(400, "LOCK depth must be 0 or infinity");
  }
  const depth = depthHeader === "0" ? "0" : "infinity";
  await checkLocks(req, [{ path: parentOf(req.path), deep: false }]);
  const existing = await statOrNull(req, req.path);
  if (!existing) {
    const parent = await statOrNull(req, parentOf(req.path));
    if (parent?.type !== "dir") {
      throw new HttpError(409, "the parent folder does not exist");
    }
  }
  const lock = locks.acquire({
    path: req.path,
    depth,
    scope,
    owner,
    holder: req.user ?? `@${req.peer}`,
    timeoutSeconds: timeout,
    user: req.user,
  });
  if (!lock) throw new HttpError(423, `"${req.path}" is locked`);
  if (!existing) {
    // Locking an unmapped URL makes an empty file (RFC 4918 §7.3).
    try {
      const upload = await UploadLifecycle.begin(store, req.path, {
        size: 0,
        mtime: Date.now(),
        resume: false,
      }, false);
      await upload.run(() =>
        upload.commit({ mode: null, mtime: Date.now(), noClobber: true })
      );
    } catch (error) {
      locks.release(lock.token);
      throw error;
    }
  }
  return lockResponse(lock, locks, existing ? 200 : 201);
}

/** UNLOCK with the `Lock-Token` header. */
export function handleUnlock(req: HttpRequest): Response {
  const header = req.request.headers.get("lock-token") ?? "";
  const token = /^\s*<([^>]+)>\s*$/.exec(header)?.[1];
  if (!token) throw new HttpError(400, "UNLOCK needs a Lock-Token header");
  const lock = req.ctx.locks.get(token);
  if (!lock || !LockTable.covers(lock, req.path)) {
    throw new HttpError(409, "no such lock on this resource");
  }
  req.ctx.locks.release(token);
  return new Response(null, { status: 204 });
}
