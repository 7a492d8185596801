/**
 * A client's connection to an fts server: the handshake and one method per
 * request. File transfers live in `upload.ts` and `download.ts`.
 *
 * @module
 */

import {
  AUTH_MECHANISM,
  AuthError,
  type Body,
  type BodySink,
  BufferPool,
  type Checksum,
  ConnectionError,
  type Entry,
  errorFromWire,
  type ErrorMessage,
  FEATURES,
  ForeignPeerError,
  FtsError,
  type Message,
  MessageReader,
  MessageWriter,
  type Notice,
  PeerSpeaksTlsError,
  PROTOCOL_VERSION,
  ProtocolError,
  TruncatedFrameError,
  type Welcome,
} from "../protocol/mod.ts";
import { ScramClient } from "../protocol/scram.ts";
import type { Trailer } from "../protocol/messages.ts";
import type { SendBodyOptions } from "../protocol/message_writer.ts";
import {
  type FileBodyOptions,
  type FileBodyResult,
  sendFileBody,
} from "../transfer/file_body.ts";
import { VERSION } from "../version.ts";
import { DEFAULT_TIMEOUT_SECONDS, LinkWatch } from "./link_watch.ts";
import type { Target } from "./target.ts";
import { socketWritable } from "./socket_writable.ts";
import {
  connectReason,
  TlsRequiredError,
  TransportOpener,
} from "./tls_connect.ts";
import { foreignPeerError, silentPeerError } from "./wrong_port.ts";

/**
 * How long, after a write failed, the client goes on reading what the server
 * sent before it closed (its shutdown notice, an error).
 */
const LAST_WORDS_MS = 1000;

/** Options for {@linkcode Connection.open}. */
export interface ConnectOptions {
  /** Shown a notice the server sends unprompted. */
  onNotice?: (notice: Notice) => void;
  /**
   * Opens the TCP or TLS connection and checks the server's certificate.
   * Default: plain TCP (known hosts are not consulted).
   */
  transport?: TransportOpener;
  /**
   * Returns the password of `user` for the server `label`, when the server
   * asks for a login. Default: none, so such a server cannot be used.
   */
  password?: (user: string, label: string) => string | Promise<string>;
  /**
   * Give up when the server sends and takes nothing for this long while the
   * client waits on it (see `link_watch.ts`). Default 30 s.
   */
  timeoutMs?: number;
}

/**
 * An open session with a server. Requests are answered in order; call one at
 * a time.
 *
 * @example
 * ```ts
 * const connection = await Connection.open({ hostname: "127.0.0.1", port: 7373 });
 * const entries = await connection.list("");
 * await connection.close();
 * ```
 */
export class Connection {
  /** The server's welcome. */
  readonly welcome: Welcome;
  /** `host:port` as the user named it. */
  readonly label: string;
  /** Chunk buffers for this connection's transfers. */
  readonly pool: BufferPool;
  /** Whether the connection is encrypted with TLS. */
  readonly tls: boolean;
  /** The user logged in as, if the server asked for a login. */
  readonly user: string | undefined;
  /** Every write will be refused: the server or the user is read-only. */
  readonly readOnly: boolean;
  #conn: Deno.Conn;
  #reader: MessageReader;
  #writer: MessageWriter;
  #watch: LinkWatch;
  #closed = false;
  /** What the server said about its end, shared with the reader's hook. */
  #heard: Heard;

  private constructor(
    conn: Deno.Conn,
    watch: LinkWatch,
    reader: MessageReader,
    writer: MessageWriter,
    welcome: Welcome,
    label: string,
    pool: BufferPool,
    session: { tls: boolean; user: string | undefined; readOnly: boolean },
    heard: Heard,
  ) {
    this.#conn = conn;
    this.#heard = heard;
    this.pool = pool;
    this.tls = session.tls;
    this.user = session.user;
    this.readOnly = session.readOnly;
    this.#watch = watch;
    this.#reader = reader;
    this.#writer = writer;
    this.welcome = welcome;
    this.label = label;
  }

