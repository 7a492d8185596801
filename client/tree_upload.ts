/**
 * `put -r`: sends a local folder tree as one pipelined exchange.
 *
 * The client sends the manifest of its files (path, size, mtime); the server
 * answers which ones it lacks (a file with the same size and mtime counts as
 * up to date, rsync's quick check). Then the client streams, back to back and
 * without waiting, a `dir` message per folder and a `file` message with its
 * body per needed file, small ones gathered into large writes, while a
 * concurrent reader takes the server's acknowledgements (each covering a
 * batch of files made durable) and reports failures by name. With `-P N`
 * the needed files are split among N connections.
 *
 * @module
 */

import {
  type Checksum,
  DATA_CHUNK_SIZE,
  FrameBatch,
  type Message,
  ProtocolError,
  type TreeDone,
  type TreeItem,
} from "../protocol/mod.ts";
import { compression, countingCompression } from "../transfer/compression.ts";
import { startHasher } from "../transfer/hash/hasher.ts";
import { Throttle } from "../transfer/throttle.ts";
import { batchSmallFile } from "../transfer/tree/tree_files.ts";
import {
  fromRanges,
  jsonLines,
  readJsonLines,
  SMALL_FILE_SIZE,
} from "../transfer/tree/tree_manifest.ts";
import { type Connection, unexpected } from "./connection.ts";
import { sendTreeDelta } from "./delta_send.ts";
import { readSummary } from "../transfer/delta/summary_exchange.ts";
import type { ChunkIndex } from "../transfer/delta/summary.ts";
import type { Reporter } from "./reporter.ts";
import type { TreeOptions, TreeResult } from "./tree_progress.ts";
import { TreeTally, verifyFields } from "./tree_progress.ts";
import { beginLocalTree, treeItem } from "./tree_walk.ts";
import { readSmallFile } from "../transfer/small_file_read.ts";
import { localError, localReason } from "./local_errors.ts";
import { type OpenConnection, openExtras, partition } from "./tree_lanes.ts";

/** Encoded frames leave once this many bytes have gathered. */
const SEND_BATCH = 1024 * 1024;

/**
 * Uploads the local folder `local` so that it becomes the remote folder
 * `remote` (created if missing; files already there and up to date are left
 * alone). `openExtra` opens further connections for `options.parallel`.
 *
 * @throws {FtsError} after the transfer when any file failed, counting them.
 */
export async function uploadTree(
  connection: Connection,
  local: string,
  remote: string,
  options: TreeOptions,
  reporter: Reporter,
  openExtra?: OpenConnection,
): Promise<TreeResult> {
  const action = `put -r "${local}"`;
  let walk;
  try {
    walk = options.tree ? null : beginLocalTree(local);
  } catch (error) {
    throw localError(error, action);
  }
  // The manifest leaves as the walk goes; the tree is whole once it is sent.
  const main = await startPut(
    connection,
    remote,
    walk?.tree.files ?? options.tree!.files,
    options,
    action,
    walk?.folders,
  );
  const tree = walk?.tree ?? options.tree!;
  options.onLocalTree?.(tree);
  const tally = new TreeTally(reporter, "put");
  for (const item of tree.skipped) tally.skip(item);
  for (const { path, error } of tree.unreadable) {
    const { code, reason } = localReason(error);
    tally.failFolder(path, code, `cannot read the folder: ${reason}`);
  }

  const needed = main.needed.map((index) => tree.files[index]);
  tally.upToDate(tree.files.length - needed.length);
  tally.start(
    remote || ".",
    needed.length,
    needed.reduce((sum, item) => sum + item.size, 0),
  );
  const throttle = options.limitRate ? new Throttle(options.limitRate) : null;
  // Each connection agrees on its own checksum and compression.
  const agreed = new Map<Connection, Agreed>();
  const extras = await openExtras(
    openExtra,
    Math.min(options.parallel ?? 1, needed.length) - 1,
    async (extra) => {
      const terms = await startPut(extra, remote, [], options, action);
      // Every lane sends the deltas the main connection was offered.
      agreed.set(extra, { ...terms, summaries: main.summaries });
    },
    reporter,
  );
  const shares = partition(needed, 1 + extras.length);
  const lane = (
    c: Connection,
    terms: Agreed,
    files: TreeItem[],
    dirs: TreeItem[],
    beforeEnd?: () => Promise<unknown>,
  ) =>
    sendLane(c, tree.root, files, dirs, {
      options,
      agreed: terms,
      throttle,
      tally,
      action,
      beforeEnd,
    });
  const others = Promise.allSettled(
    extras.map(async (extra, i) => {
      try {
        await lane(extra, agreed.get(extra)!, shares[i + 1] ?? [], []);
      } finally {
        await extra.close();
      }
    }),
  );
  try {
    // The main connection ends last: the server sets folder times at its end.
    await lane(connection, main, shares[0], tree.dirs, () => others);
    for (const settled of await others) {
      if (settled.status === "rejected") throw settled.reason;
    }
  } catch (error) {
    for (const extra of extras) extra.abort();
    tally.clear();
    throw error;
  }
  return tally.finish(action, tree.files.length + tree.unreadable.length);
}

