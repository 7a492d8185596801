/**
 * The fts server: listens, runs one {@linkcode Session} per connection, all at
 * once, and shuts down gracefully. When `accept` fails (out of descriptors,
 * say) it logs that and backs off instead of spinning; when the users file
 * changes it ends the sessions of users no longer in it.
 *
 * @module
 */

import {
  BufferPool,
  DATA_CHUNK_SIZE,
  DEFAULT_PORT,
  MessageWriter,
} from "../protocol/mod.ts";
import { Logins } from "./auth/login.ts";
import type { LoginThrottle } from "./auth/login_throttle.ts";
import { ServerLog } from "./server_log.ts";
import { Session, type SessionContext } from "./native/session.ts";
import { closeConnection } from "./net/socket_release.ts";
import {
  type BucketOptions,
  isFolderTarget,
  openStore,
} from "./storage/open.ts";
import { ChangeFeed } from "./storage/watch/change.ts";
import { observedStore } from "./storage/watch/observed_store.ts";
import { HttpFrontEnd } from "./http/http_front_end.ts";

/** How to run a server. */
export interface ServerOptions {
  /** The folder to serve (created if missing), or `s3://BUCKET[/PREFIX]`. */
  root: string;
  /** How an `s3://` root is reached, beyond what the environment says. */
  s3?: BucketOptions;
  hostname?: string;
  /** 0 picks a free port. Default {@linkcode DEFAULT_PORT}. */
  port?: number;
  /** Refuse every write. */
  readOnly?: boolean;
  /** Encrypt every connection with this certificate (or chain) and key, both PEM. */
  tls?: { certPem: string; keyPem: string };
  /** Require a login by a user of this users file (see `users.ts`). */
  users?: string;
  /** Slows down password guessing. Default: a `LoginThrottle` with its defaults. */
  loginThrottle?: LoginThrottle;
  /** Receives each log line; `null` silences the log. Default: stderr. */
  log?: ((line: string) => void) | null;
  /**
   * Close connections idle this long, and those whose transfer has made no
   * progress this long. Default 5 minutes.
   */
  idleTimeoutMs?: number;
  /**
   * Close connections that have not finished the TLS handshake, `hello` and
   * the login this long after connecting, and HTTP connections that have
   * sent nothing. Default 20 seconds.
   */
  loginTimeoutMs?: number;
  /** How often to look for changes of the users file. Default 2 seconds. */
  usersPollMs?: number;
  /** `watch` scans every this many ms instead of using inotify (`--watch-poll`). */
  watchPollMs?: number;
  /** Refuse connections beyond this many at once. Default 256. */
  maxConnections?: number;
  /** Remove partial uploads untouched this long. Default 24 hours. */
  partialTtlMs?: number;
  /** Most bytes the staging area may hold; the oldest partials go first. */
  partialLimit?: number;
  /** Also serve HTTP/WebDAV here (HTTPS with `tls`); port 0 picks a free one. */
  http?: { hostname: string; port: number; hosts?: string[] };
  /** Accept HTTP Basic logins over plain HTTP. */
  httpAllowBasicInsecure?: boolean;
}

/** What the server shares with its sessions, and its own limits. */
interface ServerContext extends SessionContext {
  maxConnections: number;
  partialTtlMs: number;
  usersPollMs: number;
}

/** How long a refused client has to finish its TLS handshake and read why. */
const REFUSAL_MS = 2000;

/** The first and the longest pause after `accept` fails. */
const ACCEPT_BACKOFF_MS = { first: 50, max: 2000 };

/**
 * A running server.
 *
 * @example
 * ```ts
 * const server = await FtsServer.start({ root: "./data", port: 0, log: null });
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 */
export class FtsServer {
  /** The address actually bound. */
  readonly addr: Deno.NetAddr;
  /** The HTTP/WebDAV front-end, when started with `http`. */
  readonly http: HttpFrontEnd | null;
  /** Resolves when the server has stopped and every session has ended. */
  readonly finished: Promise<void>;
  #listener: Deno.Listener;
  #sessions = new Set<Session>();
  #running = new Set<Promise<void>>();
  #sweeper: ReturnType<typeof setInterval>;
  #usersPoll: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #log: ServerLog;

  private constructor(
    listener: Deno.Listener,
    context: ServerContext,
    http: HttpFrontEnd | null,
  ) {
    this.#listener = listener;
    this.http = http;
    this.#log = context.log;
    this.addr = listener.addr as Deno.NetAddr;
    const sweep = () =>
      context.store.sweep(context.partialTtlMs).catch(() => 0);
    sweep();
    this.#sweeper = setInterval(
      sweep,
      Math.min(context.partialTtlMs, 3600_000),
    );
    Deno.unrefTimer(this.#sweeper);
    const logins = context.logins;
    if (logins !== null) {
      this.#usersPoll = setInterval(async () => {
        if (await logins.changed()) this.#endRemovedUsers(logins);
      }, context.usersPollMs);
      Deno.unrefTimer(this.#usersPoll);
    }
    this.finished = this.#accept(context).finally(async () => {
      clearInterval(this.#sweeper);
      clearInterval(this.#usersPoll);
      await Promise.all(this.#running);
      await context.store.close();
    });
  }

