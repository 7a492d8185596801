/**
 * The fts server: listens, runs one {@linkcode Session} per connection, all at
 * once, and shuts down gracefully.
 *
 * @module
 */

import {
  BufferPool,
  DATA_CHUNK_SIZE,
  DEFAULT_PORT,
  MessageWriter,
} from "../protocol/mod.ts";
import { Logins } from "./login.ts";
import { ServerLog } from "./server_log.ts";
import { Session, type SessionContext } from "./session.ts";
import { LocalStore } from "./local_store.ts";
import { HttpFrontEnd } from "./http/http_front_end.ts";

/** How to run a server. */
export interface ServerOptions {
  /** The folder to serve; created if missing. */
  root: string;
  hostname?: string;
  /** 0 picks a free port. Default {@linkcode DEFAULT_PORT}. */
  port?: number;
  /** Refuse every write. */
  readOnly?: boolean;
  /** Encrypt every connection with this certificate (or chain) and key, both PEM. */
  tls?: { certPem: string; keyPem: string };
  /** Require a login by a user of this users file (see `users.ts`). */
  users?: string;
  /** Receives each log line; `null` silences the log. Default: stderr. */
  log?: ((line: string) => void) | null;
  /** Close connections idle this long. Default 5 minutes. */
  idleTimeoutMs?: number;
  /** Refuse connections beyond this many at once. Default 256. */
  maxConnections?: number;
  /** Remove partial uploads untouched this long. Default 24 hours. */
  partialTtlMs?: number;
  /** Most bytes the staging area may hold; the oldest partials go first. */
  partialLimit?: number;
  /** Also serve HTTP/WebDAV here (HTTPS with `tls`); port 0 picks a free one. */
  http?: { hostname: string; port: number };
  /** Accept HTTP Basic logins over plain HTTP. */
  httpAllowBasicInsecure?: boolean;
}

/** What the server shares with its sessions, and its own limits. */
interface ServerContext extends SessionContext {
  maxConnections: number;
  partialTtlMs: number;
}

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
  #stopping = false;

  private constructor(
    listener: Deno.Listener,
    context: ServerContext,
    http: HttpFrontEnd | null,
  ) {
    this.#listener = listener;
    this.http = http;
    this.addr = listener.addr as Deno.NetAddr;
    const sweep = () =>
      context.store.staging.sweep(context.partialTtlMs).catch(() => 0);
    sweep();
    this.#sweeper = setInterval(
      sweep,
      Math.min(context.partialTtlMs, 3600_000),
    );
    Deno.unrefTimer(this.#sweeper);
    this.finished = this.#accept(context).finally(async () => {
      clearInterval(this.#sweeper);
      await Promise.all(this.#running);
      await context.store.close();
    });
  }

  /** Opens the root and starts listening. */
  static async start(options: ServerOptions): Promise<FtsServer> {
    const logins = options.users === undefined
      ? null
      : await Logins.open(options.users);
    const store = await LocalStore.open(options.root, {
      partialLimit: options.partialLimit,
    });
    const address = {
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? DEFAULT_PORT,
    };
    const listener = options.tls
      ? Deno.listenTls({
        ...address,
        cert: options.tls.certPem,
        key: options.tls.keyPem,
      })
      : Deno.listen(address);
    const write = options.log === undefined
      ? (line: string) => console.error(line)
      : options.log;
    const log = new ServerLog(write);
    const readOnly = options.readOnly ?? false;
    const maxConnections = options.maxConnections ?? 256;
    const idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
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
        })
        : null;
    } catch (error) {
      // The HTTP port is taken, say: do not leave the native one open.
      listener.close();
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
      maxConnections,
      partialTtlMs: options.partialTtlMs ?? 24 * 3600_000,
    }, http);
  }

  /** How many clients are connected. */
  get connections(): number {
    return this.#sessions.size;
  }

  async #accept(context: ServerContext): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping) return;
        if (error instanceof Deno.errors.BadResource) return;
        continue;
      }
      // Frame headers are small writes; Nagle would hold them back.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      if (this.#sessions.size >= context.maxConnections) {
        this.#refuse(conn, context.maxConnections, context.log);
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

  #refuse(conn: Deno.Conn, limit: number, log: ServerLog): void {
    const addr = conn.remoteAddr as Deno.NetAddr;
    log.record({
      peer: `${addr.hostname}:${addr.port}`,
      op: "connect",
      result: "refused: too many connections",
    });
    const writer = new MessageWriter(conn.writable);
    writer.send({
      op: "error",
      code: "busy",
      reason: `the server is at its limit of ${limit} connections`,
    }).then(() => writer.close(), () => {}).finally(() => {
      try {
        conn.close();
      } catch {
        // Closed by the writer already.
      }
    });
  }

  /**
   * Stops accepting connections, tells every client, lets running transfers
   * finish for up to `graceMs`, then closes what is left. Interrupted uploads
   * stay in the staging area for a later resume.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      for (const session of this.#sessions) session.shutdown();
      const httpDone = this.http?.shutdown();
      const timer = setTimeout(() => {
        for (const session of this.#sessions) session.close();
      }, graceMs);
      await this.finished;
      await httpDone;
      clearTimeout(timer);
    }
    await this.finished;
  }
}
