/**
 * What a request handler gets from its session: the connection's reader and
 * writer, the server's shared context ({@linkcode SessionContext}), and the
 * session's write permission.
 *
 * @module
 */

import type {
  BufferPool,
  MessageReader,
  MessageWriter,
} from "../../protocol/mod.ts";
import type { Logins } from "../auth/login.ts";
import type { ServerLog } from "../server_log.ts";
import type { Store } from "../storage/store.ts";
import type { WatchSettings } from "../storage/watch/tree_watch.ts";

/**
 * The longest quiet spell a long request (a watch, a tree deletion) leaves
 * the client without a frame: a ping keeps its idle timer from firing.
 */
export const PING_MS = 5_000;

/** What every session of one server shares. */
export interface SessionContext {
  /** The storage core every request goes through. */
  store: Store;
  /** Chunk buffers shared by every session. */
  pool: BufferPool;
  log: ServerLog;
  readOnly: boolean;
  /** Connections are TLS connections (`Deno.TlsConn`). */
  tls: boolean;
  /** The users who may log in; null when no login is required. */
  logins: Logins | null;
  /**
   * Close a connection after this long without a request, or with a request
   * that moves nothing.
   */
  idleTimeoutMs: number;
  /** Close a connection not logged in (or without `hello`) after this long. */
  loginTimeoutMs: number;
  /** How `watch` sees changes (scan interval, the feed of an S3 store). */
  watch?: WatchSettings;
}

/** A session as its request handlers see it. */
export interface RequestIo {
  reader: MessageReader;
  writer: MessageWriter;
  /** The server's context; `readOnly` already includes the user's. */
  ctx: SessionContext;
  /** The client's address, for log lines. */
  peer: string;
  /** Throws a `ReadOnlyError` when this session may not write. */
  assertWritable(): void;
  /** Aborted when the server shuts down (a request that never ends, `watch`, ends). */
  stopping?: AbortSignal;
  /** The plain TCP socket itself, for zero-copy sends; absent for TLS. */
  socket?: RawSocket;
}

/** A session's socket as the zero-copy send (`sendfile_body.ts`) uses it. */
export interface RawSocket {
  /**
   * A duplicate of the socket's descriptor, which the caller closes; null
   * when it cannot be had (no libc, no `/proc`) or the session is closed.
   */
  open(): number | null;
  /** Aborted when the session closes. */
  signal: AbortSignal;
  /** Counts as progress for the session's stall clock. */
  progress(): void;
}

/** What a request handler reports for the log. */
export interface Outcome {
  path?: string;
  bytes?: number;
  result?: string;
}
