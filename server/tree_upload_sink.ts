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

import type { Body, BufferPool, FileMessage } from "../protocol/mod.ts";
import { receiveFileBody } from "../transfer/file_body.ts";
import { receiveFailure } from "../transfer/tree_files.ts";
import { SMALL_FILE_SIZE } from "../transfer/tree_manifest.ts";
import type { Store, Upload } from "./store.ts";
import type {
  TreeFileOutcome,
  TreeSink,
  TreeSinkOptions,
} from "./tree_sink.ts";

/**
 * Commits running at once. On the local gateway 16 parallel small PUTs
 * kept both cores busy; more only queued inside the gateway.
 */
const COMMITS_IN_FLIGHT = 16;

/** A file whose outcome is not reported yet. */
interface Pending {
  settled: Promise<void>;
  outcome?: TreeFileOutcome;
}

/** Returns a sink that uploads each file to `store` on its own. */
export function uploadSink(
  store: Store,
  pool: BufferPool,
  options: TreeSinkOptions,
): TreeSink {
  const queue: Pending[] = [];
  const running = new Set<Promise<void>>();
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
  const track = (work: () => Promise<TreeFileOutcome>): void => {
    const pending: Pending = { settled: Promise.resolve() };
    pending.settled = work().then((outcome) => {
      pending.outcome = outcome;
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
  const room = async () => {
    while (running.size >= COMMITS_IN_FLIGHT) await Promise.race(running);
  };

  const receive = async (message: FileMessage, body: Body): Promise<void> => {
    const small = message.size <= SMALL_FILE_SIZE;
    let upload: Upload | null = null;
    try {
      const target = await options.locate(message.path);
      await room();
      upload = await store.beginUpload(target, {
        size: message.size,
        mtime: message.mtime,
        mode: message.mode,
        resume: false,
      });
    } catch (error) {
      await body.stream.cancel();
      await body.trailer.catch(() => {});
      return failed(message, error);
    }
    const open = upload;
    let received;
    try {
      received = await receiveFileBody(body, pool, {
        write: small ? undefined : (chunk) => open.write(chunk),
        gatherLimit: SMALL_FILE_SIZE,
        verify: options.verify,
      });
    } catch (error) {
      await open.abort(false).catch(() => {});
      throw error;
    }
    const error = receiveFailure(
      received,
      message,
      (error) => options.typed(error, message.path),
      `read "${message.path}"`,
    );
    if (error) {
      await open.abort(false).catch(() => {});
      return failed(message, error, received.bytes);
    }
    track(async () => {
      try {
        for (const part of received.parts) await open.write(part);
        await open.commit({
          mode: message.mode,
          mtime: message.mtime,
          noClobber: false,
        });
        return { name: message.path, bytes: received.bytes };
      } catch (error) {
        await open.abort(false).catch(() => {});
        return {
          name: message.path,
          bytes: received.bytes,
          error: options.typed(error, message.path),
        };
      }
    });
  };

  const finish = async () => {
    await Promise.all(running);
    await draining;
  };
  return { receive, finish, close: () => Promise.resolve() };
}
