/**
 * The {@linkcode TreeSink} of a store without a staging folder of its own
 * (S3): each file of a tree upload becomes one store upload, committed only
 * once it arrived whole and verified, so no half file is ever visible.
 *
 * The connection brings files one after another, but on an object store a
 * small file's cost is the round trip of its PUT, not its bytes. So a small
 * file is gathered in memory and committed in the background, up to
 * {@linkcode COMMITS_IN_FLIGHT} at once, while the next ones arrive; a large
 * one streams into its upload (which has its own parallel parts) and is
 * committed in the background too. Outcomes are still reported in arrival
 * order, and a file is acknowledged only after its commit: on S3 a
 * completed PUT is durable.
 *
 * @module
 */

import type { Body, BufferPool, FileMessage } from "../../protocol/mod.ts";
import { receiveFileBody } from "../../transfer/file_body.ts";
import { SMALL_FILE_SIZE } from "../../transfer/tree/tree_manifest.ts";
import type { Store } from "./store.ts";
import { UploadLifecycle } from "./upload_lifecycle.ts";
import {
  fileFailure,
  type TreeFileOutcome,
  type TreeSink,
  type TreeSinkOptions,
} from "./tree_sink.ts";

/**
 * Commits running at once. On the local gateway 16 parallel small PUTs
 * kept both cores busy; more only queued inside the gateway.
 */
const COMMITS_IN_FLIGHT = 16;

/**
 * Bytes the files waiting for their commit may hold at once (a file of up
 * to one part is buffered until its PUT): bounds the memory of one tree
 * upload, whatever its mix of sizes.
 */
const BYTES_IN_FLIGHT = 64 * 1024 * 1024;

/** Most a store upload buffers until its commit (S3: one 8 MiB part). */
const BUFFERED_AT_COMMIT = 8 * 1024 * 1024;

/** What a file of `size` bytes holds while it waits for its commit. */
const heldBy = (size: number) => Math.min(size, BUFFERED_AT_COMMIT);

/** A file whose outcome is not reported yet. */
interface Pending {
  settled: Promise<void>;
  outcome?: TreeFileOutcome;
}

/**
 * Opens the sink of one tree upload into `store`: the store's own
 * `TreeStaging` where it has that ability (the local disk stages
 * and syncs in batches), otherwise {@linkcode uploadSink}.
 */
export async function openTreeSink(
  store: Store,
  pool: BufferPool,
  options: TreeSinkOptions,
): Promise<TreeSink> {
  return store.treeStaging
    ? await store.treeStaging.openTreeSink(pool, options)
    : uploadSink(store, pool, options);
}

/** Returns a sink that uploads each file to `store` on its own. */
export function uploadSink(
  store: Store,
  pool: BufferPool,
  options: TreeSinkOptions,
): TreeSink {
  const queue: Pending[] = [];
  const running = new Set<Promise<void>>();
  let held = 0;
  let draining: Promise<void> | null = null;

  // Reports settled files in order, as many at once as are ready.
  const drain = async () => {
    while (queue.length > 0) {
      await queue[0].settled;
      const ready: TreeFileOutcome[] = [];
      while (queue.length > 0 && queue[0].outcome) {
        ready.push(queue.shift()!.outcome!);
      }
      await options.onSettled(ready);
    }
    draining = null;
  };
  const track = (work: () => Promise<TreeFileOutcome>, bytes = 0): void => {
    const pending: Pending = { settled: Promise.resolve() };
    held += bytes;
    pending.settled = work().then((outcome) => {
      pending.outcome = outcome;
      held -= bytes;
    });
    running.add(pending.settled);
    pending.settled.finally(() => running.delete(pending.settled));
    queue.push(pending);
    draining ??= drain();
  };
  const failed = (message: FileMessage, error: unknown, bytes = 0) =>
    track(() =>
      Promise.resolve({
        name: message.path,
        bytes,
        error: options.typed(error, message.path),
      })
    );
  const room = async (bytes: number) => {
    while (
      running.size >= COMMITS_IN_FLIGHT ||
      (running.size > 0 && held + bytes > BYTES_IN_FLIGHT)
    ) await Promise.race(running);
  };

  const receive = async (message: FileMessage, body: Body): Promise<void> => {
    const small = message.size <= SMALL_FILE_SIZE;
    const start = (target: string) =>
      UploadLifecycle.begin(store, target, {
        size: message.size,
        mtime: message.mtime,
        mode: message.mode,
        resume: false,
        fresh: options.fresh(message.path),
      }, false);
    // A large file streams into its upload, begun now; a small one is
    // gathered first and its upload begun in the background, so the
    // round trips of starting it (a parent and a folder check on S3) do
    // not hold up the files behind it.
    let target: string;
    let upload: UploadLifecycle | null = null;
    try {
      target = await options.locate(message.path);
      if (!small) {
        await room(heldBy(message.size));
        upload = await start(target);
      }
    } catch (error) {
      await body.stream.cancel();
      await body.trailer.catch(() => {});
      return failed(message, error);
    }
    const streamed = upload;
    let received;
    try {
      received = await receiveFileBody(body, pool, {
        write: streamed ? (chunk) => streamed.write(chunk) : undefined,
        gatherLimit: SMALL_FILE_SIZE,
        verify: options.verify,
        checksum: options.checksum,
      });
    } catch (error) {
      await streamed?.abort().catch(() => {});
      throw error;
    }
    const error = fileFailure(options, received, message);
    if (error) {
      await streamed?.abort().catch(() => {});
      return failed(message, error, received.bytes);
    }
    if (!streamed) await room(heldBy(received.bytes));
    track(async () => {
      try {
        const open = streamed ?? await start(target);
        return await open.run(async () => {
          if (!streamed) {
            for (const part of received.parts) await open.write(part);
          }
          await open.commit({
            mode: message.mode,
            mtime: message.mtime,
            noClobber: false,
          });
          return { name: message.path, bytes: received.bytes };
        });
      } catch (error) {
        return {
          name: message.path,
          bytes: received.bytes,
          error: options.typed(error, message.path),
        };
      }
    }, heldBy(received.bytes));
  };

  const finish = async () => {
    await Promise.all(running);
    await draining;
  };
  return { receive, finish, close: () => Promise.resolve() };
}
