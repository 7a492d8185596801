/**
 * What a request handler gets from its session: the connection's reader and
 * writer, the server's shared context, and the session's write permission.
 *
 * @module
 */

import type { MessageReader, MessageWriter } from "../../protocol/mod.ts";
import type { SessionContext } from "./session.ts";

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
