/**
 * Tree transfers on the server: `tree-put` receives a whole folder tree as
 * one pipelined stream and `tree-want` streams the files a client asks for
 * (`tree-get`, the listing, is `tree_listing.ts`).
 *
 * Every path goes through the storage core (a {@linkcode Store}) at the
 * moment it is used: folders are made and resolved there for each file, the
 * quick check lists each folder through it, each commit resolves its
 * target's folder afresh, and nothing is ever followed or created as a
 * symlink. Where uploaded files go until they are committed and
 * acknowledged is the store's business: see `tree_sink.ts`.
 *
 * @module
 */

import {
  type Body,
  type BufferPool,
  type Checksum,
  ConnectionError,
  type DirMessage,
  type Entry,
  type FileMessage,
  FrameBatch,
  FtsError,
  ProtocolError,
  ReadOnlyError,
  type TreeFailure,
  type TreeItem,
  type TreePutRequest,
  type TreeWantRequest,
  WrongTypeError,
} from "../../protocol/mod.ts";
import { agreeChecksum, digestFields } from "../../transfer/hash/checksum.ts";
import { compression, requestedMode } from "../../transfer/compression.ts";
import { sendFileBody } from "../../transfer/file_body.ts";
import { readFull } from "../../transfer/file_chunks.ts";
import { batchSmallFile, isUpToDate } from "../../transfer/tree/tree_files.ts";
import { startHasher } from "../../transfer/hash/hasher.ts";
import {
  asTreeItem,
  forEachJsonLine,
  joinTree,
  jsonLines,
  readJsonLines,
  SMALL_FILE_SIZE,
  toRanges,
  treeSegments,
} from "../../transfer/tree/tree_manifest.ts";
import type { Outcome, RequestIo } from "./request_io.ts";
import type { ChunkIndex } from "../../transfer/delta/summary.ts";
import { sendTreeFileDelta } from "./delta_requests.ts";
import {
  deltaCandidate,
  readTreeSummaries,
  sendTreeSummaries,
  serverRebuiltBody,
  treeSummaries,
  type TreeSummary,
} from "./tree_delta.ts";
import type { ReadHandle, SmallFile, Store } from "../storage/store.ts";
import { fsError } from "../storage/fs_errors.ts";
import { readSmallFiles } from "../storage/small_file_reads.ts";
import type {
  TreeFileOutcome,
  TreeSink,
  TreeSinkOptions,
} from "../storage/tree_sink.ts";
import { recordCommitted } from "../storage/committed_record.ts";
import { openTreeSink } from "../storage/tree_upload_sink.ts";
import { newNameSegments, normalizePath } from "../storage/remote_path.ts";

/**
 * Most lines in one tree manifest or want list: a bound on what one client
 * can make the server hold (a want list line is a path, ~100 bytes).
 */
const MAX_TREE_LINES = 2_000_000;

/** Needed paths with something in their place that a tree-put remembers. */
const MAX_REPLACING = 100_000;

/**
 * Manifest lines the quick check gathers before it lists their folders, and
 * most folders it lists at once (a bound on the listings held).
 */
const CHECK_LINES = 2048;
const CHECK_FOLDERS = 64;

/** Encoded frames are sent once this many bytes have gathered. */
const SEND_BATCH = 1024 * 1024;

/** Typed form of any error about tree-relative `path`. */
function typed(error: unknown, path: string): FtsError {
  return fsError(error, path);
}

/**
 * Serves `tree-put`: reads the manifest, answers which files are needed, then
 * receives `dir` and `file` messages until `tree-end`, acknowledging files as
 * their batches become durable.
 */