/** What the server agreed to for one connection's files. */
interface Agreed {
  /** The checksum it named; absent from an older server (then SHA-256). */
  checksum?: Checksum;
  /** It takes compressed frames. */
  compress: boolean;
  /** The summaries of the files it holds other versions of, by path. */
  summaries: Map<string, ChunkIndex>;
}

/**
 * Sends `tree-put` with the manifest of `files` and returns the indices of
 * the files the server needs, and what it agreed to.
 */
async function startPut(
  connection: Connection,
  remote: string,
  files: TreeItem[],
  options: TreeOptions,
  action: string,
  walk?: Generator<void>,
): Promise<Agreed & { needed: number[] }> {
  try {
    await connection.send({
      op: "tree-put",
      path: remote,
      ...verifyFields(options),
      compress: options.compress !== undefined || undefined,
      // Only worth asking with files to compare (not on extra lanes).
      delta: ((files.length > 0 || walk) && options.verify &&
        !options.wholeFile) || undefined,
    });
    await connection.sendBody(
      walk ? walkedLines(files, walk) : jsonLines(files),
    );
  } catch (error) {
    throw connection.wrap(error, action);
  }
  const reply = await connection.reply(action);
  if (reply.op !== "tree-need") throw unexpected(reply, action);
  try {
    const ranges = await readJsonLines(connection.body());
    const needed = fromRanges(ranges, files.length);
    if (needed.length !== reply.files) {
      throw new ProtocolError(
        `the needed files do not add up`,
        { action: action },
      );
    }
    const summaries = new Map<string, ChunkIndex>();
    for (let i = 0; i < (reply.summaries ?? 0); i++) {
      const message = await connection.reply(action);
      const index = await readSummary(message, () => connection.body());
      if (index && message.op === "summary" && message.path !== undefined) {
        summaries.set(message.path, index);
      }
    }
    return {
      needed,
      checksum: reply.checksum,
      compress: reply.compress === true,
      summaries,
    };
  } catch (error) {
    throw connection.wrap(error, action);
  }
}

/**
 * Takes the steps of `walk`, which append to `files`, and encodes the new
 * files as JSON lines whenever a thousand have gathered, then the rest.
 */
function* walkedLines(
  files: TreeItem[],
  walk: Generator<void>,
): Generator<Uint8Array> {
  let sent = 0;
  const take = function* (all: boolean) {
    const end = all ? files.length : files.length - files.length % 1000;
    if (end > sent) yield* jsonLines(files.slice(sent, end));
    sent = Math.max(sent, end);
  };
  for (const _ of walk) yield* take(false);
  yield* take(true);
}

