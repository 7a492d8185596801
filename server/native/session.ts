/**
 * One client connection: the handshake, then requests answered in order until
 * the client leaves, goes idle, breaks the protocol or the server shuts down.
 *
 * Three clocks bound a session:
 * - the login deadline (`loginTimeoutMs`), from the connection to the end of
 *   the TLS handshake, `hello` and (with users) the login; nothing the client
 *   sends before then (a `ping`, say) extends it;
 * - the idle timeout (`idleTimeoutMs`) between requests;
 * - the stall timeout, the same length: a request that moves no frame in
 *   either direction for that long (a `put` whose body stops, a `get` whose
 *   client stops reading) ends the session. Its upload stays staged for a
 *   resume, and its staging lock goes with the request.
 *
 * @module
 */

import {
  AUTH_MECHANISM,
  type AuthRequest,
  ConnectionError,
  FEATURES,
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
} from "../../protocol/mod.ts";
import { VERSION } from "../../version.ts";
import { coalescingWritable } from "../net/coalescing_writable.ts";
import { progressWritable } from "../net/progress_writable.ts";
import { serveLogin } from "../auth/login.ts";
import { fsError } from "../storage/fs_errors.ts";
import { closeConnection } from "../net/socket_release.ts";
import * as files from "./file_requests.ts";
import type {
  Outcome,
  RawSocket,
  RequestIo,
  SessionContext,
} from "./request_io.ts";
import { duplicate, findSocket } from "../net/socket_descriptor.ts";
import { treePut, treeWant } from "./tree_session.ts";
import { treeList } from "./tree_listing.ts";
import { treeDelete } from "./tree_delete.ts";
import { serveWatch } from "./watch_session.ts";

/** The log line's result for a session one of its clocks ended. */
const TIMED_OUT = {
  login: "closed: no login in time",
  idle: "closed: idle",
  stalled: "closed: the transfer made no progress",
  shutdown: "closed: the server shut down",
} as const;

