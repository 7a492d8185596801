/**
 * A chunk summary on the wire: a `summary` message, then a body of 6-byte
 * chunk hashes. Both directions use it (the server's old version for a put,
 * the client's for a get).
 *
 * @module
 */

import { ProtocolError } from "../../protocol/errors.ts";
import type { Body } from "../../protocol/message_reader.ts";
import type { Message } from "../../protocol/messages.ts";
import { CHUNK_HASH_BYTES } from "./chunk_hash.ts";
import { CHUNKING } from "./gear.ts";
import { ChunkIndex, type ChunkSummary, encodeHashes } from "./summary.ts";

/** Most chunks a summary may list (48 MB of hashes, files to ~80 GiB). */
export const MAX_SUMMARY_CHUNKS = 8 * 1024 * 1024;

const PIECE = 1024 * 1024;

/** Either end's way to send a message and a body. */
export interface SummaryWriter {
  send(message: Message): Promise<void>;
  sendBody(chunks: Iterable<Uint8Array>): Promise<void>;
}

/**
 * Sends `summary` as a `summary` message and its body; `path` names the
 * file in a tree upload.
 */
export async function sendSummary(
  writer: SummaryWriter,
  summary: ChunkSummary,
  path?: string,
): Promise<void> {
  await sendSummaryPiece(writer, encodeHashes(summary), { path });
}

/**
 * Sends one `summary` message with `hashes` (6 bytes a chunk) as its body;
 * with `more`, another piece follows.
 */
export async function sendSummaryPiece(
  writer: SummaryWriter,
  hashes: Uint8Array,
  { path, more }: { path?: string; more?: boolean },
): Promise<void> {
  await writer.send({
    op: "summary",
    chunking: CHUNKING,
    chunks: hashes.byteLength / CHUNK_HASH_BYTES,
    path,
    more: more || undefined,
  });
  await writer.sendBody(function* () {
    for (let at = 0; at < hashes.byteLength; at += PIECE) {
      yield hashes.subarray(at, at + PIECE);
    }
  }());
}

/**
 * Reads the body of a `summary` message into an index of its hashes; null
 * when it was cut with a boundary rule this build does not use (then no
 * delta: the whole file goes).
 *
 * @throws {ProtocolError} when `message` is not a summary or its body has
 * another length than announced.
 */
export async function readSummary(
  message: Message | null,
  body: () => Body,
): Promise<ChunkIndex | null> {
  const piece = await readSummaryPiece(message, body);
  return piece.ours ? ChunkIndex.fromWire(piece.hashes) : null;
}

/** One `summary` message and its body, as {@linkcode readSummaryPiece} read it. */
export interface SummaryPiece {
  /** The chunk hashes, 6 bytes each. */
  hashes: Uint8Array;
  /** Cut with this build's rule (else no delta). */
  ours: boolean;
  /** Another piece follows. */
  more: boolean;
}

/**
 * Reads one `summary` message's body.
 *
 * @throws {ProtocolError} when `message` is not a summary or its body has
 * another length than announced.
 */
export async function readSummaryPiece(
  message: Message | null,
  body: () => Body,
): Promise<SummaryPiece> {
  if (message?.op !== "summary" || message.chunks > MAX_SUMMARY_CHUNKS) {
    throw new ProtocolError(`expected a chunk summary, not "${message?.op}"`);
  }
  const expected = message.chunks * CHUNK_HASH_BYTES;
  const bytes = new Uint8Array(expected);
  let at = 0;
  const { stream, trailer } = body();
  for await (const chunk of stream) {
    if (at + chunk.byteLength > expected) {
      throw new ProtocolError("the chunk summary is longer than announced");
    }
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  await trailer;
  if (at !== expected) {
    throw new ProtocolError("the chunk summary is shorter than announced");
  }
  return {
    hashes: bytes,
    ours: message.chunking === CHUNKING,
    more: message.more === true,
  };
}
