/**
 * One client connection: the handshake, then requests answered in order until
 * the client leaves, goes idle, breaks the protocol or the server shuts down.
 *
 * @module
 */

import { basename, join } from "@std/path";
import {
  AlreadyExistsError,
  AUTH_MECHANISM,
  type AuthRequest,
  type BufferPool,
  ConnectionError,
  type Entry,
  FtsError,
  type GetRequest,
  type Hello,
  IntegrityError,
  type ListRequest,
  type Message,
  MessageReader,
  MessageWriter,
  MIN_PROTOCOL_VERSION,
  type MkdirRequest,
  type MvRequest,
  PeerSpeaksTlsError,
  PROTOCOL_VERSION,
  ProtocolError,
  type PutRequest,
  ReadOnlyError,
  type Ready,
  type RmRequest,
  type StatRequest,
  type TreePutRequest,
  WrongTypeError,
} from "../protocol/mod.ts";
import { fileChunks, fileSink, hashPrefix } from "../transfer/file_chunks.ts";
import { createHasher, skipHashing } from "../transfer/hasher.ts";
import { peekDigest } from "../transfer/sha256_stream.ts";
import { VERSION } from "../version.ts";
import { coalescingWritable } from "./coalescing_writable.ts";
import { type Logins, serveLogin } from "./login.ts";
import type { ServerLog } from "./server_log.ts";
import {
  entryFromInfo,
  mapFsError,
  STAGING_DIR,
  type Storage,
} from "./storage.ts";
import { type TreeIo, treeList, treePut, treeWant } from "./tree_session.ts";
import type { UploadStaging } from "./upload_staging.ts";

/** What every session of one server shares. */
export interface SessionContext {
  storage: Storage;
  /** Chunk buffers shared by every session. */
  pool: BufferPool;
  staging: UploadStaging;
  log: ServerLog;
  readOnly: boolean;
  /** Connections are TLS connections (`Deno.TlsConn`). */
  tls: boolean;
  /** The users who may log in; null when no login is required. */
  logins: Logins | null;
  /** Close a connection after this long without a request. */
  idleTimeoutMs: number;
}

