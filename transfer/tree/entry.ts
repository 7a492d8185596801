/**
 * Describing files the same way on both ends: an {@linkcode Entry} from
 * `Deno.FileInfo`, or from a libc `fstatat` ({@linkcode RawStat}), as `ls`,
 * `stat` and folder trees send them.
 *
 * @module
 */

import type { Entry, EntryType } from "../../protocol/messages.ts";
import { type RawStat, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../libc.ts";

/** What kind of entry `info` describes (symlinks as themselves, from lstat). */
export function entryType(info: Deno.FileInfo): EntryType {
  return info.isFile
    ? "file"
    : info.isDirectory
    ? "dir"
    : info.isSymlink
    ? "symlink"
    : "other";
}

/** Builds an {@linkcode Entry} from file info. */
export function entryFromInfo(name: string, info: Deno.FileInfo): Entry {
  const type = entryType(info);
  return {
    name,
    type,
    size: info.size,
    mtime: Math.max(0, Math.round(info.mtime?.getTime() ?? 0)),
    mode: info.mode === null ? null : info.mode & 0o7777,
  };
}

/** Builds an {@linkcode Entry} from what libc's `fstatat` told (lstat). */
export function entryFromStat(name: string, stat: RawStat): Entry {
  const kind = stat.mode & S_IFMT;
  return {
    name,
    type: kind === S_IFREG
      ? "file"
      : kind === S_IFDIR
      ? "dir"
      : kind === S_IFLNK
      ? "symlink"
      : "other",
    size: stat.size,
    mtime: Math.max(0, stat.mtimeMs),
    mode: stat.mode & 0o7777,
  };
}
