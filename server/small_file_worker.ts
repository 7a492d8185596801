/// <reference lib="deno.worker" />
/**
 * A worker thread that reads small files for `get -r`, so the many opens
 * and reads of a tree of small files run as fast synchronous calls beside
 * the main thread instead of as one asynchronous round trip each on it.
 *
 * It takes only the plain road: each folder on the way opened with
 * `openat(O_DIRECTORY | O_NOFOLLOW)` from the held root, the file with
 * `O_NOFOLLOW | O_NONBLOCK`, and only a regular file of at most `limit`
 * bytes read. Anything else (a symlink on the way, a large or special file,
 * any error) answers `null`, and the main thread serves that file through
 * the storage core, which knows how to follow links inside the root and how
 * to word each error. Driven by `SmallFileReader` in `small_file_reader.ts`.
 *
 * @module
 */

import { entryFromInfo } from "../transfer/entry.ts";
import {
  closeFd,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  openAt,
} from "./libc.ts";
import type {
  SmallFile,
  SmallReadReply,
  SmallReadRequest,
} from "./small_file_reader.ts";

function readOne(
  rootFd: number,
  segments: readonly string[],
  limit: number,
): SmallFile | null {
  let dir = rootFd;
  try {
    for (const segment of segments.slice(0, -1)) {
      const next = openAt(dir, segment, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (dir !== rootFd) closeFd(dir);
      dir = next;
    }
    const fd = openAt(
      dir,
      segments[segments.length - 1],
      O_RDONLY | O_NOFOLLOW | O_NONBLOCK,
    );
    try {
      const path = `/proc/self/fd/${fd}`;
      const info = Deno.statSync(path);
      if (!info.isFile || info.size > limit) return null;
      using file = Deno.openSync(path);
      // One byte of room tells a file that grew since the stat.
      const data = new Uint8Array(info.size + 1);
      let filled = 0;
      while (filled < data.byteLength) {
        const n = file.readSync(data.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      if (filled > info.size) return null;
      const entry = entryFromInfo("", info);
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
    if (dir !== rootFd) closeFd(dir);
  }
}

self.onmessage = (event: MessageEvent<SmallReadRequest>) => {
  const { ticket, rootFd, paths, limit } = event.data;
  const files = paths.map((segments) => readOne(rootFd, segments, limit));
  const reply: SmallReadReply = { ticket, files };
  self.postMessage(
    reply,
    files.flatMap((file) => file ? [file.data.buffer as ArrayBuffer] : []),
  );
};
