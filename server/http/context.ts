/**
 * What every HTTP request handler shares: the same store, log, read-only flag
 * and logins as the native protocol's sessions, plus WebDAV's lock table and
 * dead properties.
 *
 * @module
 */

import type { Store } from "../storage/store.ts";
import type { ServerLog } from "../server_log.ts";
import type { LockTable } from "./webdav/lock_table.ts";
import type { DeadProperties } from "./webdav/dead_properties.ts";
import type { BasicAuth } from "./basic_auth.ts";
import type { BrowserLogins } from "./browser_login.ts";
import type { AllowedHosts } from "./allowed_hosts.ts";

/** Shared by every request of one HTTP front-end. */
export interface HttpContext {
  store: Store;
  log: ServerLog;
  /** The whole server refuses writes. */
  readOnly: boolean;
  /** Checks Basic logins; null when the server needs no login. */
  auth: BasicAuth | null;
  /** The web page's SCRAM logins and sessions; null without logins. */
  browser: BrowserLogins | null;
  /** The listener speaks HTTPS. */
  tls: boolean;
  /** Accept Basic credentials over plain HTTP (`--http-allow-basic-insecure`). */
  allowBasicInsecure: boolean;
  locks: LockTable;
  props: DeadProperties;
  /** Cut off a request or response body that makes no progress this long. */
  idleTimeoutMs: number;
  /**
   * Time a small body read whole (login step, PROPFIND, PROPPATCH, LOCK)
   * may take to arrive completely: the login deadline.
   */
  bodyDeadlineMs: number;
  /** The names a request's `Host` may carry (DNS rebinding). */
  hosts: AllowedHosts;
  /** The port listened on, once listening (finds a request's socket). */
  port?: number;
}

/** One request as the handlers see it. */
export interface HttpRequest {
  request: Request;
  url: URL;
  /** The normalised remote path of the request target. */
  path: string;
  /** The request target ended in `/`. */
  slash: boolean;
  /** Writes are refused (server or user read-only). */
  readOnly: boolean;
  /** The logged-in user, if any. */
  user?: string;
  /** The client's address (who holds a lock on an open server). */
  peer: string;
  /** The client's address and port (finds the request's socket). */
  peerAddress?: Deno.NetAddr;
  ctx: HttpContext;
}
