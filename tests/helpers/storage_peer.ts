/**
 * Test helper: a hand-driven `tree-put` over a raw connection, so a test
 * can act (swap a folder for a link) at an exact point of a tree upload —
 * after a `dir` message, before the files in it — as an attacker's own
 * client would; and single raw requests the real client would not send.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  type Message,
  MessageReader,
  MessageWriter,
  PROTOCOL_VERSION,
  type TreeFailure,
  type TreeItem,
} from "../../protocol/mod.ts";
import { jsonLines, readJsonLines } from "../../transfer/tree/tree_manifest.ts";

/** What the server said at the end of a tree upload. */
export interface TreeOutcome {
  /** Files (and folders) the server reported as failed, by path. */
  failed: TreeFailure[];
  /** The final `tree-done` (or `error`) message. */
  last: Message;
}

/** One raw session that speaks `tree-put` step by step. */
export class TreePutPeer {
  #conn: Deno.TcpConn;
  #reader: MessageReader;
  #writer: MessageWriter;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reader = new MessageReader(conn.readable);
    this.#writer = new MessageWriter(conn.writable);
  }

  /** Connects to 127.0.0.1:`port` and says hello. */
  static async connect(port: number): Promise<TreePutPeer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const peer = new TreePutPeer(conn);
    await peer.#writer.send({
      op: "hello",
      version: PROTOCOL_VERSION,
      agent: "storage-test",
      features: ["resume", "sha256"],
    });
    const welcome = await peer.#reader.read();
    if (welcome?.op !== "welcome") {
      throw new Error(`expected welcome, got ${JSON.stringify(welcome)}`);
    }
    return peer;
  }

  /** Starts `tree-put path` with `manifest`; returns how many files are needed. */
  async start(path: string, manifest: TreeItem[]): Promise<number> {
    await this.#writer.send({ op: "tree-put", path, verify: true });
    await this.#writer.sendBody(jsonLines(manifest));
    const need = await this.#reader.read();
    if (need?.op !== "tree-need") {
      throw new Error(`expected tree-need, got ${JSON.stringify(need)}`);
    }
    await readJsonLines(this.#reader.body());
    return need.files;
  }

  /** Sends a `dir` message. */
  dir(path: string, mode: number | null, mtime = 1_000_000_000_000) {
    return this.#writer.send({ op: "dir", path, mode, mtime });
  }

  /** Sends one file with its SHA-256. */
  async file(path: string, data: Uint8Array, mode: number | null = 0o644) {
    await this.#writer.send({
      op: "file",
      path,
      size: data.byteLength,
      mtime: 1_000_000_000_000,
      mode,
    });
    const sha256 = createHash("sha256").update(data).digest("hex");
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < data.byteLength; at += 256 * 1024) {
      chunks.push(data.subarray(at, at + 256 * 1024));
    }
    await this.#writer.sendBody(chunks, () => ({ sha256 }));
  }

  /** Sends `tree-end` and reads acknowledgements up to `tree-done`. */
  async end(): Promise<TreeOutcome> {
    await this.#writer.send({ op: "tree-end" });
    const failed: TreeFailure[] = [];
    while (true) {
      const message = await this.#reader.read();
      if (message === null) throw new Error("the server closed the session");
      if (message.op !== "tree-ack") return { failed, last: message };
      failed.push(...message.failed);
    }
  }

  /** Sends any one request and returns the first reply (for bad peers). */
  async ask(request: Message): Promise<Message | null> {
    await this.#writer.send(request);
    return await this.#reader.read();
  }

  /**
   * Sends `tree-want path` for `wanted` (any paths, as a bad client may)
   * and returns what came back: each file's path and bytes, and each
   * refusal, up to `tree-end`.
   */
  async want(
    path: string,
    wanted: string[],
  ): Promise<{ files: Map<string, Uint8Array>; errors: Message[] }> {
    await this.#writer.send({ op: "tree-want", path, verify: true });
    await this.#writer.sendBody(jsonLines(wanted));
    const files = new Map<string, Uint8Array>();
    const errors: Message[] = [];
    while (true) {
      const message = await this.#reader.read();
      if (message === null) throw new Error("the server closed the session");
      if (message.op === "tree-end") return { files, errors };
      if (message.op === "file") {
        const body = this.#reader.body();
        files.set(
          message.path,
          new Uint8Array(await new Response(body.stream).arrayBuffer()),
        );
        await body.trailer;
      } else if (message.op === "tree-error" || message.op === "error") {
        errors.push(message);
        if (message.op === "error") return { files, errors };
      } else throw new Error(`unexpected ${JSON.stringify(message)}`);
    }
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** A manifest item for a file of `size` bytes. */
export function fileItem(path: string, size: number): TreeItem {
  return { path, type: "file", size, mtime: 1_000_000_000_000, mode: 0o644 };
}