export async function treePut(
  io: RequestIo,
  request: TreePutRequest,
): Promise<Outcome> {
  const { reader, ctx } = io;
  const store = ctx.store;
  // A refusal waits until the manifest is read, so the connection stays in
  // step for the error reply.
  let refusal: unknown;
  let rootPath = "";
  try {
    if (ctx.readOnly) throw new ReadOnlyError("the server is read-only");
    rootPath = normalizePath(request.path);
  } catch (error) {
    refusal = error;
  }

  // rsync's quick check: same size and modification time means up to date.
  // The manifest is checked as it arrives, a batch of lines at a time: the
  // folders a batch names are listed together (one worker round trip on the
  // local disk), and only the needed indices are kept.
  const check = new QuickCheck(store, rootPath, request.delta === true);
  let total = 0;
  await forEachJsonLine(reader.body(), async (value) => {
    const item = asTreeItem(value);
    const index = total++;
    if (refusal === undefined) await check.add(item, index);
  }, MAX_TREE_LINES);
  await check.flush();
  const { needed, replacing, changed } = check;
  // Past the bound, nothing counts as seen free.
  const listed = replacing.size <= MAX_REPLACING;
  if (refusal !== undefined) throw refusal;
  await store.mkdirp(rootPath);
  const fresh = (path: string) => listed && !replacing.has(path);
  const summaries = await treeSummaries(store, rootPath, changed);
  return await receiveTree(io, request, total, needed, rootPath, {
    fresh,
    summaries,
  });
}

/**
 * rsync's quick check of a tree upload's manifest against what the server
 * holds: a file of the same size and modification time is up to date. Lines
 * are gathered until {@linkcode CHECK_LINES} or {@linkcode CHECK_FOLDERS}
 * folders, then their folders are listed in one go ({@linkcode
 * FolderListings} where the store has it) and the lines checked.
 */
