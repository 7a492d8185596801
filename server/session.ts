/**
 * One client connection: the handshake, then requests answered in order until
 * the client leaves, goes idle, breaks the protocol or the server shuts down.
 *
 * @module
 */

import {
  AUTH_MECHANISM,
  type AuthRequest,
  type BufferPool,
  ConnectionError,
  FtsError,
  type Hello,
  type Message,
  MessageReader,
  MessageWriter,
  MIN_PROTOCOL_VERSION,
  PeerSpeaksTlsError,
  PROTOCOL_VERSION,
  ProtocolError,
  ReadOnlyError,
  type TreePutRequest,
} from "../protocol/mod.ts";
import { VERSION } from "../version.ts";
import { coalescingWritable } from "./coalescing_writable.ts";
import { type Logins, serveLogin } from "./login.ts";
import type { ServerLog } from "./server_log.ts";
import { fsError } from "./fs_errors.ts";
import type { LocalStore } from "./local_store.ts";
import * as files from "./file_requests.ts";
import type { Outcome, RequestIo } from "./request_io.ts";
import { treeList, treePut, treeWant } from "./tree_session.ts";

/** What every session of one server shares. */
export interface SessionContext {
  /** The storage core every request goes through. */
  store: LocalStore;
  /** Chunk buffers shared by every session. */
  pool: BufferPool;
  log: ServerLog;
  readOnly: boolean;
  /** Connections are TLS connections (`Deno.TlsConn`). */
  tls: boolean;
  /** The users who may log in; null when no login is required. */
  logins: Logins | null;
  /** Close a connection after this long without a request. */
  idleTimeoutMs: number;
}

/** Why a session was refused, for the log line `refused: <message>`. */
class Refusal extends Error {}

/** Serves one connection. */
export class Session {
  /** The client's address, as `host:port`. */
  readonly peer: string;
  #conn: Deno.Conn;
  #ctx: SessionContext;
  #reader: MessageReader;
  #writer: MessageWriter;
  #busy = false;
  #closing = false;
  #closed = false;
  /** Aborted when the connection closes (stops a login's throttle wait). */
  #abort = new AbortController();
  /** Writes are refused: the server is read-only, or the user is. */
  #readOnly: boolean;
  /** The user who logged in, if any. */
  #user: string | undefined;
  /** Writes out replies gathered for a TLS connection (see `coalescing_writable.ts`). */
  #flush: () => Promise<void> = () => Promise.resolve();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = performance.now();