/** What every lane of an upload shares. */
interface LaneContext {
  options: TreeOptions;
  /** What the server agreed to on this lane's connection. */
  agreed: Agreed;
  throttle: Throttle | null;
  tally: TreeTally;
  action: string;
  /** Awaited before `tree-end` is sent. */
  beforeEnd?: () => Promise<unknown>;
}

/**
 * Streams `files` (and `dirs`) over `connection` while reading the
 * acknowledgements; resolves when every file is acknowledged.
 */
async function sendLane(
  connection: Connection,
  root: string,
  files: TreeItem[],
  dirs: TreeItem[],
  context: LaneContext,
): Promise<TreeDone> {
  const sent: SentFiles = { items: [], settled: 0 };
  let first: unknown;
  const stop = (error: unknown) => {
    first ??= error;
    connection.abort();
  };
  const acks = readAcks(connection, sent, context);
  acks.catch(stop);
  const sending = sendFiles(connection, root, files, dirs, sent, context);
  sending.catch(stop);
  const results = await Promise.allSettled([sending, acks]);
  // The files acknowledged so far are in place, and a rerun skips them.
  if (first !== undefined) {
    throw connection.wrap(first, context.action, context.options.rerun ?? true);
  }
  return (results[1] as PromiseFulfilledResult<TreeDone>).value;
}

/** The files one lane sent, in order, and how many the server settled. */
interface SentFiles {
  items: TreeItem[];
  settled: number;
}

/**
 * Reads the server's acknowledgements of a lane's files until `tree-done`,
 * tallying each file as done or failed.
 */
async function readAcks(
  connection: Connection,
  sent: SentFiles,
  { tally, action }: LaneContext,
): Promise<TreeDone> {
  while (true) {
    const reply: Message = await connection.reply(action);
    if (reply.op === "tree-done") {
      for (; sent.settled < sent.items.length; sent.settled++) {
        tally.fail(
          sent.items[sent.settled].path,
          "io",
          "the server did not confirm it",
        );
      }
      return reply;
    }
    if (reply.op !== "tree-ack") throw unexpected(reply, action);
    const failures = new Map(reply.failed.map((f) => [f.path, f]));
    if (reply.done > sent.items.length || reply.done < sent.settled) {
      throw new ProtocolError(
        `the server acknowledged files it was not sent`,
        { action: action },
      );
    }
    const settled = sent.items.slice(sent.settled, reply.done);
    const files = new Set(settled.map((item) => item.path));
    // Failures that are not files: folders that could not be made or set,
    // counted as folders (as get -r does), not as files; said first, so
    // the files that failed under them go without a line each.
    for (const failure of failures.values()) {
      if (files.has(failure.path)) continue;
      tally.failFolder(failure.path, failure.code, failure.reason);
    }
    for (const item of settled) {
      const failure = failures.get(item.path);
      if (failure) tally.fail(item.path, failure.code, failure.reason);
      else tally.done(item.size);
    }
    sent.settled = reply.done;
  }
}

/** What sending one lane's files shares. */
interface LaneSend {
  connection: Connection;
  batch: FrameBatch;
  pack: ReturnType<typeof compression>;
  sent: SentFiles;
  context: LaneContext;
  /** Sends what the batch gathered, paced by the throttle. */
  flush(): Promise<void>;
}

