/**
 * `get -r`: fetches a remote folder tree as one pipelined exchange.
 *
 * The server lists the tree (`tree-get`); the client creates the folders,
 * decides which files it lacks (same size and mtime counts as up to date)
 * and asks for them (`tree-want`); the server streams them back to back,
 * each with its SHA-256. Each file is written to a hidden staging folder in
 * the destination (one per background writer, removed at the end), verified,
 * made durable in batches and renamed into place; folder times and modes are
 * set last. Symlinks are never created.
 * With `-P N` the wanted files are split among N connections.
 *
 * @module
 */

import { join, resolve } from "@std/path";
import {
  errorFromWire,
  type FileMessage,
  FtsError,
  ProtocolError,
  type TreeItem,
  WrongTypeError,
} from "../protocol/mod.ts";
import { repliedChecksum } from "../transfer/hash/checksum.ts";
import {
  DurableBatch,
  type StagedFile,
} from "../transfer/durable/durable_batch.ts";
import { receiveFileBody } from "../transfer/file_body.ts";
import { sendSummary } from "../transfer/delta/summary_exchange.ts";
import { emptyStats } from "../transfer/delta/delta_ops.ts";
import {
  localRebuiltBody,
  type LocalVersions,
  localVersions,
} from "./delta_receive.ts";
import { Throttle } from "../transfer/throttle.ts";
import { isUpToDate, receiveFailure } from "../transfer/tree/tree_files.ts";
import {
  asTreeItem,
  jsonLines,
  readJsonLines,
  SMALL_FILE_SIZE,
  treeSegments,
} from "../transfer/tree/tree_manifest.ts";
import { type Connection, unexpected } from "./connection.ts";
import type { Reporter } from "./reporter.ts";
import {
  type TreeOptions,
  type TreeResult,
  TreeTally,
  verifyFields,
} from "./tree_progress.ts";
import { type OpenConnection, openExtras, partition } from "./tree_lanes.ts";
import { treeItem } from "./tree_walk.ts";
import { localReason } from "./local_errors.ts";

/** Prefix of the hidden staging folders `get -r` writes files into. */
export const TREE_PARTIAL_PREFIX = ".fts-partial-";

/** Background writers, each with its own staging folder (see server/tree_session.ts). */
const WRITERS = 2;

/** Staging folders of unknown owner are removed once this old. */
const STALE_MS = 10 * 60_000;

/**
 * Removes staging folders a killed run left in `root`, then makes
 * {@linkcode WRITERS} new ones. Each folder's name carries its run's process
 * id: on Linux a folder whose process is gone is removed at once, so a
 * rerun after a kill frees the space straight away; elsewhere (or for
 * folders without an id) once {@linkcode STALE_MS} old.
 */
function makeStagingFolders(root: string): string[] {
  const pattern = /^\.fts-partial-[0-9a-f]{8}-(?:(\d+)-)?\d+$/;
  for (const entry of Deno.readDirSync(root)) {
    const match = entry.isDirectory ? pattern.exec(entry.name) : null;
    if (!match) continue;
    const path = join(root, entry.name);
    const age = Date.now() - (Deno.statSync(path).mtime?.getTime() ?? 0);
    if (age > STALE_MS || (match[1] && !processAlive(Number(match[1])))) {
      Deno.removeSync(path, { recursive: true });
    }
  }
  const tag = crypto.randomUUID().slice(0, 8);
  return Array.from({ length: WRITERS }, (_, writer) => {
    const path = join(
      root,
      `${TREE_PARTIAL_PREFIX}${tag}-${Deno.pid}-${writer}`,
    );
    Deno.mkdirSync(path);
    return path;
  });
}

