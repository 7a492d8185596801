/// <reference lib="deno.worker" />
/**
 * A worker thread for the storage core's many small steps: reading small
 * files for `get -r`, and listing folders for trees and `ls` (many in one
 * message: siblings open their parent once, and a folder is read with
 * `getdents64` and `fstatat` on its descriptor). Done here as
 * direct libc calls (a microsecond each), they run beside the main thread
 * instead of costing it one asynchronous round trip per file.
 *
 * It takes only the plain road: each folder on the way opened with
 * `openat(O_DIRECTORY | O_NOFOLLOW)` from the held root, a file with
 * `O_NOFOLLOW | O_NONBLOCK`, and only a regular file of at most `limit`
 * bytes read. Anything else (a symlink on the way, a large or special file,
 * any error) answers `null`, and the main thread serves that request through
 * the storage core, which knows how to follow links inside the root and how
 * to word each error. Driven by `SmallFileReader` in `small_file_reader.ts`.
 *
 * @module
 */

import type { Entry } from "../../../protocol/messages.ts";
import {
  closeFd,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  openAt,
  readFd,
  S_IFMT,
  S_IFREG,
  statAt,
} from "./libc.ts";
import { readFolderStats } from "../../../transfer/folder_stats.ts";
import { entryFromStat } from "../../../transfer/tree/entry.ts";
import { STAGING_DIR } from "../remote_path.ts";
import type {
  SmallFile,
  SmallReadReply,
  SmallReadRequest,
} from "./small_file_reader.ts";

/** Opens the folder at `segments` under the root; the caller closes it. */
function openFolder(rootFd: number, segments: readonly string[]): number {
  let dir = rootFd;
  try {
    for (const segment of segments) {
      const next = openAt(dir, segment, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (dir !== rootFd) closeFd(dir);
      dir = next;
    }
    return dir;
  } catch (error) {
    if (dir !== rootFd) closeFd(dir);
    throw error;
  }
}

function readOne(
  rootFd: number,
  segments: readonly string[],
  limit: number,
): SmallFile | null {
  let dir = -1;
  try {
    dir = openFolder(rootFd, segments.slice(0, -1));
    const fd = openAt(
      dir,
      segments[segments.length - 1],
      O_RDONLY | O_NOFOLLOW | O_NONBLOCK,
    );
    try {
      const stat = statAt(fd, "");
      if ((stat.mode & S_IFMT) !== S_IFREG || stat.size > limit) return null;
      // One byte of room tells a file that grew since the stat.
      const data = new Uint8Array(stat.size + 1);
      let filled = 0;
      while (filled < data.byteLength) {
        const n = readFd(fd, data.subarray(filled));
        if (n === 0) break;
        filled += n;
      }
      if (filled > stat.size) return null;
      const entry = entryFromStat("", stat);
      return {
        data: data.subarray(0, filled),
        mtime: entry.mtime,
        mode: entry.mode,
      };
    } finally {
      closeFd(fd);
    }
  } catch {
    return null;
  } finally {
    if (dir >= 0 && dir !== rootFd) closeFd(dir);
  }
}

/**
 * Lists the folders at `paths`, each opened from its parent: siblings in a
 * row (the usual batch) open their parent once.
 */
function listMany(
  rootFd: number,
  paths: readonly (readonly string[])[],
): (Entry[] | null)[] {
  let parentKey: string | null = null;
  let parent = -1;
  const release = () => {
    if (parent >= 0 && parent !== rootFd) closeFd(parent);
    parent = -1;
    parentKey = null;
  };
  try {
    return paths.map((segments) => {
      const key = segments.slice(0, -1).join("/");
      if (key !== parentKey) {
        release();
        try {
          parent = openFolder(rootFd, segments.slice(0, -1));
          parentKey = key;
        } catch {
          return null;
        }
      }
      return listAt(parent, segments.at(-1) ?? ".", segments.length === 0);
    });
  } finally {
    release();
  }
}

/** Lists folder `name` in `parent` (`.`: the parent itself), sorted. */
function listAt(parent: number, name: string, atRoot: boolean): Entry[] | null {
  let dir = -1;
  try {
    // A descriptor of its own: reading a folder moves its position.
    dir = openAt(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    const entries = readFolderStats(
      dir,
      (name, stat) =>
        atRoot && name.toLowerCase() === STAGING_DIR
          ? null
          : entryFromStat(name, stat),
    );
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return entries;
  } catch {
    return null;
  } finally {
    if (dir >= 0) closeFd(dir);
  }
}

self.onmessage = (event: MessageEvent<SmallReadRequest>) => {
  const { ticket, rootFd, op, paths, limit } = event.data;
  if (op === "list") {
    const reply: SmallReadReply = {
      ticket,
      lists: listMany(rootFd, paths),
    };
    self.postMessage(reply);
    return;
  }
  const files = paths.map((segments) => readOne(rootFd, segments, limit));
  const reply: SmallReadReply = { ticket, files };
  self.postMessage(
    reply,
    files.flatMap((file) => file ? [file.data.buffer as ArrayBuffer] : []),
  );
};
