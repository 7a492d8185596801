/**
 * The client's side of a delta download (docs/delta.md): the summary of
 * the local version sent with the `get`, and the server's delta applied to
 * it into the partial file. The local version is only read; it is replaced
 * by the usual rename once the new one is complete and verified.
 *
 * @module
 */

import { IoError } from "../protocol/errors.ts";
import type { Body } from "../protocol/message_reader.ts";
import { applyDelta } from "../transfer/delta/delta_apply.ts";
import {
  DELTA_MIN_SIZE,
  type DeltaStats,
  emptyStats,
} from "../transfer/delta/delta_ops.ts";
import {
  chunkOffsets,
  type ChunkSummary,
  summarize,
} from "../transfer/delta/summary.ts";
import type { Hasher } from "../transfer/hash/hasher.ts";
import type { ProgressBar } from "./progress.ts";

/** The local version a download may be a delta against. */
export interface LocalVersion {
  file: Deno.FsFile;
  summary: ChunkSummary;
  /** Its size, mtime and ctime when summarised, to see it change. */
  stamp: string;
}

/**
 * Opens and summarises the regular file at `path`; null when there is
 * none, or it is too small for a delta to pay.
 */
export async function localVersion(path: string): Promise<LocalVersion | null> {
  const info = await Deno.lstat(path).catch(() => null);
  if (!info?.isFile || info.size < DELTA_MIN_SIZE) return null;
  const file = await Deno.open(path).catch(() => null);
  if (!file) return null;
  try {
    const stamp = stampOf(await file.stat());
    const summary = await summarize(file);
    return { file, summary, stamp };
  } catch (error) {
    file.close();
    throw error;
  }
}

function stampOf(info: Deno.FileInfo): string {
  return `${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
}

/**
 * Applies the delta body to `old`, writing the new version to `write` and
 * hashing it with `hasher`; returns what was sent and reused.
 *
 * @throws {IoError} when the local version changed meanwhile.
 */
export async function receiveDeltaBody(
  body: Body,
  old: LocalVersion,
  write: (bytes: Uint8Array) => Promise<unknown>,
  hasher: Hasher,
  bar: ProgressBar | null,
): Promise<DeltaStats> {
  const stats = emptyStats();
  await applyDelta(
    body.stream,
    old.file,
    chunkOffsets(old.summary),
    async (bytes) => {
      await write(bytes);
      bar?.advance(bytes.byteLength);
      hasher.update(bytes);
    },
    stats,
  );
  if (stampOf(await old.file.stat()) !== old.stamp) {
    throw new IoError(
      "the local file changed while the delta was applied; it was not replaced (run the command again)",
    );
  }
  return stats;
}