class QuickCheck {
  /** Indices of the manifest's files that must be sent. */
  readonly needed: number[] = [];
  /**
   * Needed paths the check found something at; every other needed path was
   * seen free, which spares a store its own checks (`UploadOptions.fresh`).
   * Past {@linkcode MAX_REPLACING}, nothing counts as seen free.
   */
  readonly replacing = new Set<string>();
  /** Needed files held in another version: offered as deltas when asked. */
  readonly changed: string[] = [];
  #store: Store;
  #root: string;
  #delta: boolean;
  /** Lines gathered; `folder` null for a path that is not valid. */
  #lines: {
    item: TreeItem;
    index: number;
    folder: string | null;
    name: string;
  }[] = [];
  /** Listings of the folders of the lines gathered (null: nothing there). */
  #listings = new Map<string, Map<string, Entry> | null>();
  #wanted = new Set<string>();

  constructor(store: Store, root: string, delta: boolean) {
    this.#store = store;
    this.#root = root;
    this.#delta = delta;
  }

  /** Adds manifest line `index`; checks the batch when it is full. */
  async add(item: TreeItem, index: number): Promise<void> {
    const slash = item.path.lastIndexOf("/");
    let folder: string | null = slash < 0 ? "" : item.path.slice(0, slash);
    try {
      treeSegments(item.path);
    } catch {
      folder = null; // Not a valid path: needed, and it fails on arrival.
    }
    if (folder !== null && !this.#listings.has(folder)) {
      this.#wanted.add(folder);
    }
    this.#lines.push({ item, index, folder, name: item.path.slice(slash + 1) });
    if (
      this.#lines.length >= CHECK_LINES || this.#wanted.size >= CHECK_FOLDERS
    ) await this.flush();
  }

  /** Checks the lines gathered. */
  async flush(): Promise<void> {
    const wanted = [...this.#wanted];
    this.#wanted.clear();
    const lists = await this.#list(wanted);
    wanted.forEach((folder, i) => this.#listings.set(folder, lists[i]));
    for (const { item, index, folder, name } of this.#lines) {
      const entries = folder === null ? null : this.#listings.get(folder);
      this.#check(item, index, entries?.get(name));
    }
    // Only the folder the batch ended in is kept: the manifest comes folder
    // by folder, so it usually goes on in the next batch.
    const last = this.#lines.at(-1)?.folder;
    const kept = new Map<string, Map<string, Entry> | null>();
    if (last != null && this.#listings.has(last)) {
      kept.set(last, this.#listings.get(last)!);
    }
    this.#listings = kept;
    this.#lines = [];
  }

  #check(item: TreeItem, index: number, entry: Entry | undefined): void {
    if (isUpToDate(entry, item)) return;
    this.needed.push(index);
    if (entry) {
      if (this.replacing.size <= MAX_REPLACING) this.replacing.add(item.path);
      if (this.#delta && deltaCandidate(entry, item)) {
        this.changed.push(item.path);
      }
    }
  }

  /** Listings of tree-relative `folders`; null where missing or not a folder. */
  async #list(
    folders: string[],
  ): Promise<(Map<string, Entry> | null)[]> {
    if (folders.length === 0) return [];
    const paths = folders.map((folder) => joinTree(this.#root, folder));
    const lists: (Entry[] | Error)[] = [];
    if (this.#store.folderListings) {
      lists.push(...await this.#store.folderListings.listMany(paths));
    } else {
      // One at a time, as before: a bucket's listing is a request each.
      for (const path of paths) {
        lists.push(await this.#store.list(path).catch((error) => error));
      }
    }
    return lists.map((list) =>
      Array.isArray(list)
        ? new Map(list.map((entry) => [entry.name, entry]))
        : null
    );
  }
}

/** Receives the `dir` and `file` messages of a tree upload. */
async function receiveTree(
  io: RequestIo,
  request: TreePutRequest,
  total: number,
  needed: number[],
  rootPath: string,
  known: { fresh: (path: string) => boolean; summaries: TreeSummary[] },
): Promise<Outcome> {
  const { writer, ctx } = io;
  const { store } = ctx;
  const { fresh, summaries } = known;
  const checksum = agreeChecksum(request.checksum);
  await sendNeeded(io, request, needed, summaries);

  const ensureFolder = folderMaker(store, rootPath);
  const dirs: TreeItem[] = [];
  const extraFailures: TreeFailure[] = [];
  let done = 0;
  let files = 0;
  let bytes = 0;
  let failed = 0;
  const fail = (path: string, error: FtsError): TreeFailure => {
    failed++;
    ctx.log.record({
      peer: io.peer,
      op: "tree-put",
      path: joinTree(rootPath, path),
      result: `failed: ${error.reason}`,
    });
    return { path, code: error.code, reason: error.reason };
  };
  const options: TreeSinkOptions = {
    locate: async (path) => {
      treeSegments(path);
      const target = joinTree(rootPath, path);
      newNameSegments(target);
      await ensureFolder(path.split("/").slice(0, -1).join("/"));
      return target;
    },
    fresh,
    typed,
    verify: request.verify,
    checksum,
    onSettled: async (settled) => {
      const failures = extraFailures.splice(0);
      for (const { name, bytes: size, error } of settled) {
        if (error) failures.push(fail(name, error));
        else {
          files++;
          bytes += size;
        }
      }
      done += settled.length;
      await writer.send({ op: "tree-ack", done, failed: failures })
        .catch(() => {});
      await recordTreeFiles(store, rootPath, checksum, settled);
    },
  };
  // The local disk stages and syncs in batches; other stores take each file
  // as an upload of its own.
  const sink = await openTreeSink(store, ctx.pool, options);
  const fatal = await receiveMessages(io, sink, {
    // A delta is rebuilt from the old version as the sink reads it.
    rebuilt: (message, body) =>
      serverRebuiltBody(store, joinTree(rootPath, message.path), message, body),
    onDir: async (message) => {
      treeSegments(message.path);
      await ensureFolder(message.path);
      dirs.push({ ...message, type: "dir", size: 0 });
    },
    onDirFailure: (path, error) =>
      extraFailures.push(fail(path, typed(error, path))),
  });
  // Whatever arrived whole and verified is kept, even when the client left.
  await sink.finish().catch(() => {});
  await sink.close();
  if (fatal !== undefined) await refuseTree(io, fatal);
  await setFolderTimes(
    store,
    rootPath,
    dirs,
    (path, error) => extraFailures.push(fail(path || ".", typed(error, path))),
  );
  await writer.send({
    op: "tree-ack",
    done,
    failed: extraFailures.splice(0),
  });
  await writer.send({ op: "tree-done", files, bytes, failed });
  return {
    path: rootPath,
    bytes,
    result: `ok, ${files} files, ${
      total - needed.length
    } up to date, ${failed} failed`,
  };
}

/**
 * Answers a tree upload's manifest: which files are needed, then the
 * summaries of the old versions a delta may be sent against.
 */
async function sendNeeded(
  { writer }: RequestIo,
  request: TreePutRequest,
  needed: number[],
  summaries: TreeSummary[],
): Promise<void> {
  const checksum = agreeChecksum(request.checksum);
  // Only a client that asked gets the new fields: older ones never did.
  await writer.send({
    op: "tree-need",
    files: needed.length,
    checksum: request.checksum === undefined ? undefined : checksum,
    compress: request.compress ? true : undefined,
    summaries: summaries.length > 0 ? summaries.length : undefined,
  });
  await writer.sendBody(jsonLines(toRanges(needed)));
  await sendTreeSummaries(writer, summaries);
}

/**
 * Makes the folders of a tree upload under `rootPath` as they are needed,
 * each once (tree-relative path in, the same promise for every file in it).
 */
function folderMaker(
  store: Store,
  rootPath: string,
): (relative: string) => Promise<void> {
  const folders = new Map<string, Promise<void>>();
  return (relative) => {
    let made = folders.get(relative);
    if (!made) {
      made = store.mkdirp(joinTree(rootPath, relative));
      made.catch(() => {});
      folders.set(relative, made);
    }
    return made;
  };
}

/** What a tree upload does with the messages that are not files. */
interface TreeMessageHandlers {
  /** The body of a file sent as a delta, rebuilt from the old version. */
  rebuilt(message: FileMessage, body: Body): Body;
  /** Makes a folder; a failure goes to {@linkcode onDirFailure}. */
  onDir(message: DirMessage): Promise<void>;
  onDirFailure(path: string, error: unknown): void;
}

/**
 * Reads the `dir` and `file` messages of a tree upload until `tree-end`,
 * handing files to `sink` and folders to `handlers`. Returns what ended it
 * early (the client left, a broken message), or undefined.
 */
async function receiveMessages(
  { reader }: RequestIo,
  sink: TreeSink,
  { rebuilt, onDir, onDirFailure }: TreeMessageHandlers,
): Promise<unknown> {
  try {
    while (true) {
      const message = await reader.read();
      if (message === null) {
        throw new ConnectionError("the client left during a tree upload");
      }
      if (message.op === "tree-end") return undefined;
      if (message.op === "file" && message.delta) {
        await sink.receive(message, rebuilt(message, reader.body()));
      } else if (message.op === "file") {
        await sink.receive(message, reader.body());
      } else if (message.op === "dir") {
        await onDir(message).catch((error) =>
          onDirFailure(message.path, error)
        );
      } else {
        throw new ProtocolError(
          `unexpected "${message.op}" in a tree upload`,
        );
      }
    }
  } catch (error) {
    return error;
  }
}

/**
 * Ends a tree upload that `fatal` broke off: a broken connection or message
 * as it is, anything else told to the client first.
 *
 * @throws always.
 */
async function refuseTree(
  { writer }: RequestIo,
  fatal: unknown,
): Promise<never> {
  if (fatal instanceof ProtocolError || fatal instanceof ConnectionError) {
    throw fatal;
  }
  await writer.send({
    op: "error",
    code: fatal instanceof FtsError ? fatal.code : "io",
    reason: fatal instanceof Error ? fatal.message : String(fatal),
  }).catch(() => {});
  throw new ConnectionError(
    `tree upload failed: ${
      fatal instanceof Error ? fatal.message : String(fatal)
    }`,
  );
}

/**
 * Gives the folders of a tree upload their modes and times, last and
 * deepest first (writing their files changed their mtimes). The served
 * root itself keeps its own mode and time.
 */
async function setFolderTimes(
  store: Store,
  rootPath: string,
  dirs: TreeItem[],
  onFailure: (path: string, error: unknown) => void,
): Promise<void> {
  dirs.sort((a, b) => depth(b.path) - depth(a.path));
  const now = await currentFolders(store, rootPath, dirs);
  for (const item of dirs) {
    const path = joinTree(rootPath, item.path);
    if (path === "" || alreadySet(now.get(item.path), item)) continue;
    try {
      await store.setMeta(path, {
        mode: item.mode ?? undefined,
        mtime: item.mtime,
      });
    } catch (error) {
      onFailure(item.path, error);
    }
  }
}

/**
 * The folders of `dirs` (below the upload's root) as they are now, read
 * from their parents' listings, many at once, where the store can: a rerun
 * that changed nothing then sets no folder's time (1,000 `setMeta` calls
 * were a tenth of a 100,000-file rerun's time on the server).
 */
async function currentFolders(
  store: Store,
  rootPath: string,
  dirs: readonly TreeItem[],
): Promise<Map<string, Entry>> {
  const found = new Map<string, Entry>();
  if (!store.folderListings) return found;
  const parents = [
    ...new Set(
      dirs.filter((item) => item.path !== "").map((item) => {
        const slash = item.path.lastIndexOf("/");
        return slash < 0 ? "" : item.path.slice(0, slash);
      }),
    ),
  ];
  for (let start = 0; start < parents.length; start += CHECK_FOLDERS) {
    const batch = parents.slice(start, start + CHECK_FOLDERS);
    const lists = await store.folderListings.listMany(
      batch.map((parent) => joinTree(rootPath, parent)),
    );
    batch.forEach((parent, i) => {
      const list = lists[i];
      if (list instanceof Error) return;
      for (const entry of list) {
        if (entry.type === "dir") {
          found.set(joinTree(parent, entry.name), entry);
        }
      }
    });
  }
  return found;
}

/** Whether folder `now` has the mode and time `item` asks for already. */
function alreadySet(now: Entry | undefined, item: TreeItem): boolean {
  return now !== undefined && now.mtime === item.mtime &&
    (item.mode === null || (now.mode ?? -1) % 0o1000 === item.mode % 0o1000);
}

/**
 * Serves `tree-want`: streams the asked-for files back to back, each as a
 * `file` message and a body with its checksum (the one the client named,
 * else SHA-256; large files compressed when asked), or a `tree-error`,
 * then `tree-end`.
 */
export async function treeWant(
  io: RequestIo,
  request: TreeWantRequest,
): Promise<Outcome> {
  const { reader, ctx } = io;
  const { store } = ctx;
  const wanted = await readJsonLines(reader.body(), MAX_TREE_LINES);
  // The client's versions of wanted files, read before anything can fail.
  const deltas = await readTreeSummaries(io, request.summaries ?? 0);
  const rootPath = normalizePath(request.path);
  if ((await store.stat(rootPath, { follow: true })).type !== "dir") {
    throw new WrongTypeError(`"${request.path}" is not a folder`);
  }
  for (const value of wanted) {
    if (typeof value !== "string") {
      throw new ProtocolError("a wanted path is not a string");
    }
  }
  const sender = new WantedSender(io, request, deltas);
  // Small files are read a window at a time by the store's worker, the next
  // window while this one is sent; the rest (large files, links, errors)
  // one by one through the store.
  const paths = (wanted as string[]).map((value) => {
    try {
      treeSegments(value);
      return joinTree(rootPath, value);
    } catch {
      return null;
    }
  });
  const readWindow = (start: number) => {
    const window = paths.slice(start, start + WANT_WINDOW);
    return readSmallFiles(store, window, WORKER_READ_LIMIT);
  };
  let window = readWindow(0);
  for (let start = 0; start < wanted.length; start += WANT_WINDOW) {
    const small = await window;
    if (start + WANT_WINDOW < wanted.length) {
      window = readWindow(start + WANT_WINDOW);
    }
    for (let k = 0; k < WANT_WINDOW && start + k < wanted.length; k++) {
      const value = wanted[start + k] as string;
      const read = small[k];
      if (read) await sender.small(value, read);
      else await sender.open(store, value, paths[start + k]);
    }
  }
  await sender.end();
  return {
    path: rootPath,
    bytes: sender.bytes,
    result: `ok, ${sender.files} files sent, ${sender.failed} failed`,
  };
}

/** Sends the files of one `tree-want`, small ones gathered in batches. */
class WantedSender {
  files = 0;
  bytes = 0;
  failed = 0;
  #io: RequestIo;
  #writer: RequestIo["writer"];
  #pool: BufferPool;
  /** The client's versions of wanted files, to send deltas against. */
  #deltas: Map<string, ChunkIndex>;
  #verify: boolean;
  /** The checksum named in each `file`: only for a client that asked. */
  #named: Checksum | undefined;
  #pack: ReturnType<typeof compression>;
  #batch = new FrameBatch(SEND_BATCH + 64 * 1024);

  constructor(
    io: RequestIo,
    request: TreeWantRequest,
    deltas: Map<string, ChunkIndex>,
  ) {
    this.#io = io;
    this.#writer = io.writer;
    this.#pool = io.ctx.pool;
    this.#deltas = deltas;
    this.#verify = request.verify;
    this.#named = request.checksum === undefined
      ? undefined
      : agreeChecksum(request.checksum);
    this.#pack = compression(requestedMode(request.compress));
  }

  /** Adds a small file read whole to the batch. */
  async small(path: string, read: SmallFile): Promise<void> {
    batchSmallFile(
      this.#batch,
      { path, ...read },
      this.#verify,
      this.#named,
      this.#pack.compress,
      this.#pack.onCompressed,
    );
    this.files++;
    this.bytes += read.data.byteLength;
    if (this.#batch.size >= SEND_BATCH) {
      // How long the socket kept us waiting: `--compress=auto` sees a slow
      // link by it, for small files as for large ones.
      const started = performance.now();
      await this.#writer.sendEncoded(this.#batch.take());
      this.#pack.onWaited?.(performance.now() - started);
    }
  }

  /**
   * Sends wanted `value` (remote `path`, null when not a valid path) read
   * through the store: read whole when small, else streamed.
   */
  async open(store: Store, value: string, path: string | null): Promise<void> {
    let handle: ReadHandle;
    try {
      if (path === null) treeSegments(value); // throws the reason
      handle = await store.open(path!, 0, { follow: false });
    } catch (error) {
      this.#refuse(value, error);
      return;
    }
    try {
      const { mtime, mode, size } = handle.entry;
      if (size <= SMALL_FILE_SIZE) {
        const data = new Uint8Array(size);
        const n = await readFull(handle, data);
        await this.small(value, { data: data.subarray(0, n), mtime, mode });
        return;
      }
      await this.#stream(value, handle);
    } catch (error) {
      this.#refuse(value, error);
    } finally {
      handle.close();
    }
  }

  /** Ends the stream of files with `tree-end`. */
  async end(): Promise<void> {
    this.#batch.message({ op: "tree-end" });
    await this.#writer.sendEncoded(this.#batch.take());
  }

  async #stream(path: string, handle: ReadHandle): Promise<void> {
    const { mtime, mode, size } = handle.entry;
    await this.#writer.sendEncoded(this.#batch.take());
    const index = this.#verify ? this.#deltas.get(path) : undefined;
    await this.#writer.send({
      op: "file",
      path,
      size,
      mtime,
      mode,
      checksum: this.#named,
      delta: index ? true : undefined,
    });
    const hasher = this.#verify ? startHasher(this.#pool, this.#named) : null;
    const sent = index
      ? await sendTreeFileDelta(this.#io, handle, index, hasher, this.#pack)
      : await sendFileBody(this.#writer, handle, this.#pool, {
        hasher,
        compression: this.#pack,
      });
    if (sent.readError === undefined) {
      this.files++;
      this.bytes += sent.bytes;
    } else this.failed++;
  }

  /** Tells the client why one wanted file cannot come; the others go on. */
  #refuse(path: string, error: unknown): void {
    const wire = typed(error, path);
    this.#batch.message({
      op: "tree-error",
      path,
      code: wire.code,
      reason: wire.reason,
    });
    this.failed++;
  }
}

