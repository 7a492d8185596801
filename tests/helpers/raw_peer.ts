/**
 * Test helpers for talking to a server byte by byte: a raw socket that reads
 * whole frames, frame and message encoders, bounded waits, and an upload
 * abandoned half-way.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import {
  decodeMessage,
  encodeFrame,
  encodeMessage,
  type Frame,
  FrameReader,
  FrameType,
  type Message,
  MessageWriter,
} from "../../protocol/mod.ts";
import { STAGING_DIR } from "../../server/storage/remote_path.ts";

/** The loopback address every test uses. */
export const HOST = "127.0.0.1";

/** A minimal `hello`. */
export const HELLO: Message = {
  op: "hello",
  version: 1,
  agent: "x",
  features: [],
};

/** Rejects if `promise` takes longer than `ms`; always clears its timer. */
export async function within<T>(
  ms: number,
  what: string,
  promise: Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: nothing within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` every 10 ms for up to `ms` (generous by default: only a
 * failing test waits that long, and a loaded machine may be slow); fails if
 * it never holds.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One frame as the bytes on the wire. */
export function frameBytes(frame: Frame): Uint8Array {
  const chunks = encodeFrame(frame);
  return chunks.length === 1 ? chunks[0] : concat(chunks);
}

/** `chunks` joined into one array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** One message frame as the bytes on the wire. */
export function messageBytes(message: Message): Uint8Array {
  return frameBytes({
    type: FrameType.Message,
    payload: encodeMessage(message),
  });
}

/** Writes all of `bytes` to `conn`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) {
    at += await conn.write(bytes.subarray(at));
  }
}

/** A raw socket to the server, reading whole frames. */
export class RawPeer {
  readonly frames: FrameReader;
  private constructor(readonly conn: Deno.TcpConn) {
    this.frames = new FrameReader(conn.readable);
  }

  static async connect(port: number): Promise<RawPeer> {
    const conn = await Deno.connect({ hostname: HOST, port });
    conn.setNoDelay(true);
    return new RawPeer(conn);
  }

  send(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Reads the next message; fails on anything else. */
  async message(): Promise<Message> {
    const frame = await within(20_000, "message", this.frames.next());
    if (frame === null) throw new Error("the server closed the connection");
    assertEquals(frame.type, FrameType.Message);
    return decodeMessage(frame.payload);
  }

  /**
   * Reads until the server closes the socket (a clean end or a reset, which
   * the server may send when it closes with our bytes still unread) and
   * returns the messages that arrived first.
   */
  async untilClosed(ms = 20_000): Promise<Message[]> {
    const messages: Message[] = [];
    await within(
      ms,
      "server to close the connection",
      (async () => {
        for (let i = 0; i < 100; i++) {
          let frame;
          try {
            frame = await this.frames.next();
          } catch (error) {
            if (
              error instanceof Deno.errors.ConnectionReset ||
              error instanceof Deno.errors.BrokenPipe
            ) return;
            throw error;
          }
          if (frame === null) return;
          assertEquals(frame.type, FrameType.Message);
          messages.push(decodeMessage(frame.payload));
        }
        throw new Error("too many frames");
      })(),
    );
    return messages;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Sends hello, a put of 1 MiB to `path` and 300 KB of it plus half a frame,
 * and waits until the server has staged those bytes; leaves the socket open.
 */
export async function startAbandonedUpload(
  peer: RawPeer,
  root: string,
  path: string,
): Promise<void> {
  const writer = new MessageWriter(peer.conn.writable);
  await writer.send(HELLO);
  assertEquals((await peer.message()).op, "welcome");
  const size = 1024 * 1024;
  await writer.send({
    op: "put",
    path,
    size,
    mtime: 1_700_000_000_000,
    mode: null,
    resume: false,
    noClobber: false,
    verify: true,
  });
  assertEquals(await peer.message(), { op: "ready", offset: 0 });
  await writer.send({ op: "data", offset: 0, size });
  for (let i = 0; i < 3; i++) {
    await peer.send(frameBytes({
      type: FrameType.Data,
      payload: new Uint8Array(100_000).fill(i + 1),
    }));
  }
  await peer.send(
    frameBytes({ type: FrameType.Data, payload: new Uint8Array(5000) })
      .subarray(0, 2500),
  );
  // The server is mid-transfer: its staging area holds the bytes.
  const staging = join(root, STAGING_DIR, "partial");
  await waitFor("the server to stage 300 KB", async () => {
    let staged = 0;
    for await (const entry of Deno.readDir(staging)) {
      staged += (await Deno.stat(join(staging, entry.name))).size;
    }
    return staged >= 300_000;
  });
}
