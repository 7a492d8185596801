/**
 * The local disk's {@linkcode TreeSink}: files of a tree upload are written
 * to staging folders, verified, made durable in batches and only then
 * renamed into place and acknowledged, as a single `put` does but without a
 * round trip or a folder sync per file.
 *
 * Each background writer has a staging folder of its own: creating a file is
 * the dearest step (the kernel's work, ~20 µs to 0.5 ms here), and creates
 * in two folders run on two cores. Each batch's target folders are resolved
 * through the confined root at its commit, never before.
 *
 * @module
 */

import {
  type Body,
  type BufferPool,
  type FileMessage,
  WrongTypeError,
} from "../../../protocol/mod.ts";
import {
  DurableBatch,
  type Placement,
  type StagedFile,
} from "../../../transfer/durable/durable_batch.ts";
import { receiveFileBody } from "../../../transfer/file_body.ts";
import { SMALL_FILE_SIZE } from "../../../transfer/tree/tree_manifest.ts";
import type { ConfinedRoot, Folder } from "./confined_root.ts";
import {
  fileFailure,
  type TreeSink,
  type TreeSinkOptions,
} from "../tree_sink.ts";
import { PARTIAL_SEGMENTS, type UploadStaging } from "./upload_staging.ts";

/** Background writers of a tree upload, each with its own staging folder. */
const TREE_WRITERS = 2;

/** What the sink needs of the local store (`local_store.ts`). */
export interface StagingArea {
  readonly root: ConfinedRoot;
  readonly staging: UploadStaging;
  /** Whether one `syncfs` per batch can stand for a sync per file. */
  readonly raceFree: boolean;
  /** Resolves where files go, now (see `LocalStore.place`). */
  place(paths: readonly string[]): Promise<Placement>;
  /** Removes a tree upload's staging folder. */
  dropStaged(name: string): Promise<void>;
}

/**
 * Opens the staging folders of one tree upload (locked, so no sweep takes
 * them) and returns the sink writing through them.
 */
export async function openStagingSink(
  store: StagingArea,
  pool: BufferPool,
  options: TreeSinkOptions,
): Promise<TreeSink> {
  const tag = crypto.randomUUID().slice(0, 8);
  const names = Array.from(
    { length: TREE_WRITERS },
    (_, lane) => `tree-${tag}-${lane}`,
  );
  const unlock = names.map((name) => store.staging.lock(name));
  const lanes: Folder[] = [];
  const close = async () => {
    for (const lane of lanes) lane.close();
    for (const name of names) {
      await store.dropStaged(name).catch(() => {});
    }
    for (const release of unlock) release();
  };
  try {
    for (const name of names) {
      lanes.push(
        await store.root.folder([...PARTIAL_SEGMENTS, name], {
          create: true,
          internal: true,
        }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }

  const batch = new DurableBatch({
    writers: lanes.length,
    // One syncfs per batch where libc is reachable; the checked fallback
    // (no libc, or `noLibc` in tests) keeps the sync per file.
    syncFolders: store.raceFree ? lanes.map((lane) => lane.path) : undefined,
    place: (items): Promise<Placement> =>
      store.place(items.map((item) => item.target)),
    mapError: (error, item) =>
      error instanceof Deno.errors.IsADirectory
        ? new WrongTypeError(`"${item.name}" is a folder on the server`)
        : options.typed(error, item.name),
    onSettled: (settled) =>
      options.onSettled(
        settled.map(({ item, error }) => ({
          name: item.name,
          bytes: item.bytes,
          mtime: item.mtime,
          digest: item.digest,
          error,
        })),
      ),
  });
  let sequence = 0;

  const receive = async (message: FileMessage, body: Body): Promise<void> => {
    const lane = sequence % lanes.length;
    const item: StagedFile = {
      name: message.path,
      file: null,
      staged: `${lanes[lane].path}/${sequence++}`,
      target: "",
      mode: message.mode,
      mtime: message.mtime,
      bytes: 0,
    };
    const small = message.size <= SMALL_FILE_SIZE;
    try {
      item.target = await options.locate(message.path);
      if (!small) {
        item.file = await Deno.open(item.staged, {
          write: true,
          createNew: true,
        });
      }
    } catch (error) {
      await body.stream.cancel();
      await body.trailer.catch(() => {});
      item.error = options.typed(error, message.path);
      return await batch.add(item);
    }
    // Small files are gathered (copied out of the pooled buffers) and written
    // in the background; large ones are written as they arrive.
    let received;
    try {
      received = await receiveFileBody(body, pool, {
        file: item.file,
        gatherLimit: SMALL_FILE_SIZE,
        verify: options.verify,
        checksum: options.checksum,
      });
    } catch (error) {
      await discard(item);
      throw error;
    }
    item.bytes = received.bytes;
    item.digest = received.digest;
    const error = fileFailure(options, received, message);
    if (error) {
      await discard(item);
      item.error = error;
    } else if (small) return await batch.stage(item, received.parts, lane);
    await batch.add(item);
  };

  return { receive, finish: () => batch.finish(), close };
}

async function discard(item: StagedFile): Promise<void> {
  try {
    item.file?.close();
  } catch {
    // Closed already.
  }
  item.file = null;
  await Deno.remove(item.staged).catch(() => {});
}