/** What a request handler reports for the log. */
interface Outcome {
  path?: string;
  bytes?: number;
  result?: string;
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
      await this.#sendError(error);
    } finally {
      this.#busy = false;
      this.#lastActivity = performance.now();
    }
  }

  #dispatch(message: Message): Promise<Outcome> {
    switch (message.op) {
      case "ls":
        return this.#list(message);
      case "stat":
        return this.#stat(message);
      case "get":
        return this.#get(message);
      case "put":
        return this.#put(message);
      case "rm":
        return this.#remove(message);
      case "mkdir":
        return this.#mkdir(message);
      case "mv":
        return this.#move(message);
      case "tree-put":
        return this.#treePut(message);
      case "tree-get":
        return treeList(this.#treeIo(), message);
      case "tree-want":
        return treeWant(this.#treeIo(), message);
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
    return await treePut(this.#treeIo(), request);
  }

  #treeIo(): TreeIo {
    return {
      reader: this.#reader,
      writer: this.#writer,
      ctx: { ...this.#ctx, readOnly: this.#readOnly },
      peer: this.peer,
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

  async #sendError(error: unknown): Promise<void> {
    const typed = error instanceof FtsError ? error : mapFsError(error, "?");
    const code = typed instanceof FtsError ? typed.code : "io";
    await this.#writer.send({ op: "error", code, reason: typed.message })
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

  async #list(request: ListRequest): Promise<Outcome> {
    const { storage } = this.#ctx;
    const host = await storage.resolveExisting(request.path);
    const info = await Deno.stat(host);
    const entries: Entry[] = [];
    if (info.isDirectory) {
      const atRoot = storage.segments(request.path).length === 0;
      for await (const item of Deno.readDir(host)) {
        if (atRoot && item.name === STAGING_DIR) continue;
        const entry = await storage.entry(join(host, item.name), item.name)
          .catch(() => null);
        if (entry) entries.push(entry);
      }
      entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    } else {
      entries.push(entryFromInfo(basename(host), info));
    }
    if (request.hash) {
      for (const entry of entries) {
        if (entry.type === "file") {
          const path = info.isDirectory ? join(host, entry.name) : host;
          entry.sha256 = await this.#hashFile(path);
        }
      }
    }
    await this.#writer.send({ op: "listing", path: request.path });
    const encoder = new TextEncoder();
    await this.#writer.sendBody(
      (function* () {
        for (let i = 0; i < entries.length; i += 1000) {
          const lines = entries.slice(i, i + 1000)
            .map((entry) => JSON.stringify(entry) + "\n").join("");
          yield encoder.encode(lines);
        }
      })(),
    );
    return { result: `${entries.length} entries` };
  }

  async #hashFile(host: string): Promise<string> {
    const size = (await Deno.stat(host)).size;
    return peekDigest(await hashPrefix(host, size));
  }

  async #stat(request: StatRequest): Promise<Outcome> {
    const { storage } = this.#ctx;
    const host = await storage.resolveExisting(request.path);
    const segments = storage.segments(request.path);
    const entry = entryFromInfo(segments.at(-1) ?? ".", await Deno.stat(host));
    if (request.hash && entry.type === "file") {
      entry.sha256 = await this.#hashFile(host);
    }
    await this.#writer.send({ op: "entry", entry });
    return {};
  }

  async #get(request: GetRequest): Promise<Outcome> {
    const { pool } = this.#ctx;
    const host = await this.#ctx.storage.resolveExisting(request.path);
    using file = await Deno.open(host);
    const info = await file.stat();
    if (!info.isFile) {
      throw new WrongTypeError(`"${request.path}" is a folder, not a file`);
    }
    const mtime = Math.round(info.mtime?.getTime() ?? 0);
    let offset = 0;
    let hasher = request.verify ? await createHasher(pool) : skipHashing(pool);
    const unchanged = request.expect === undefined ||
      (request.expect.size === info.size && request.expect.mtime === mtime);
    if (
      request.offset > 0 && request.verify && unchanged &&
      request.offset <= info.size
    ) {
      const prefix = await createHasher(pool, host, request.offset);
      if (prefix.hex() === request.prefixSha256) {
        hasher = prefix;
        offset = request.offset;
      }
    }
    await this.#writer.send({
      op: "data",
      offset,
      size: info.size,
      mtime,
      mode: info.mode === null ? null : info.mode & 0o7777,
      restarted: request.offset > 0 && offset === 0,
    });
    await file.seek(offset, Deno.SeekMode.Start);
    await this.#writer.sendBody(
      fileChunks(file, pool),
      () => request.verify ? { sha256: hasher.hex() } : {},
      (chunk) => hasher.update(chunk),
    );
    return {
      bytes: info.size - offset,
      result: offset > 0 ? `ok, resumed at ${offset}` : "ok",
    };
  }

  async #put(request: PutRequest): Promise<Outcome> {
    this.#assertWritable();
    const { storage, staging, pool } = this.#ctx;
    const host = await storage.resolveNew(request.path);
    const path = storage.segments(request.path).join("/");
    await this.#assertReplaceable(host, path, request.noClobber);
    const staged = await staging.claim(
      path,
      request.size,
      request.mtime,
      request.resume && request.verify && request.size !== null,
    );
    let keep = staged.resumable;
    try {
      const ready: Ready = { op: "ready", offset: staged.existing };
      const prefix = staged.existing > 0 && request.verify
        ? await createHasher(pool, staged.path, staged.existing)
        : null;
      if (prefix) ready.prefixSha256 = prefix.hex();
      await this.#writer.send(ready);
      const data = await this.#reader.read();
      if (data === null) {
        throw new ConnectionError("the client left before sending data");
      }
      if (
        data.op !== "data" ||
        (data.offset !== 0 && data.offset !== staged.existing)
      ) {
        throw new ProtocolError(`unexpected "${data.op}" during an upload`);
      }
      const offset = data.offset;
      const hasher = !request.verify
        ? skipHashing(pool)
        : offset > 0 && prefix
        ? prefix
        : await createHasher(pool);
      let received = 0;
      using file = await Deno.open(staged.path, { write: true, create: true });
      await file.truncate(offset);
      await file.seek(offset, Deno.SeekMode.Start);
      const body = this.#reader.body();
      await body.stream.pipeTo(fileSink(file, (chunk) => {
        received += chunk.byteLength;
        hasher.update(chunk);
      }));
      const trailer = await body.trailer;
      if (request.size !== null && offset + received !== request.size) {
        keep = false;
        throw new IntegrityError(
          `received ${
            offset + received
          } bytes but the file has ${request.size}`,
        );
      }
      const sha256 = hasher.hex();
      if (request.verify && trailer.sha256 !== sha256) {
        keep = false;
        throw new IntegrityError(
          "the data was damaged in transit (SHA-256 mismatch); the file on the server was not changed",
        );
      }
      await file.syncData();
      if (request.mode !== null) {
        await Deno.chmod(staged.path, request.mode & 0o777);
      }
      await Deno.utime(staged.path, new Date(), new Date(request.mtime));
      await this.#assertReplaceable(host, path, request.noClobber);
      await Deno.rename(staged.path, host);
      keep = true;
      await this.#writer.send({
        op: "done",
        bytes: received,
        sha256: request.verify ? sha256 : undefined,
      });
      return {
        path,
        bytes: received,
        result: offset > 0 ? `ok, resumed at ${offset}` : "ok",
      };
    } finally {
      staged.release();
      if (!keep) await Deno.remove(staged.path).catch(() => {});
    }
  }

  async #assertReplaceable(
    host: string,
    path: string,
    noClobber: boolean,
  ): Promise<void> {
    const existing = await Deno.lstat(host).catch(() => null);
    if (existing?.isDirectory) {
      throw new WrongTypeError(`"${path}" is a folder on the server`);
    }
    if (existing && noClobber) {
      throw new AlreadyExistsError(`"${path}" already exists on the server`);
    }
  }

  async #remove(request: RmRequest): Promise<Outcome> {
    this.#assertWritable();
    const host = await this.#ctx.storage.resolveNew(request.path);
    const info = await Deno.lstat(host).catch((error) => {
      throw mapFsError(error, request.path);
    });
    if (info.isDirectory && !request.recursive) {
      await Deno.remove(host).catch((error) => {
        throw new WrongTypeError(
          `"${request.path}" is a folder that is not empty (use rm -r)`,
          { cause: error },
        );
      });
    } else {
      await Deno.remove(host, { recursive: request.recursive });
    }
    await this.#writer.send({ op: "ok" });
    return {};
  }

  async #mkdir(request: MkdirRequest): Promise<Outcome> {
    this.#assertWritable();
    await this.#ctx.storage.mkdirs(request.path);
    await this.#writer.send({ op: "ok" });
    return {};
  }

  async #move(request: MvRequest): Promise<Outcome> {
    this.#assertWritable();
    const { storage } = this.#ctx;
    const from = await storage.resolveNew(request.from);
    await Deno.lstat(from).catch((error) => {
      throw mapFsError(error, request.from);
    });
    let to = await storage.resolveNew(request.to);
    const target = await Deno.stat(to).catch(() => null);
    if (target?.isDirectory) {
      to = await storage.resolveNew(
        `${storage.segments(request.to).join("/")}/${basename(from)}`,
      );
    }
    if (to === from || to.startsWith(from + "/")) {
      throw new WrongTypeError(`cannot move "${request.from}" into itself`);
    }
    await Deno.rename(from, to).catch((error) => {
      throw mapFsError(error, request.to);
    });
    await this.#writer.send({ op: "ok" });
    return { path: `${request.from} -> ${request.to}` };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