  /** Connects, says hello and logs in if the server asks for it. */
  static async open(
    target: Target,
    options: ConnectOptions = {},
  ): Promise<Connection> {
    const label = target.hostname.includes(":")
      ? `[${target.hostname}]:${target.port}`
      : `${target.hostname}:${target.port}`;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_SECONDS * 1000;
    const transport = options.transport ??
      new TransportOpener({ knownHosts: null, timeoutMs });
    const { conn, tls } = await transport.open(target, label);
    const pool = new BufferPool();
    const watch = new LinkWatch(timeoutMs, () => {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    });
    const heard: Heard = { shutdown: false };
    // conn.read rather than conn.readable: fewer promises per read, which
    // counts for TLS, where every read returns one 16 KiB record.
    const reader = new MessageReader(conn, {
      onNotice: (notice) => {
        if (notice.shutdown) heard.shutdown = true;
        options.onNotice?.(notice);
      },
      pool,
      beforeRead: () => watch.readStart(),
      onActivity: () => watch.frameArrived(),
    });
    // Not conn.writable: that closes the connection on a failed write, and
    // the server's last words could no longer be read.
    const writer = new MessageWriter(
      watch.watchWritable(socketWritable(conn)),
      { pool },
    );
    let answered = false;
    try {
      const reply = await greet(reader, writer, {
        tls,
        label,
        port: target.port,
        onAnswer: () => answered = true,
      });
      let user: string | undefined;
      let readOnly = reply.readOnly;
      if (reply.auth !== undefined) {
        user = target.user;
        if (user === undefined) {
          throw new AuthError(
            `the server requires a login; connect as USER@${label}`,
            { action: `connect to ${label}` },
          );
        }
        if (!options.password) {
          throw new AuthError(`no password`, { action: `log in to ${label}` });
        }
        const password = await options.password(user, label);
        const userReadOnly = await logIn(
          reader,
          writer,
          reply.auth,
          user,
          password,
        );
        readOnly ||= userReadOnly;
      }
      return new Connection(conn, watch, reader, writer, reply, label, pool, {
        tls,
        user,
        readOnly,
      }, heard);
    } catch (error) {
      watch.stop();
      try {
        conn.close();
      } catch {
        // Closed by the watch.
      }
      if (watch.stalled && !answered) {
        throw silentPeerError(label, target.port, watch.seconds);
      }
      if (watch.stalled) throw stalledError(watch, `connect to ${label}`);
      if (error instanceof FtsError) throw error;
      throw new ConnectionError(
        `${connectReason(error)}`,
        { action: `connect to ${label}`, cause: error },
      );
    }
  }

  /** Whether the connection has been closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `request` and returns the reply, turning an `error` reply into a
   * typed error about `action` (e.g. `get "a.txt"`).
   */
  async request(request: Message, action: string): Promise<Message> {
    try {
      await this.#writer.send(request);
    } catch (error) {
      throw this.wrap(error, action);
    }
    return await this.reply(action);
  }

  /**
   * Reads the next reply (after a body was sent), turning an `error` reply
   * into a typed error about `action`.
   */
  async reply(action: string): Promise<Message> {
    try {
      const reply = await this.#reader.read();
      if (reply === null) {
        this.#closed = true;
        throw new ConnectionError(
          `the server closed the connection`,
          { action: action },
        );
      }
      if (reply.op === "error") throw errorFromWire(reply, action);
      return reply;
    } catch (error) {
      throw this.wrap(error, action);
    }
  }

  /** Sends one message (the client's part of a request with a body). */
  async send(message: Message): Promise<void> {
    await this.#writer.send(message);
  }

