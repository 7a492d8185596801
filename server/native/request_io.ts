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
}

/** What a request handler reports for the log. */
export interface Outcome {
  path?: string;
  bytes?: number;
  result?: string;
}
