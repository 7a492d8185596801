/**
 * Delta transfers inside a tree upload (docs/delta.md): the server offers
 * the chunk summaries of the needed files it holds another version of
 * (after `tree-need`), and turns each `file` whose body is a delta into the
 * plain body of the rebuilt file, so the tree's sink stages, verifies,
 * syncs and commits it like any other file.
 *
 * The summaries are recorded (see `../storage/file_record.ts`) when they are
 * computed; a delta file is rebuilt from the recorded summary of the very
 * version it was offered, found again by the file's identity. So any
 * connection of the upload can receive it, and a file changed in between is
 * failed as changed on its own while the rest of the tree goes on.
 *
 * @module
 */

import type { Body } from "../../protocol/message_reader.ts";
import { type FileMessage, ProtocolError } from "../../protocol/mod.ts";
import type { RequestIo } from "./request_io.ts";
import { DELTA_MIN_SIZE } from "../../transfer/delta/delta_ops.ts";
import {
  type OldSource,
  rebuiltBody,
} from "../../transfer/delta/rebuilt_body.ts";
import { CHUNKING } from "../../transfer/delta/gear.ts";
import {
  type ChunkIndex,
  chunkOffsets,
  type ChunkSummary,
} from "../../transfer/delta/summary.ts";
import {
  MAX_SUMMARY_CHUNKS,
  readSummary,
  sendSummary,
  type SummaryWriter,
} from "../../transfer/delta/summary_exchange.ts";
import { sameIdentity } from "../storage/file_record.ts";
import { joinTree } from "../../transfer/tree/tree_manifest.ts";
import type { ReadHandle, Store } from "../storage/store.ts";
import { openOldVersion } from "./delta_requests.ts";

/** Most files of one tree upload offered as deltas. */
const MAX_SUMMARIES = 10_000;

/** One needed file the server holds another version of. */
export interface TreeSummary {
  path: string;
  summary: ChunkSummary;
}

/**
 * The summaries of the files at `paths` (relative to `root`), skipping
 * those that are gone, too small or not readable out of order, within a
 * bound on the chunks listed in all.
 */
export async function treeSummaries(
  store: Store,
  root: string,
  paths: string[],
): Promise<TreeSummary[]> {
  const found: TreeSummary[] = [];
  let chunks = 0;
  for (const path of paths.slice(0, MAX_SUMMARIES)) {
    const old = await openOldVersion(store, joinTree(root, path)).catch(() =>
      null
    );
    if (!old) continue;
    old.handle.close();
    if (chunks + old.summary.count > MAX_SUMMARY_CHUNKS) break;
    chunks += old.summary.count;
    found.push({ path, summary: old.summary });
  }
  return found;
}

/** Sends each summary, named by its path. */
export async function sendTreeSummaries(
  writer: SummaryWriter,
  summaries: TreeSummary[],
): Promise<void> {
  for (const { path, summary } of summaries) {
    await sendSummary(writer, summary, path);
  }
}

/** Whether a needed file may be offered as a delta. */
export function deltaCandidate(
  held: { type: string; size: number } | undefined,
  incoming: { size: number },
): boolean {
  return held?.type === "file" && held.size >= DELTA_MIN_SIZE &&
    incoming.size >= DELTA_MIN_SIZE;
}

/**
 * The plain body of the file a delta `body` describes against the version
 * of `target` the server recorded the summary of (see `rebuilt_body.ts`).
 */
export function serverRebuiltBody(
  store: Store,
  target: string,
  message: FileMessage,
  body: Body,
): Body {
  return rebuiltBody(
    body,
    () => openRecorded(store, target),
    `"${message.path}" changed on the server while its delta ran; run the command again`,
  );
}

/** The stored file at `target` with the offsets of its recorded chunks. */
async function openRecorded(
  store: Store,
  target: string,
): Promise<OldSource | null> {
  const handle = await store.open(target).catch(() => null);
  if (!handle) return null;
  const identity = await handle.identity?.();
  const record = identity && await store.records?.load(identity);
  const summary = record?.summary?.chunking === CHUNKING
    ? record.summary.chunks
    : null;
  if (!handle.seek || !identity || !summary) {
    handle.close();
    return null;
  }
  return {
    file: handle as OldSource["file"] & ReadHandle,
    offsets: chunkOffsets(summary),
    unchanged: async () => sameIdentity(await handle.identity!(), identity),
    close: () => handle.close(),
  };
}

/** Most summaries a tree download's client may send. */
const MAX_CLIENT_SUMMARIES = 100_000;

/**
 * Reads the `count` summaries a client sent after its want list, by path;
 * ones cut with another boundary rule are left out (those files go whole).
 */
export async function readTreeSummaries(
  io: RequestIo,
  count: number,
): Promise<Map<string, ChunkIndex>> {
  if (count > MAX_CLIENT_SUMMARIES) {
    throw new ProtocolError("too many chunk summaries");
  }
  const found = new Map<string, ChunkIndex>();
  let chunks = 0;
  for (let i = 0; i < count; i++) {
    const message = await io.reader.read();
    if (message?.op === "summary") chunks += message.chunks;
    if (chunks > MAX_SUMMARY_CHUNKS) {
      throw new ProtocolError("the chunk summaries are too long");
    }
    const index = await readSummary(message, () => io.reader.body());
    if (index && message?.op === "summary" && message.path !== undefined) {
      found.set(message.path, index);
    }
  }
  return found;
}