  /**
   * Sends a body; see {@linkcode MessageWriter.sendBody}. When the server
   * drops the connection meanwhile (a broken pipe, a reset), first reads
   * what it sent before closing, for at most a second, so that
   * {@linkcode wrap} can tell a shutdown or the server's error from a lost
   * link. Call it with no read in flight on this connection.
   */
  async sendBody(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    trailer?: () => Trailer | Promise<Trailer>,
    onWritten?: (chunk: Uint8Array) => void,
    options?: SendBodyOptions,
  ): Promise<void> {
    try {
      await this.#writer.sendBody(chunks, trailer, onWritten, options);
    } catch (error) {
      if (droppedByPeer(error)) await this.#readLastWords();
      throw error;
    }
  }

  /**
   * Reads what is left of the server's messages until it closed, keeping
   * the first `error` (notices are noted by the reader's hook), then closes
   * the connection. Bounded by {@linkcode LAST_WORDS_MS}: a server that
   * sends nothing more cannot hold the client.
   */
  async #readLastWords(): Promise<void> {
    const timer = setTimeout(() => this.abort(), LAST_WORDS_MS);
    try {
      while (true) {
        const message = await this.#reader.read();
        if (message === null) break;
        if (message.op === "error") {
          this.#heard.error = message;
          break;
        }
      }
    } catch {
      // The reset, or the close at the deadline: all there was to hear.
    } finally {
      clearTimeout(timer);
      this.abort();
    }
  }

  /** Sends frames a `FrameBatch` encoded, in one write. */
  async sendEncoded(bytes: Uint8Array): Promise<void> {
    await this.#writer.sendEncoded(bytes);
  }

  /** Sends an open file as a body; see `transfer/file_body.ts`. */
  async sendFileBody(
    file: Deno.FsFile,
    options?: FileBodyOptions,
  ): Promise<FileBodyResult> {
    return await sendFileBody(this.#writer, file, this.pool, options);
  }

  /** The body that follows the reply just read. */
  body(): Body {
    return this.#reader.body();
  }

  /**
   * Reads the body that follows the reply just read into `sink`'s buffers
   * (see `MessageReader.bodyInto`); resolves to its trailer.
   */
  bodyInto(sink: BodySink): Promise<Trailer> {
    return this.#reader.bodyInto(sink);
  }

  /** Body bytes received compressed so far, before and after decompression. */
  get packed(): { raw: number; wire: number } {
    return this.#reader.packed;
  }

  /**
   * Turns a low-level failure into a typed error about `action`. A lost or
   * stalled link says so (and, when `resumable`, that a rerun resumes; a
   * string names the command that does), as does a link the server closed
   * after announcing its shutdown, or after an error; the server's own
   * errors pass unchanged.
   */
  wrap(
    error: unknown,
    action: string,
    resumable: boolean | string = false,
  ): Error {
    const hint = typeof resumable === "string"
      ? `; run "${resumable}" to resume`
      : resumable
      ? "; run the same command again to resume"
      : "";
    if (this.#watch.stalled) {
      this.#closed = true;
      return stalledError(this.#watch, action, hint);
    }
    const lost = error instanceof ConnectionError ||
      error instanceof TruncatedFrameError || !(error instanceof FtsError);
    if (!lost) return error;
    this.#closed = true;
    if (this.#heard.error) return errorFromWire(this.#heard.error, action);
    if (this.#heard.shutdown) {
      return new ConnectionError(`the server shut down${hint}`, {
        action,
        cause: error,
      });
    }
    if (error instanceof ConnectionError && error.action === action) {
      return error;
    }
    return new ConnectionError(`the connection was lost${hint}`, {
      action: action,
      cause: error,
    });
  }

  /** Lists a folder (or describes a file) on the server. */
  async list(
    path: string,
    hash = false,
    checksum?: Checksum,
  ): Promise<Entry[]> {
    const action = `list "${path || "/"}"`;
    const reply = await this.request(
      { op: "ls", path, hash, checksum },
      action,
    );
    if (reply.op !== "listing") throw unexpected(reply, action);
    const text = await readBodyText(this.body(), this, action);
    return text.split("\n").filter((line) => line !== "").map((line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        value = undefined;
      }
      return checkEntry(value, action);
    });
  }

  /** Describes one path on the server; errors name `action`. */
  async stat(
    path: string,
    hash = false,
    action = `stat "${path}"`,
    checksum?: Checksum,
  ): Promise<Entry> {
    const reply = await this.request(
      { op: "stat", path, hash, checksum },
      action,
    );
    if (reply.op !== "entry") throw unexpected(reply, action);
    return checkEntry(reply.entry, action);
  }

  /** Removes a file, or a folder with `recursive`. */
  async remove(path: string, recursive = false): Promise<void> {
    await this.#expectOk({ op: "rm", path, recursive }, `remove "${path}"`);
  }

  /** Creates a folder and its parents. */
  async mkdir(path: string): Promise<void> {
    await this.#expectOk({ op: "mkdir", path }, `create folder "${path}"`);
  }

  /**
   * The free and whole space where the server keeps the files.
   *
   * @throws {ProtocolError} when the server is too old to tell.
   */
  async space(): Promise<{ free: number; total: number }> {
    const action = "df";
    if (!this.welcome.features.includes("df")) {
      throw new ProtocolError("the server is too old to tell its free space", {
        action,
      });
    }
    const reply = await this.request({ op: "df" }, action);
    if (reply.op !== "space") {
      throw new ProtocolError(`expected "space", got "${reply.op}"`, {
        action,
      });
    }
    return { free: reply.free, total: reply.total };
  }

  /**
   * Sets the permission bits of `path`.
   *
   * @throws {ProtocolError} when the server is too old to take `chmod`.
   */
  async chmod(path: string, mode: number): Promise<void> {
    const action = `chmod "${path}"`;
    if (!this.welcome.features.includes("chmod")) {
      throw new ProtocolError("the server is too old to change modes", {
        action,
      });
    }
    await this.#expectOk({ op: "chmod", path, mode }, action);
  }

  /**
   * Renames or moves a path; into a folder if `to` is one. Returns the
   * server's notice about it, if any (not atomic on an object store).
   */
  async move(from: string, to: string): Promise<string | undefined> {
    return await this.#expectOk(
      { op: "mv", from, to },
      `move "${from}" to "${to}"`,
    );
  }

  async #expectOk(
    request: Message,
    action: string,
  ): Promise<string | undefined> {
    const reply = await this.request(request, action);
    if (reply.op !== "ok") throw unexpected(reply, action);
    return typeof reply.notice === "string" ? reply.notice : undefined;
  }

  /** Logs out politely and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.request({ op: "bye" }, "log out");
    } catch {
      // Leaving anyway.
    }
    this.abort();
  }

  /** Closes the connection at once. */
  abort(): void {
    this.#closed = true;
    this.#watch.stop();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** What the server said about its end of the session. */
interface Heard {
  /** It announced that it is shutting down. */
  shutdown: boolean;
  /** The error it sent just before dropping the connection. */
  error?: ErrorMessage;
}

/** Whether a write failed because the server dropped the connection. */
function droppedByPeer(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset;
}

/**
 * Logs in with SCRAM-SHA-256 and checks the server's signature. Returns
 * whether the user may only read.
 */
async function logIn(
  reader: MessageReader,
  writer: MessageWriter,
  mechanism: string,
  user: string,
  password: string,
): Promise<boolean> {
  const action = "log in";
  if (mechanism !== AUTH_MECHANISM) {
    throw new AuthError(
      `cannot log in: the server asks for an unknown login mechanism "${mechanism}"`,
    );
  }
  const next = async () => {
    const reply = await reader.read();
    if (reply === null) {
      throw new ConnectionError(
        "the server closed the connection",
        { action: "log in" },
      );
    }
    if (reply.op === "error") throw errorFromWire(reply, action);
    return reply;
  };
  try {
    const scram = new ScramClient(user, password);
    await writer.send({ op: "auth", mechanism, data: scram.first() });
    const challenge = await next();
    if (challenge.op !== "auth-continue") throw unexpected(challenge, action);
    const final = await scram.final(challenge.data);
    await writer.send({ op: "auth", mechanism, data: final });
    const outcome = await next();
    if (outcome.op !== "auth-ok") throw unexpected(outcome, action);
    scram.verify(outcome.data);
    return outcome.readOnly;
  } catch (error) {
    throw error instanceof AuthError ? error.withAction(action) : error;
  }
}

const ENTRY_TYPES = new Set(["file", "dir", "symlink", "other"]);

/**
 * `value` as an {@linkcode Entry}, checked field by field: a broken or
 * hostile server's listing must not crash the formatting or fool a command.
 */
function checkEntry(value: unknown, action: string): Entry {
  const entry = value as Partial<Entry> | null;
  const count = (n: unknown) =>
    typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  if (
    typeof entry !== "object" || entry === null ||
    typeof entry.name !== "string" || !ENTRY_TYPES.has(entry.type as string) ||
    !count(entry.size) || typeof entry.mtime !== "number" ||
    !Number.isFinite(entry.mtime) ||
    !(entry.mode === null || count(entry.mode)) ||
    !(entry.sha256 === undefined || /^[0-9a-f]{64}$/.test(entry.sha256))
  ) {
    throw new ProtocolError("the server sent a malformed entry", { action });
  }
  return entry as Entry;
}

/** The error for a reply that does not fit the request. */
export function unexpected(reply: Message, action: string): ProtocolError {
  return new ProtocolError(
    `the server answered "${reply.op}"`,
    { action: action },
  );
}

async function readBodyText(
  body: Body,
  connection: Connection,
  action: string,
): Promise<string> {
  try {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of body.stream) {
      text += decoder.decode(chunk, { stream: true });
    }
    return text + decoder.decode();
  } catch (error) {
    throw connection.wrap(error, action);
  }
}