/** Wanted files handed to the small-file worker at once. */
const WANT_WINDOW = 32;

/** Largest file the worker reads (bigger small files come one by one). */
const WORKER_READ_LIMIT = 256 * 1024;

function depth(path: string): number {
  return path === "" ? 0 : path.split("/").length;
}

/**
 * Tree files of more than this many bytes get a per-file record when they
 * commit. A record costs the server about 0.6-0.75 ms of CPU (open, stat,
 * write and rename in `.fts/records`): measured, records for 10,000 files
 * of 4 KiB doubled the server's CPU for `put -r` (5.9 s to 11.9 s, medians
 * of 3), and for 200 files of 2 MiB added 20%; from 8 MiB it is under about
 * 5% of what receiving the file costs. Smaller files are hashed again when
 * asked for, which costs them about what the record would.
 */
const TREE_RECORD_MIN_SIZE = 8 * 1024 * 1024;

/** Records the digests of the large files of a settled batch. */
async function recordTreeFiles(
  store: Store,
  rootPath: string,
  checksum: Checksum,
  settled: readonly TreeFileOutcome[],
): Promise<void> {
  if (!store.records) return;
  for (const { name, bytes, mtime, digest, error } of settled) {
    if (
      error || digest === undefined || mtime === undefined ||
      bytes <= TREE_RECORD_MIN_SIZE
    ) continue;
    await recordCommitted(store, joinTree(rootPath, name), {
      size: bytes,
      mtime,
    }, { digests: digestFields(checksum, digest) });
  }
}
