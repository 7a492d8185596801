/**
 * The HTTP/WebDAV front-end: a `Deno.serve` listener (HTTPS with HTTP/2 via
 * ALPN when the server has a certificate) answering over the same store as
 * the native protocol. Connections without a request in flight (silent,
 * trickling their headers, or idle between requests) are closed after the
 * login deadline (see `silent_sweep.ts`); requests must name this server in
 * `Host` (see `allowed_hosts.ts`).
 *
 * @module
 */

import type { Store } from "../storage/store.ts";
import type { ServerLog } from "../server_log.ts";
import { SilentSweep } from "../net/silent_sweep.ts";
import type { Logins } from "../auth/login.ts";
import { BasicAuth } from "./basic_auth.ts";
import { BrowserLogins } from "./browser_login.ts";
import { DeadProperties } from "./webdav/dead_properties.ts";
import { LockTable } from "./webdav/lock_table.ts";
import { route } from "./router.ts";
import type { HttpContext } from "./context.ts";
import { errorResponse, HttpError } from "./http_errors.ts";
import { AllowedHosts } from "./allowed_hosts.ts";
import { watchRevocations } from "./revocation.ts";

/** How to run the HTTP front-end. */
export interface HttpFrontEndOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** More names `Host` may carry (`--http-host`, for a reverse proxy). */
  hosts?: string[];
  store: Store;
  log: ServerLog;
  readOnly: boolean;
  logins: Logins | null;
  tls?: { certPem: string; keyPem: string };
  /** Accept Basic logins over plain HTTP. */
  allowBasicInsecure?: boolean;
  /** Refuse requests beyond this many at once with 503. */
  maxRequests: number;
  /** Cut off bodies that make no progress this long. */
  idleTimeoutMs: number;
  /**
   * Close connections that have sent nothing (not even a TLS ClientHello)
   * this long after connecting; see `silent_sweep.ts`. Default 20 s.
   */
  silentTimeoutMs?: number;
}

/** A running HTTP front-end. */
export class HttpFrontEnd {
  /** The address actually bound. */
  readonly addr: Deno.NetAddr;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #silent: SilentSweep;

  private constructor(
    server: Deno.HttpServer<Deno.NetAddr>,
    silent: SilentSweep,
  ) {
    this.#server = server;
    this.#silent = silent;
    this.addr = server.addr;
  }

  /** Starts listening. */
  static start(options: HttpFrontEndOptions): HttpFrontEnd {
    const loginDeadlineMs = options.silentTimeoutMs ?? 20_000;
    const ctx: HttpContext = {
      store: options.store,
      log: options.log,
      readOnly: options.readOnly,
      auth: options.logins ? new BasicAuth(options.logins) : null,
      browser: options.logins
        ? new BrowserLogins(
          options.logins,
          options.tls !== undefined,
          loginDeadlineMs,
        )
        : null,
      tls: options.tls !== undefined,
      allowBasicInsecure: options.allowBasicInsecure ?? false,
      locks: new LockTable(),
      props: new DeadProperties(),
      idleTimeoutMs: options.idleTimeoutMs,
      bodyDeadlineMs: loginDeadlineMs,
      hosts: new AllowedHosts(options.hostname, options.hosts),
    };
    if (options.logins) {
      watchRevocations(options.logins, ctx.browser, ctx.locks, options.log);
    }
    let inFlight = 0;
    // Deno.serve never gives up on a connection that sends nothing, or
    // trickles its headers: the sweep closes those (see silent_sweep.ts).
    const sweep: { silent?: SilentSweep } = {};
    const handler = (
      request: Request,
      info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    ): Promise<Response> => {
      const ended = sweep.silent?.begin(info.remoteAddr);
      if (ended) info.completed.then(ended, ended);
      return answer(request, info);
    };
    const answer = async (
      request: Request,
      info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    ): Promise<Response> => {
      if (inFlight >= options.maxRequests) {
        return errorResponse(
          new HttpError(503, "the server is at its limit of requests", {
            "retry-after": "5",
          }),
          request.method,
        );
      }
      inFlight++;
      try {
        return await route(ctx, request, info.remoteAddr);
      } finally {
        inFlight--;
      }
    };
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      ...(options.tls
        ? { cert: options.tls.certPem, key: options.tls.keyPem }
        : {}),
      onListen: () => {},
      onError: (error) => errorResponse(error, "GET"),
    }, handler);
    ctx.port = server.addr.port;
    const silent = sweep.silent = new SilentSweep(
      server.addr,
      loginDeadlineMs,
      options.log,
      options.tls ? "https" : "http",
    );
    return new HttpFrontEnd(server, silent);
  }

  /** Stops listening and waits for running requests. */
  async shutdown(): Promise<void> {
    this.#silent.stop();
    await this.#server.shutdown();
  }

  /** Resolves when the listener has stopped. */
  get finished(): Promise<void> {
    return this.#server.finished;
  }
}