  /** Opens the root and starts listening. */
  static async start(options: ServerOptions): Promise<FtsServer> {
    const logins = options.users === undefined
      ? null
      : await Logins.open(options.users, options.loginThrottle);
    const opened = await openStore(options.root, {
      partialLimit: options.partialLimit,
      s3: options.s3,
    });
    // A bucket says nothing about writes: watches there hear of the
    // changes made through this server.
    const feed = isFolderTarget(options.root) ? undefined : new ChangeFeed();
    const store = feed ? observedStore(opened, feed) : opened;
    const address = {
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? DEFAULT_PORT,
    };
    let listener: Deno.Listener;
    try {
      listener = options.tls
        ? Deno.listenTls({
          ...address,
          cert: options.tls.certPem,
          key: options.tls.keyPem,
        })
        : Deno.listen(address);
    } catch (error) {
      await store.close();
      throw error;
    }
    store.prepare?.();
    const write = options.log === undefined
      ? (line: string) => console.error(line)
      : options.log;
    const log = new ServerLog(write);
    const readOnly = options.readOnly ?? false;
    const maxConnections = options.maxConnections ?? 256;
    const idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
    const loginTimeoutMs = options.loginTimeoutMs ?? 20_000;
    let http: HttpFrontEnd | null = null;
    try {
      http = options.http
        ? HttpFrontEnd.start({
          ...options.http,
          store,
          log,
          readOnly,
          logins,
          tls: options.tls,
          allowBasicInsecure: options.httpAllowBasicInsecure,
          maxRequests: maxConnections,
          idleTimeoutMs,
          silentTimeoutMs: loginTimeoutMs,
        })
        : null;
    } catch (error) {
      // The HTTP port is taken, say: do not leave the native one open.
      listener.close();
      await store.close();
      throw error;
    }
    return new FtsServer(listener, {
      store,
      pool: new BufferPool(DATA_CHUNK_SIZE, 32),
      log,
      readOnly,
      tls: options.tls !== undefined,
      logins,
      idleTimeoutMs,
      loginTimeoutMs,
      usersPollMs: options.usersPollMs ?? 2000,
      maxConnections,
      partialTtlMs: options.partialTtlMs ?? 24 * 3600_000,
      watch: { pollMs: options.watchPollMs, feed },
    }, http);
  }

  /** How many clients are connected. */
  get connections(): number {
    return this.#sessions.size;
  }

  /** How many sessions are serving a request right now. */
  get transfers(): number {
    let busy = 0;
    for (const session of this.#sessions) if (session.busy) busy++;
    return busy;
  }

  async #accept(context: ServerContext): Promise<void> {
    let backoff = 0;
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoff = 0;
      } catch (error) {
        if (this.#stopping) return;
        if (error instanceof Deno.errors.BadResource) return;
        // Out of descriptors, typically: retrying at once would spin while
        // nothing frees one.
        backoff = Math.min(
          backoff === 0 ? ACCEPT_BACKOFF_MS.first : backoff * 2,
          ACCEPT_BACKOFF_MS.max,
        );
        context.log.record({
          peer: "-",
          op: "accept",
          result: `failed: ${(error as Error).message}; retrying in ${
            backoff / 1000
          }s`,
        });
        await new Promise((resolve) => setTimeout(resolve, backoff));
        continue;
      }
      // Frame headers are small writes; Nagle would hold them back.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      if (this.#sessions.size >= context.maxConnections) {
        this.#refuse(conn, context);
        continue;
      }
      const session = new Session(conn, context);
      this.#sessions.add(session);
      const running = session.run().finally(() => {
        this.#sessions.delete(session);
        this.#running.delete(running);
      });
      this.#running.add(running);
    }
  }

  /**
   * Tells a client beyond the limit that the server is busy, and closes.
   * Over TLS the message waits for the handshake, so a client that never
   * makes one is closed after {@linkcode REFUSAL_MS} (and its socket shut
   * down, see socket_release.ts) instead of holding a descriptor forever.
   */
  #refuse(conn: Deno.Conn, context: ServerContext): void {
    const addr = conn.remoteAddr as Deno.NetAddr;
    context.log.record({
      peer: `${addr.hostname}:${addr.port}`,
      op: "connect",
      result: "refused: too many connections",
    });
    const writer = new MessageWriter(conn.writable);
    let sent = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const said = writer.send({
      op: "error",
      code: "busy",
      reason:
        `the server is at its limit of ${context.maxConnections} connections`,
    }).then(() => {
      sent = true;
      return writer.close();
    }, () => {});
    Promise.race([
      said,
      new Promise((resolve) => timer = setTimeout(resolve, REFUSAL_MS)),
    ]).then(() => {
      clearTimeout(timer);
      closeConnection(conn, context.tls && !sent);
    });
  }

  #endRemovedUsers(logins: Logins): void {
    for (const session of this.#sessions) {
      const user = session.user;
      if (user === undefined || logins.has(user)) continue;
      this.#log.record({
        peer: session.peer,
        op: "login",
        result: `ended: user ${JSON.stringify(user)} was removed`,
      });
      session.end(`user ${JSON.stringify(user)} was removed from this server`);
    }
  }

  /**
   * Stops accepting connections, tells every client, lets running transfers
   * finish for up to `graceMs`, then cuts off what is left, telling those
   * clients that a rerun resumes. Interrupted uploads stay in the staging
   * area for that resume. Called again while waiting, it stops at once.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    if (this.#stopping) {
      this.#cutOff();
      return await this.finished;
    }
    this.#stopping = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const session of this.#sessions) session.shutdown();
    const httpDone = this.http?.shutdown();
    const timer = setTimeout(() => this.#cutOff(), graceMs);
    await this.finished;
    await httpDone;
    clearTimeout(timer);
  }

  /** Cuts off every session now (after a one-line goodbye, at most 1 s). */
  #cutOff(): void {
    for (const session of this.#sessions) session.cutOff();
  }
}