/**
 * Says hello and reads the server's welcome; refuses an answer that is not
 * one (an error, a TLS server spoken to in plain text, another protocol).
 * `onAnswer` runs once the server answered anything at all.
 */
async function greet(
  reader: MessageReader,
  writer: MessageWriter,
  peer: { tls: boolean; label: string; port: number; onAnswer(): void },
): Promise<Welcome> {
  const { tls, label } = peer;
  await writer.send({
    op: "hello",
    version: PROTOCOL_VERSION,
    agent: `fts/${VERSION}`,
    features: FEATURES,
  });
  const reply = await reader.read().catch((error) => {
    if (error instanceof ForeignPeerError) {
      throw foreignPeerError(label, peer.port, error.greeting);
    }
    if (!tls && error instanceof PeerSpeaksTlsError) {
      throw new TlsRequiredError(
        `the server requires TLS (use --tls)`,
        { action: `connect to ${label}` },
      );
    }
    throw error;
  });
  if (reply !== null) peer.onAnswer();
  if (reply === null && !tls) {
    // A TLS server drops a client that sends fts frames.
    throw new TlsRequiredError(
      `the server closed the connection at once; it may require TLS (use --tls)`,
      { action: `connect to ${label}` },
    );
  }
  if (reply?.op === "error") {
    throw errorFromWire(reply, `connect to ${label}`);
  }
  if (reply?.op !== "welcome") {
    throw new ProtocolError(
      `the server did not answer as an fts server`,
      { action: `connect to ${label}` },
    );
  }
  return reply;
}

function stalledError(
  watch: LinkWatch,
  action: string,
  hint = "",
): ConnectionError {
  return new ConnectionError(
    `nothing moved to or from the server for ${watch.seconds} s; the link seems dead (see --timeout)${hint}`,
    { action },
  );
}