/** Whether process `pid` runs (Linux: /proc); elsewhere assumed alive. */
function processAlive(pid: number): boolean {
  if (Deno.build.os !== "linux" || pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}

/**
 * Downloads the remote folder `remote` so that it becomes the local folder
 * `local` (created if missing; files already there and up to date are left
 * alone). `openExtra` opens further connections for `options.parallel`.
 *
 * @throws {FtsError} after the transfer when any file failed, counting them.
 */
export async function downloadTree(
  connection: Connection,
  remote: string,
  local: string,
  options: TreeOptions,
  reporter: Reporter,
  openExtra?: OpenConnection,
): Promise<TreeResult> {
  const action = `get -r "${remote || "/"}"`;
  const items = await listTree(connection, remote, action);
  await options.onListing?.(items);
  const root = resolve(local);
  const tally = new TreeTally(reporter, "get");
  const dirs = items.filter((item) => item.type === "dir");
  const files = items.filter((item) => item.type === "file");
  for (const item of items) {
    if (item.type === "symlink" || item.type === "other") tally.skip(item);
    // A folder the server could not read: reported by name; what it holds
    // is missing, and the rest of the tree still comes.
    if (item.error) {
      tally.failFolder(item.path, item.error.code, item.error.reason);
    }
  }

  const broken = makeFolders(root, dirs, tally);
  const { needed, upToDate } = neededFiles(root, files, broken, tally);
  tally.upToDate(upToDate);
  tally.start(
    remote || "/",
    needed.length,
    needed.reduce((sum, item) => sum + item.size, 0),
  );

  let staging: string[] = [];
  try {
    if (!broken.has("") && needed.length > 0) {
      staging = makeStagingFolders(root);
    }
  } catch (error) {
    const { code, reason } = localReason(error);
    for (const item of needed) {
      tally.fail(item.path, code, `cannot make a staging folder: ${reason}`);
    }
    needed.length = 0;
  }
  try {
    if (needed.length > 0) {
      await receiveFiles(connection, remote, root, needed, staging, {
        options,
        tally,
        action,
        reporter,
        openExtra,
      });
    }
  } finally {
    for (const folder of staging) {
      await Deno.remove(folder, { recursive: true }).catch(() => {});
    }
  }

  setFolderTimes(root, dirs, broken, tally);
  return tally.finish(action, files.length);
}

/**
 * Makes the local folders of a tree, parents before children. Returns the
 * folders that could not be made (or are under one), each with the reason:
 * everything under them fails with it.
 */
function makeFolders(
  root: string,
  dirs: TreeItem[],
  tally: TreeTally,
): Map<string, string> {
  const broken = new Map<string, string>();
  for (const dir of dirs) {
    const inherited = dir.path === ""
      ? undefined
      : brokenParent(broken, dir.path);
    if (inherited !== undefined) {
      broken.set(dir.path, inherited);
      continue;
    }
    try {
      makeFolder(join(root, dir.path), dir.path === "");
    } catch (error) {
      const { code, reason } = localReason(error);
      broken.set(dir.path, reason);
      tally.failFolder(dir.path, code, reason);
    }
  }
  return broken;
}

/** Why a folder above `path` could not be made, or undefined. */
function brokenParent(
  broken: Map<string, string>,
  path: string,
): string | undefined {
  for (
    let at = path.lastIndexOf("/");
    at > 0;
    at = path.lastIndexOf("/", at - 1)
  ) {
    const reason = broken.get(path.slice(0, at));
    if (reason !== undefined) return reason;
  }
  return broken.get("");
}

/**
 * The files of a tree download that are not up to date locally (rsync's
 * quick check). Each local folder is listed once, so a fresh download
 * costs no failing lstat per file.
 */
function neededFiles(
  root: string,
  files: TreeItem[],
  broken: Map<string, string>,
  tally: TreeTally,
): { needed: TreeItem[]; upToDate: number } {
  const present = new Map<string, Set<string>>();
  const namesIn = (folder: string): Set<string> => {
    let names = present.get(folder);
    if (!names) {
      names = new Set();
      try {
        for (const entry of Deno.readDirSync(join(root, folder))) {
          names.add(entry.name);
        }
      } catch {
        // Unreadable: every file in it is needed, and fails if it must.
      }
      present.set(folder, names);
    }
    return names;
  };
  const needed: TreeItem[] = [];
  let upToDate = 0;
  for (const item of files) {
    const inherited = brokenParent(broken, item.path);
    if (inherited !== undefined) {
      tally.fail(item.path, "wrong_type", inherited);
      continue;
    }
    const slash = item.path.lastIndexOf("/");
    let info: Deno.FileInfo | null = null;
    try {
      const folder = slash < 0 ? "" : item.path.slice(0, slash);
      if (namesIn(folder).has(item.path.slice(slash + 1))) {
        info = Deno.lstatSync(join(root, item.path));
      }
    } catch {
      // Gone: needed.
    }
    if (info?.isDirectory) {
      tally.fail(item.path, "wrong_type", "a local folder is in the way");
    } else if (info && isUpToDate(treeItem(item.path, info), item)) {
      upToDate++;
    } else needed.push(item);
  }
  return { needed, upToDate };
}

/** Folder times and modes last, deepest first: the files changed them. */
function setFolderTimes(
  root: string,
  dirs: TreeItem[],
  broken: Map<string, string>,
  tally: TreeTally,
): void {
  const now = new Date();
  const deepestFirst = dirs.filter((dir) => !broken.has(dir.path))
    .sort((a, b) => depth(b.path) - depth(a.path));
  for (const dir of deepestFirst) {
    try {
      const host = join(root, dir.path);
      if (dir.mode !== null) Deno.chmodSync(host, dir.mode & 0o777);
      Deno.utimeSync(host, now, new Date(dir.mtime));
    } catch (error) {
      const { code, reason } = localReason(error);
      tally.failFolder(dir.path, code, reason);
    }
  }
}

/** What {@linkcode receiveFiles} needs besides the files. */
interface ReceiveContext {
  options: TreeOptions;
  tally: TreeTally;
  action: string;
  reporter: Reporter;
  openExtra?: OpenConnection;
}

/**
 * Fetches `needed` over `connection` (and extra connections for `-P`),
 * staging them in `staging` and settling them in place in batches.
 */
async function receiveFiles(
  connection: Connection,
  remote: string,
  root: string,
  needed: TreeItem[],
  staging: string[],
  context: ReceiveContext,
): Promise<void> {
  const { options, tally, action, reporter, openExtra } = context;
  const batch = new DurableBatch({
    writers: staging.length,
    syncFolders: staging,
    mapError: (error) => {
      const { code, reason } = localReason(error);
      return errorFromWire({ code, reason }, "write");
    },
    onSettled: (settled) => {
      for (const { item, error } of settled) {
        if (error) tally.failWith(item.name, error);
        else tally.done(item.bytes);
      }
    },
  });
  const extras = await openExtras(
    openExtra,
    Math.min(options.parallel ?? 1, needed.length) - 1,
    () => Promise.resolve(),
    reporter,
  );
  const shares = partition(needed, 1 + extras.length);
  const lane: LaneContext = {
    options,
    throttle: options.limitRate ? new Throttle(options.limitRate) : null,
    tally,
    batch,
    action,
    staging: { folders: staging, next: 0 },
  };
  const lanes = [connection, ...extras];
  const before = lanes.map((c) => c.packed);
  const settled = await Promise.allSettled(
    lanes.map((c, i) => receiveLane(c, remote, root, shares[i] ?? [], lane)),
  );
  lanes.forEach((c, i) => {
    const after = c.packed;
    tally.compressed(after.raw - before[i].raw, after.wire - before[i].wire);
  });
  await Promise.all(extras.map((extra) => extra.close()));
  // Whatever arrived whole and verified is kept, even after a failure.
  await batch.finish();
  for (const result of settled) {
    if (result.status === "rejected") {
      tally.clear();
      throw result.reason;
    }
  }
}

/** Asks for the tree's manifest and checks every path in it. */
export async function listTree(
  connection: Connection,
  remote: string,
  action: string,
): Promise<TreeItem[]> {
  const reply = await connection.request(
    { op: "tree-get", path: remote },
    action,
  );
  if (reply.op !== "tree-list") throw unexpected(reply, action);
  try {
    const items = (await readJsonLines(connection.body())).map(
      asTreeItem,
    );
    const seen = new Set<string>();
    for (const item of items) {
      treeSegments(item.path);
      if (seen.has(item.path)) {
        throw new ProtocolError(`"${item.path}" is listed twice`);
      }
      seen.add(item.path);
    }
    if (items[0]?.path !== "" || items[0].type !== "dir") {
      throw new ProtocolError("the tree listing does not start at its root");
    }
    return items;
  } catch (error) {
    throw connection.wrap(
      error instanceof FtsError && !(error instanceof ProtocolError)
        ? new ProtocolError(error.reason, { action })
        : error,
      action,
    );
  }
}

/** Creates one folder whose parent exists; an existing folder is fine. */
function makeFolder(host: string, isRoot: boolean): void {
  try {
    Deno.mkdirSync(host, { recursive: isRoot });
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = Deno.lstatSync(host);
  if (info.isSymlink && !isRoot) {
    throw new WrongTypeError("a local symlink is in the way");
  }
  if (!Deno.statSync(host).isDirectory) {
    throw new WrongTypeError("a local file is in the way");
  }
}

/** What every lane of a download shares. */
interface LaneContext {
  options: TreeOptions;
  throttle: Throttle | null;
  tally: TreeTally;
  batch: DurableBatch;
  action: string;
  /** The staging folders, one per background writer, and the next file's number. */
  staging: { folders: string[]; next: number };
}

/** Asks for `files` over `connection` and receives them. */
async function receiveLane(
  connection: Connection,
  remote: string,
  root: string,
  files: TreeItem[],
  context: LaneContext,
): Promise<void> {
  if (files.length === 0) return;
  const { options, tally, action } = context;
  const wanted = new Map(files.map((item) => [item.path, item]));
  // The local versions of changed files, for the server to send deltas.
  const versions = options.verify && !options.wholeFile &&
      connection.welcome.features.includes("delta")
    ? await localVersions(root, files)
    : new Map() as LocalVersions;
  try {
    await connection.send({
      op: "tree-want",
      path: remote,
      ...verifyFields(options),
      compress: options.compress,
      summaries: versions.size > 0 ? versions.size : undefined,
    });
    await connection.sendBody(jsonLines(files.map((f) => f.path)));
    for (const [path, { summary }] of versions) {
      await sendSummary(connection, summary, path);
    }
  } catch (error) {
    throw connection.wrap(error, action);
  }
  while (true) {
    const message = await connection.reply(action);
    if (message.op === "tree-end") break;
    if (message.op !== "file" && message.op !== "tree-error") {
      throw unexpected(message, action);
    }
    const item = wanted.get(message.path);
    if (!item) {
      throw new ProtocolError(
        `the server sent "${message.path}", which was not asked for`,
        { action: action },
      );
    }
    wanted.delete(message.path);
    if (message.op === "tree-error") {
      tally.fail(message.path, message.code, message.reason);
      continue;
    }
    await receiveOne(connection, message, root, context, versions);
  }
  for (const path of wanted.keys()) {
    tally.fail(path, "protocol", "the server did not send it");
  }
}

/** Receives one file of a lane into its staging folder and the batch. */
async function receiveOne(
  connection: Connection,
  message: FileMessage,
  root: string,
  context: LaneContext,
  versions: LocalVersions,
): Promise<void> {
  const { options, throttle, tally, batch, action, staging } = context;
  tally.current(message.path);
  const target = join(root, message.path);
  const version = message.delta ? versions.get(message.path) : undefined;
  if (message.delta && !version) {
    throw new ProtocolError(
      `the server sent a delta of "${message.path}" without a summary`,
      { action },
    );
  }
  const stats = emptyStats();
  const body = version
    ? localRebuiltBody(
      connection.body(),
      target,
      version,
      message.path,
      stats,
    )
    : connection.body();
  const number = staging.next++;
  const writer = number % staging.folders.length;
  const staged: StagedFile = {
    name: message.path,
    file: null,
    staged: join(staging.folders[writer], String(number)),
    target,
    mode: message.mode,
    mtime: message.mtime,
    bytes: 0,
  };
  // Small files are gathered (copied out of the pooled buffers) and written
  // in the background; large ones are written as they arrive.
  const small = message.size <= SMALL_FILE_SIZE;
  if (!small) {
    try {
      staged.file = Deno.openSync(staged.staged, {
        write: true,
        create: true,
        truncate: true,
      });
    } catch (error) {
      await body.stream.cancel();
      await body.trailer.catch(() => {});
      const { code, reason } = localReason(error);
      tally.fail(message.path, code, reason);
      return;
    }
  }
  let received;
  try {
    received = await receiveFileBody(body, connection.pool, {
      file: staged.file,
      gatherLimit: SMALL_FILE_SIZE,
      verify: options.verify,
      checksum: repliedChecksum(message),
      onChunk: async (bytes) => {
        if (throttle) await throttle.consume(bytes);
        tally.moved(bytes);
      },
    });
  } catch (error) {
    throw connection.wrap(error, action);
  }
  staged.bytes = received.bytes;
  const { parts } = received;
  const failure = receiveFailure(
    received,
    message,
    (error) => errorFromWire(localReason(error), "write"),
    `get "${message.path}"`,
  );
  if (failure) {
    staged.file?.close();
    if (!small) await Deno.remove(staged.staged).catch(() => {});
    tally.failWith(message.path, failure);
    return;
  }
  tally.reused(stats.reused, false);
  if (small) await batch.stage(staged, parts, writer);
  else await batch.add(staged);
}

function depth(path: string): number {
  return path === "" ? 0 : path.split("/").length;
}