  constructor(conn: Deno.Conn, ctx: SessionContext) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#readOnly = ctx.readOnly;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.peer = `${addr.hostname}:${addr.port}`;
    this.#reader = new MessageReader(conn.readable, {
      onActivity: () => this.#lastActivity = performance.now(),
      // Replies gathered for TLS go out before waiting on the client.
      beforeRead: ctx.tls ? () => void this.#flush() : undefined,
      pool: ctx.pool,
    });
    if (ctx.tls) {
      // No setNoDelay on a TLS connection: gather small writes instead.
      const coalescing = coalescingWritable(conn.writable);
      this.#flush = coalescing.flush;
      this.#writer = new MessageWriter(coalescing.writable);
    } else {
      this.#writer = new MessageWriter(conn.writable);
    }
  }

  /** Whether a request is being served right now. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Serves requests until the connection ends; never throws. */
  async run(): Promise<void> {
    const started = performance.now();
    let result = "closed";
    let op = "disconnect";
    this.#armIdleTimer();
    try {
      if (this.#ctx.tls) await this.#tlsHandshake();
      if (await this.#handshake()) {
        while (!this.#closing) {
          const message = await this.#reader.read();
          if (message === null) break;
          if (message.op === "bye") {
            await this.#writer.send({ op: "ok" });
            result = "logged out";
            break;
          }
          if (message.op === "auth") {
            await this.#login(message);
            continue;
          }
          if (this.#ctx.logins !== null && this.#user === undefined) {
            await this.#writer.send({
              op: "error",
              code: "auth",
              reason: "log in first",
            });
            result = `refused: "${message.op}" before logging in`;
            break;
          }
          await this.#serve(message);
        }
      }
    } catch (error) {
      if (error instanceof Refusal || error instanceof PeerSpeaksTlsError) {
        op = "connect";
        result = error instanceof Refusal
          ? `refused: ${error.message}`
          : "refused: a TLS client connected to a plaintext server";
      } else {
        result = `ended: ${describe(error)}`;
        if (error instanceof ProtocolError) {
          await this.#sendError(error);
        }
      }
    } finally {
      await this.#flushThenClose();
      this.#ctx.log.record({
        peer: this.peer,
        op,
        ms: performance.now() - started,
        result,
      });
    }
  }

  /**
   * Tells the client the server is shutting down; an idle session closes at
   * once, a busy one after its current request.
   */
  shutdown(): void {
    this.#closing = true;
    this.#writer.send({
      op: "notice",
      message: "the server is shutting down",
      shutdown: true,
    }).catch(() => {});
    if (!this.#busy) this.#flushThenClose();
  }

  /**
   * Closes the connection once what was written has gone out (for at most a
   * second: a client that reads nothing cannot hold it open).
   */
  async #flushThenClose(): Promise<void> {
    if (!this.#closed && this.#ctx.tls) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#flush(),
        new Promise((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
      clearTimeout(timer);
    }
    this.close();
  }

  /** Closes the connection at once; a transfer in flight fails. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#abort.abort(new ConnectionError("the connection was closed"));
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }

  // One timer per idle period rather than one per frame: the timer checks
  // when the last frame arrived and sleeps again for the remainder.
  #armIdleTimer(delay = this.#ctx.idleTimeoutMs): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed) return;
    this.#idleTimer = setTimeout(() => {
      const idle = performance.now() - this.#lastActivity;
      if (this.#busy || idle < this.#ctx.idleTimeoutMs) {
        return this.#armIdleTimer(
          this.#busy ? this.#ctx.idleTimeoutMs : this.#ctx.idleTimeoutMs - idle,
        );
      }
      this.#writer.send({
        op: "notice",
        message: `closing the connection after ${
          Math.round(this.#ctx.idleTimeoutMs / 1000)
        } s without a request`,
      }).catch(() => {}).finally(() => this.#flushThenClose());
    }, delay);
  }

  // Done before the first read so that a client without TLS is told apart
  // from one that fails later; the idle timer bounds a stalled handshake.
  async #tlsHandshake(): Promise<void> {
    try {
      await (this.#conn as Deno.TlsConn).handshake();
    } catch (error) {
      const message = describe(error);
      throw new Refusal(
        /InvalidContentType|corrupt message/i.test(message)
          ? "not a TLS client"
          : `TLS handshake failed (${message})`,
      );
    }
  }

  async #handshake(): Promise<boolean> {
    let hello: Message | null;
    try {
      hello = await this.#reader.read();
    } catch (error) {
      // A TLS client that only fetched the certificate (fts connect's
      // probe of an unknown server) leaves without a close_notify.
      if (this.#ctx.tls && error instanceof Deno.errors.UnexpectedEof) {
        return false;
      }
      throw error;
    }
    if (hello === null) return false;
    if (hello.op !== "hello") {
      throw new ProtocolError(`expected "hello", got "${hello.op}"`);
    }
    const version = Math.min(PROTOCOL_VERSION, (hello as Hello).version);
    if (version < MIN_PROTOCOL_VERSION) {
      throw new ProtocolError(
        `protocol version ${hello.version} is not supported (this server speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`,
      );
    }
    await this.#writer.send({
      op: "welcome",
      version,
      agent: `fts/${VERSION}`,
      features: ["resume", "sha256"],
      readOnly: this.#ctx.readOnly,
      auth: this.#ctx.logins === null ? undefined : AUTH_MECHANISM,
      tls: this.#ctx.tls,
    });
    this.#ctx.log.record({
      peer: this.peer,
      op: "connect",
      result: hello.agent,
    });
    return true;
  }

  async #login(request: AuthRequest): Promise<void> {
    const logins = this.#ctx.logins;
    if (logins === null) {
      await this.#writer.send({
        op: "error",
        code: "auth",
        reason: "this server does not ask for a login",
      });
      return;
    }
    if (this.#user !== undefined) {
      throw new ProtocolError("already logged in");
    }
    const user = await serveLogin(
      {
        reader: this.#reader,
        writer: this.#writer,
        log: this.#ctx.log,
        peer: this.peer,
        peerHost: (this.#conn.remoteAddr as Deno.NetAddr).hostname,
        signal: this.#abort.signal,
      },
      logins,
      request,
    );
    if (user !== null) {
      this.#user = user.name;
      this.#readOnly ||= user.readOnly;
    }
  }

  async #serve(message: Message): Promise<void> {
    this.#busy = true;
    const started = performance.now();
    let outcome: Outcome = {};
    try {
      outcome = await this.#dispatch(message);
      this.#log(message, started, outcome);
    } catch (error) {
      this.#log(message, started, { result: `failed: ${describe(error)}` });
      if (error instanceof ProtocolError || error instanceof ConnectionError) {
        throw error;
      }
      await this.#sendError(error, "path" in message ? message.path : "");
    } finally {
      this.#busy = false;
      this.#lastActivity = performance.now();
    }
  }

  #dispatch(message: Message): Promise<Outcome> {
    switch (message.op) {
      case "ls":
        return files.list(this.#io, message);
      case "stat":
        return files.stat(this.#io, message);
      case "get":
        return files.get(this.#io, message);
      case "put":
        return files.put(this.#io, message);
      case "rm":
        return files.remove(this.#io, message);
      case "mkdir":
        return files.mkdir(this.#io, message);
      case "mv":
        return files.move(this.#io, message);
      case "tree-put":
        return this.#treePut(message);
      case "tree-get":
        return treeList(this.#io, message);
      case "tree-want":
        return treeWant(this.#io, message);
      default:
        throw new ProtocolError(`"${message.op}" is not a request`);
    }
  }

  async #treePut(request: TreePutRequest): Promise<Outcome> {
    if (this.#readOnly) {
      // Skip the manifest so the session stays in step, then refuse.
      await this.#reader.body().stream.cancel();
      this.#assertWritable();
    }
    return await treePut(this.#io, request);
  }

  get #io(): RequestIo {
    return {
      reader: this.#reader,
      writer: this.#writer,
      ctx: { ...this.#ctx, readOnly: this.#readOnly },
      peer: this.peer,
      assertWritable: () => this.#assertWritable(),
    };
  }

  #log(message: Message, started: number, outcome: Outcome): void {
    this.#ctx.log.record({
      peer: this.peer,
      op: message.op,
      path: outcome.path ?? ("path" in message ? message.path : undefined),
      bytes: outcome.bytes,
      ms: performance.now() - started,
      result: outcome.result ?? "ok",
    });
  }

  async #sendError(error: unknown, path = ""): Promise<void> {
    const typed = error instanceof FtsError ? error : fsError(error, path);
    const code = typed.code;
    await this.#writer.send({ op: "error", code, reason: typed.reason })
      .catch(() => {});
  }

  #assertWritable(): void {
    if (this.#ctx.readOnly) {
      throw new ReadOnlyError("the server is read-only");
    }
    if (this.#readOnly) {
      throw new ReadOnlyError(
        `user ${JSON.stringify(this.#user)} may only read`,
      );
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
