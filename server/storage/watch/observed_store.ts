/**
 * A {@linkcode Store} that tells a {@linkcode ChangeFeed} about every change
 * made through it: what a watch on an S3 bucket reports, since a bucket
 * says nothing about writes. Objects written by other tools straight into
 * the bucket are not seen. A backend with batched tree staging would write
 * past this wrapper: it is meant for stores without it (S3).
 *
 * @module
 */

import type { Entry } from "../../../protocol/messages.ts";
import { normalizePath } from "../remote_path.ts";
import type {
  CommitOptions,
  ReadHandle,
  Store,
  Upload,
  UploadOptions,
  WalkItem,
} from "../store.ts";
import type { ChangeFeed } from "./change.ts";

/** Wraps `store` so that writes through it are published on `feed`. */
export function observedStore(store: Store, feed: ChangeFeed): Store {
  const entryOf = async (path: string) =>
    await store.stat(path).catch(() => null);
  const announce = async (
    event: "created" | "modified",
    path: string,
  ) => {
    const entry = await entryOf(path);
    feed.publish({
      event,
      path: normalizePath(path),
      type: entry?.type,
      size: entry?.type === "file" ? entry.size : undefined,
      mtime: entry?.mtime,
    });
  };
  return {
    capabilities: store.capabilities,
    // Abilities that change nothing pass through as they are.
    records: store.records,
    smallFileReads: store.smallFileReads,
    folderListings: store.folderListings,
    prepare: store.prepare?.bind(store),
    stat: (path, options) => store.stat(path, options),
    list: (path): Promise<Entry[]> => store.list(path),
    open: (path, offset, options): Promise<ReadHandle> =>
      store.open(path, offset, options),
    async beginUpload(path: string, options: UploadOptions): Promise<Upload> {
      const upload = await store.beginUpload(path, options);
      const commit = upload.commit.bind(upload);
      return Object.assign(upload, {
        commit: async (commitOptions: CommitOptions) => {
          await commit(commitOptions);
          // A tree's quick check saw nothing there: new. Otherwise it may
          // have replaced a version, and finding out would cost a request.
          await announce(options.fresh ? "created" : "modified", path);
        },
      });
    },
    async mkdirp(path: string): Promise<void> {
      const before = await entryOf(path);
      await store.mkdirp(path);
      if (!before) await announce("created", path);
    },
    async remove(path, options): Promise<void> {
      await store.remove(path, options);
      feed.publish({ event: "deleted", path: normalizePath(path) });
    },
    async move(from, to, options): Promise<void> {
      await store.move(from, to, options);
      feed.publish({
        event: "moved",
        path: normalizePath(from),
        to: normalizePath(to),
      });
    },
    async copy(from, to, options): Promise<void> {
      await store.copy(from, to, options);
      await announce("created", to);
    },
    async setMeta(path, meta): Promise<void> {
      await store.setMeta(path, meta);
    },
    walk: (path): AsyncIterable<WalkItem> => store.walk(path),
    sweep: (ttlMs) => store.sweep(ttlMs),
    close: () => store.close(),
  };
}