/** Sends `dirs`, then `files`, then `tree-end` over `connection`. */
async function sendFiles(
  connection: Connection,
  root: string,
  files: TreeItem[],
  dirs: TreeItem[],
  sent: SentFiles,
  context: LaneContext,
): Promise<void> {
  const { options, agreed, throttle, tally } = context;
  const batch = new FrameBatch(SEND_BATCH + DATA_CHUNK_SIZE);
  const flushAt = throttle ? Math.min(SEND_BATCH, throttle.slice) : SEND_BATCH;
  const lane: LaneSend = {
    connection,
    batch,
    pack: countingCompression(
      compression(agreed.compress ? options.compress : undefined),
      { compressed: (raw, wire) => tally.compressed(raw, wire) },
    ),
    sent,
    context,
    flush: async () => {
      const bytes = batch.take();
      if (throttle) await throttle.consume(bytes.byteLength);
      // The time the socket kept us waiting: how `--compress=auto` sees
      // that the link is the bound, for small files as for large ones.
      const started = performance.now();
      await connection.sendEncoded(bytes);
      lane.pack.onWaited?.(performance.now() - started);
    },
  };
  for (const dir of dirs) {
    batch.message({
      op: "dir",
      path: dir.path,
      mtime: dir.mtime,
      mode: dir.mode,
    });
  }
  // Plain concatenation: `join` normalises every path (the walk gave
  // plain relative paths).
  const prefix = root.endsWith("/") ? root : `${root}/`;
  for (const item of files) {
    const host = prefix + item.path;
    tally.current(item.path);
    if (item.size <= SMALL_FILE_SIZE) {
      batchSmall(lane, item, host);
      if (batch.size >= flushAt) await lane.flush();
      continue;
    }
    await lane.flush();
    await sendLarge(lane, item, host);
  }
  await lane.flush();
  await context.beforeEnd?.();
  batch.message({ op: "tree-end" });
  await lane.flush();
}

/** Reads a small file whole and adds it to the lane's batch. */
function batchSmall(lane: LaneSend, item: TreeItem, host: string): void {
  const { options, agreed, tally } = lane.context;
  let data: Uint8Array;
  try {
    data = readSmallFile(host, item.size) ?? Deno.readFileSync(host);
  } catch (error) {
    const { code, reason } = localReason(error);
    tally.fail(item.path, code, reason);
    return;
  }
  let mtime = item.mtime;
  if (data.byteLength !== item.size) {
    // Changed since the walk: send what was read, with its new time.
    try {
      mtime = treeItem(item.path, Deno.lstatSync(host)).mtime;
    } catch {
      // Keep the old time.
    }
  }
  lane.sent.items.push({ ...item, size: data.byteLength, mtime });
  batchSmallFile(
    lane.batch,
    { path: item.path, data, mtime, mode: item.mode },
    options.verify,
    agreed.checksum,
    lane.pack.compress,
    // Counts for the summary and, with `auto`, for its measurements.
    lane.pack.onCompressed,
  );
  tally.moved(data.byteLength);
}

/** Streams a large file as a `file` message and its body. */
async function sendLarge(
  lane: LaneSend,
  item: TreeItem,
  host: string,
): Promise<void> {
  const { connection, context: { options, agreed, throttle, tally } } = lane;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(host);
  } catch (error) {
    const { code, reason } = localReason(error);
    tally.fail(item.path, code, reason);
    return;
  }
  try {
    const info = await file.stat();
    const mtime = treeItem(item.path, info).mtime;
    lane.sent.items.push({ ...item, size: info.size, mtime });
    const index = agreed.summaries.get(item.path);
    await connection.send({
      op: "file",
      path: item.path,
      size: info.size,
      mtime,
      mode: item.mode,
      checksum: agreed.checksum,
      delta: index ? true : undefined,
    });
    if (index) {
      const hasher = startHasher(connection.pool, agreed.checksum);
      await sendTreeDelta(connection, file, index, info.size, hasher, {
        throttle,
        onBytes: (n) => tally.moved(n),
        onReused: (n) => tally.reused(n),
        compression: lane.pack,
      });
      return;
    }
    // A read failure goes to the server in the trailer; it reports the
    // file as failed in its acknowledgement.
    await connection.sendFileBody(file, {
      hasher: options.verify
        ? startHasher(connection.pool, agreed.checksum)
        : null,
      throttle,
      onBytes: (n) => tally.moved(n),
      compression: lane.pack,
    });
  } finally {
    file.close();
  }
}
