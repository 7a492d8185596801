/**
 * Describing files the same way on both ends: an {@linkcode Entry} from
 * `Deno.FileInfo`, as `ls`, `stat` and folder trees send them.
 *
 * @module
 */

import type { Entry, EntryType } from "../../protocol/messages.ts";

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