/** How long a closing session waits for its last message to go out. */
const LAST_WORDS_MS = 1000;

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
  /** Aborted when the server shuts down (ends a watch). */
  #stopping = new AbortController();
  /** Writes are refused: the server is read-only, or the user is. */
  #readOnly: boolean;
  /** The user who logged in, if any. */
  #user: string | undefined;
  /** Writes out replies gathered for a TLS connection (see `coalescing_writable.ts`). */
  #flush: () => Promise<void> = () => Promise.resolve();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #loginTimer: ReturnType<typeof setTimeout> | undefined;
  #tlsReady = false;
  /** The TLS handshake has not ended (neither finished nor failed). */
  #handshaking: boolean;
  /** Which clock ended the session, for its log line. */
  #timedOut: keyof typeof TIMED_OUT | undefined;
  #lastActivity = performance.now();

  constructor(conn: Deno.Conn, ctx: SessionContext) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#readOnly = ctx.readOnly;
    // Deno starts a TLS handshake at accept, not when it is awaited.
    this.#handshaking = ctx.tls;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.peer = `${addr.hostname}:${addr.port}`;
    const onActivity = () => this.#lastActivity = performance.now();
    // Read with conn.read, not conn.readable: a TLS connection returns one
    // 16 KiB record per read, and the stream around each read cost the
    // server 0.3–0.8 s of CPU per GiB (docs/performance.md).
    this.#reader = new MessageReader(conn, {
      onActivity,
      // Replies gathered for TLS go out before waiting on the client.
      beforeRead: ctx.tls ? () => void this.#flush() : undefined,
      pool: ctx.pool,
    });
    // Each write the socket takes counts as progress: a download whose
    // client stopped reading makes none.
    const writable = progressWritable(conn.writable, onActivity);
    if (ctx.tls) {
      // No setNoDelay on a TLS connection: gather small writes instead.
      const coalescing = coalescingWritable(writable);
      this.#flush = coalescing.flush;
      this.#writer = new MessageWriter(coalescing.writable, { pool: ctx.pool });
    } else {
      this.#writer = new MessageWriter(writable, { pool: ctx.pool });
    }
  }

  /** The user who logged in, if any. */
  get user(): string | undefined {
    return this.#user;
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
    this.#armLoginTimer();
    try {
      if (this.#ctx.tls) await this.#tlsHandshake();
      if (await this.#handshake()) {
        if (this.#ctx.logins === null) this.#admit();
        while (!this.#closing) {
          const message = await this.#reader.read();
          if (message === null) break;
          if (message.op === "bye") {
            await this.#writer.send({ op: "ok" });
            result = this.#user === undefined ? "left" : "logged out";
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
      if (this.#timedOut !== undefined) result = TIMED_OUT[this.#timedOut];
      this.#ctx.log.record({
        peer: this.peer,
        op,
        ms: performance.now() - started,
        result,
      });
    }
  }

  /**
   * Tells the client the server is shutting down; an idle session closes
   * once the notice is out, a busy one after its current request.
   */
  shutdown(): void {
    this.#closing = true;
    this.#stopping.abort();
    this.#timedOut = "shutdown";
    const notice = this.#lastWords({
      op: "notice",
      message: "the server is shutting down",
      shutdown: true,
    });
    if (!this.#busy) notice.then(() => this.#flushThenClose());
  }

  /**
   * Ends the session at shutdown, telling the client that the server shut
   * down and that running the command again resumes.
   */
  cutOff(): Promise<void> {
    this.#timedOut = "shutdown";
    return this.end(
      "the server shut down before this transfer finished; run the command again to resume",
      true,
    );
  }

  /**
   * Ends the session now, first telling the client `message` (for at most
   * a second); a transfer in flight fails, an upload stays staged.
   */
  async end(message: string, shutdown = false): Promise<void> {
    this.#closing = true;
    await this.#lastWords({ op: "notice", message, shutdown });
    await this.#flushThenClose();
  }

  /**
   * Sends `message` unless the session is closed or the handshake has not
   * happened yet (a TLS write would wait for it), waiting at most
   * {@linkcode LAST_WORDS_MS}: a client that reads nothing cannot delay the
   * close.
   */
  async #lastWords(message: Message): Promise<void> {
    if (this.#closed || (this.#ctx.tls && !this.#tlsReady)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#writer.send(message).catch(() => {}),
      new Promise((resolve) => timer = setTimeout(resolve, LAST_WORDS_MS)),
    ]);
    clearTimeout(timer);
  }

  /**
   * Closes the connection once what was written has gone out (for at most a
   * second: a client that reads nothing cannot hold it open).
   */
  async #flushThenClose(): Promise<void> {
    if (!this.#closed && this.#ctx.tls) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#flush().catch(() => {}),
        new Promise((resolve) => timer = setTimeout(resolve, LAST_WORDS_MS)),
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
    clearTimeout(this.#loginTimer);
    this.#abort.abort(new ConnectionError("the connection was closed"));
    // A TLS connection closed mid-handshake would keep its descriptor until
    // the peer leaves; see socket_release.ts.
    closeConnection(this.#conn, this.#handshaking);
  }

  // Until the login is done only this deadline runs: what the client sends
  // meanwhile does not count as activity.
  #armLoginTimer(): void {
    this.#loginTimer = setTimeout(() => {
      this.#timedOut = "login";
      this.end(
        `closing the connection: no login within ${
          seconds(this.#ctx.loginTimeoutMs)
        } s`,
      );
    }, this.#ctx.loginTimeoutMs);
  }

  #admit(): void {
    clearTimeout(this.#loginTimer);
    this.#lastActivity = performance.now();
    this.#armIdleTimer();
  }

  // One timer per idle period rather than one per frame: the timer checks
  // when the last frame moved and sleeps again for the remainder. A busy
  // session counts frames read and writes taken by the socket as progress.
  #armIdleTimer(delay = this.#ctx.idleTimeoutMs): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed) return;
    this.#idleTimer = setTimeout(() => {
      const idle = performance.now() - this.#lastActivity;
      if (idle < this.#ctx.idleTimeoutMs) {
        return this.#armIdleTimer(this.#ctx.idleTimeoutMs - idle);
      }
      const limit = seconds(this.#ctx.idleTimeoutMs);
      this.#timedOut = this.#busy ? "stalled" : "idle";
      this.end(
        this.#busy
          ? `closing the connection: the transfer made no progress for ${limit} s`
          : `closing the connection after ${limit} s without a request`,
      );
    }, delay);
  }

  // Done before the first read so that a client without TLS is told apart
  // from one that fails later; the login deadline bounds a stalled one.
  async #tlsHandshake(): Promise<void> {
    try {
      await (this.#conn as Deno.TlsConn).handshake();
      this.#tlsReady = true;
      this.#handshaking = false;
    } catch (error) {
      // Failed by itself (not cut short by close()): its task let go.
      if (!this.#closed) this.#handshaking = false;
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
      features: FEATURES,
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
      this.#admit();
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
      case "chmod":
        return files.chmod(this.#io, message);
      case "df":
        return files.space(this.#io);
      case "mv":
        return files.move(this.#io, message);
      case "tree-put":
        return this.#treePut(message);
      case "tree-get":
        return treeList(this.#io, message);
      case "tree-want":
        return treeWant(this.#io, message);
      case "tree-delete":
        return treeDelete(this.#io, message);
      case "watch":
        return serveWatch(this.#io, message);
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
      socket: this.#ctx.tls ? undefined : this.#socket,
      stopping: this.#stopping.signal,
    };
  }

  /** The plain socket for zero-copy sends, found once per session. */
  #socket: RawSocket = {
    open: () => {
      if (this.#closed) return null;
      this.#socketFd ??= findSocket(this.#conn);
      return this.#socketFd === null ? null : duplicate(this.#socketFd);
    },
    signal: this.#abort.signal,
    progress: () => this.#lastActivity = performance.now(),
  };
  #socketFd: number | null | undefined;

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

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
