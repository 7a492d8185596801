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
import { join } from "@std/path";
import { type OldSource, rebuiltBody } from "../transfer/delta/rebuilt_body.ts";

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
  const opened = await openLocalVersion(path);
  if (!opened) return null;
  try {
    return { ...opened, summary: await summarize(opened.file) };
  } catch (error) {
    opened.file.close();
    throw error;
  }
}

/** A local version opened, not yet summarised (see {@linkcode localVersion}). */
export type OpenedVersion = Omit<LocalVersion, "summary">;

/**
 * Opens the regular file at `path` for a delta; null when there is none,
 * or it is too small for a delta to pay.
 */
export async function openLocalVersion(
  path: string,
): Promise<OpenedVersion | null> {
  const info = await Deno.lstat(path).catch(() => null);
  if (!info?.isFile || info.size < DELTA_MIN_SIZE) return null;
  const file = await Deno.open(path).catch(() => null);
  if (!file) return null;
  try {
    return { file, stamp: stampOf(await file.stat()) };
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

/** The local versions of files a tree download may get as deltas, by path. */
export type LocalVersions = Map<
  string,
  { summary: ChunkSummary; stamp: string }
>;

/**
 * Summarises the local versions (at `root`) of the wanted `files` that are
 * worth a delta: regular files of at least 64 KiB, arriving at that size.
 */
export async function localVersions(
  root: string,
  files: { path: string; size: number }[],
): Promise<LocalVersions> {
  const found: LocalVersions = new Map();
  for (const item of files) {
    if (item.size < DELTA_MIN_SIZE) continue;
    const version = await localVersion(join(root, item.path)).catch(() => null);
    if (!version) continue;
    version.file.close();
    found.set(item.path, { summary: version.summary, stamp: version.stamp });
  }
  return found;
}

/**
 * The plain body of a tree file the server sent as a delta against the
 * local version at `path` (see `rebuilt_body.ts`); the file fails alone if
 * that version changed since it was summarised.
 */
export function localRebuiltBody(
  body: Body,
  path: string,
  version: { summary: ChunkSummary; stamp: string },
  shown: string,
  stats: DeltaStats,
): Body {
  return rebuiltBody(
    body,
    async (): Promise<OldSource | null> => {
      const file = await Deno.open(path);
      if (stampOf(await file.stat()) !== version.stamp) {
        file.close();
        return null;
      }
      return {
        file,
        offsets: chunkOffsets(version.summary),
        unchanged: async () => stampOf(await file.stat()) === version.stamp,
        close: () => file.close(),
      };
    },
    `the local "${shown}" changed while its delta was applied; run the command again`,
    stats,
  );
}
