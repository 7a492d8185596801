/**
 * Test helper: a hostile or broken fts server on 127.0.0.1, written with the
 * protocol's own encoders. It says hello properly, then answers each request
 * with whatever the test's handler chooses.
 *
 * @module
 */

import {
  type Message,
  MessageReader,
  MessageWriter,
  PROTOCOL_VERSION,
  type Welcome,
} from "../../protocol/mod.ts";

/** What a handler may do with one request. */
export interface FakeSession {
  writer: MessageWriter;
  reader: MessageReader;
}

/** Answers one request; return after replying. */
export type FakeHandler = (
  request: Message,
  session: FakeSession,
) => Promise<void>;

/** A running fake server. */
export interface FakeServer {
  port: number;
  /** `127.0.0.1:PORT`. */
  address: string;
  /** Every request received, in order. */
  requests: Message[];
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a fake server (its `welcome` extended by `welcome`, e.g. to ask
 * for a login). `stat` requests get `entries[path]` when given;
 * everything else goes to `handler`. `bye` is answered with `ok`.
 */
export function startFakeServer(
  handler: FakeHandler,
  welcome: Partial<Welcome> = {},
): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const requests: Message[] = [];
  const sessions: Promise<void>[] = [];
  const serve = async (conn: Deno.Conn) => {
    const reader = new MessageReader(conn.readable);
    const writer = new MessageWriter(conn.writable);
    try {
      const hello = await reader.read();
      if (hello?.op !== "hello") return;
      await writer.send({
        op: "welcome",
        version: PROTOCOL_VERSION,
        agent: "fake/1",
        features: ["resume", "sha256"],
        readOnly: false,
        ...welcome,
      });
      while (true) {
        const request = await reader.read();
        if (request === null) return;
        requests.push(request);
        if (request.op === "bye") {
          await writer.send({ op: "ok" });
          return;
        }
        await handler(request, { reader, writer });
      }
    } catch {
      // The client went away; that is its business.
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      sessions.push(serve(conn));
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    requests,
    close: async () => {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await accepting;
      await Promise.all(sessions);
    },
  };
}
