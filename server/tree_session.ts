/**
 * Tree transfers on the server: `tree-put` receives a whole folder tree as
 * one pipelined stream, `tree-get` lists a tree and `tree-want` streams the
 * files a client asks for.
 *
 * Every path goes through the {@linkcode Storage} jail: a tree's root is
 * created or resolved there, each folder is created with `Storage.mkdirs`
 * (which refuses symlinks that lead outside), each file path is checked
 * lexically, and nothing is ever followed or created as a symlink. Uploaded
 * files are written to the staging area, verified with SHA-256, made durable
 * in batches and only then renamed into place and acknowledged, exactly as a
 * single `put` but without a round trip per file.
 *
 * @module
 */

import { join } from "@std/path";
import { createHash } from "node:crypto";
import {
  ConnectionError,
  errorFromWire,
  type FileMessage,
  FrameBatch,
  FtsError,
  IntegrityError,
  ProtocolError,
  ReadOnlyError,
  type TreeFailure,
  type TreeGetRequest,
  type TreeItem,
  type TreePutRequest,
  type TreeWantRequest,
  WrongTypeError,
} from "../protocol/mod.ts";
import {
  DurableBatch,
  type SettledFile,
  type StagedFile,
} from "../transfer/durable_batch.ts";
import { receiveFileBody, sendFileBody } from "../transfer/file_body.ts";
import { entryFromInfo } from "../transfer/entry.ts";
import { startHasher } from "../transfer/hasher.ts";
import {
  asTreeItem,
  joinTree,
  jsonLines,
  readJsonLines,
  SMALL_FILE_SIZE,
  toRanges,
  treeSegments,
} from "../transfer/tree_manifest.ts";
import type { Outcome, RequestIo } from "./request_io.ts";
import { mapFsError, STAGING_DIR, type Storage } from "./storage.ts";

/**
 * Background writers of a tree upload, each with its own staging folder.
 * Creating a file is the dearest step (the kernel's work, ~20 µs to 0.5 ms
 * here); two writers in two folders spread it over two cores.
 */
const TREE_WRITERS = 2;

/** Encoded frames are sent once this many bytes have gathered. */
const SEND_BATCH = 1024 * 1024;

/** Typed form of any error about tree-relative `path`. */
function typed(error: unknown, path: string): FtsError {
  return mapFsError(error, path);
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
  const { storage, staging } = ctx;
  const manifest = (await readJsonLines(reader.body())).map(asTreeItem);
  if (ctx.readOnly) throw new ReadOnlyError("the server is read-only");
  const rootPath = storage.segments(request.path).join("/");
  await storage.mkdirs(rootPath);
  await storage.resolveExisting(rootPath);
  const hostOf = (relative: string) => hostIn(storage, rootPath, relative);

  // rsync's quick check: same size and modification time means up to date.
  // Each folder is resolved through the jail and listed once, so a fresh
  // upload costs no failing lstat per file.
  const present = new Map<string, Set<string> | null>();
  const namesIn = async (folder: string) => {
    if (!present.has(folder)) {
      let names: Set<string> | null = null;
      try {
        const host = await storage.resolveExisting(joinTree(rootPath, folder));
        names = new Set();
        for (const entry of Deno.readDirSync(host)) names.add(entry.name);
      } catch {
        // Missing, or not a folder inside the jail: all its files are needed.
      }
      present.set(folder, names);
    }
    return present.get(folder);
  };
  const needed: number[] = [];
  for (const [index, item] of manifest.entries()) {
    const slash = item.path.lastIndexOf("/");
    let info: Deno.FileInfo | null = null;
    try {
      const names = await namesIn(slash < 0 ? "" : item.path.slice(0, slash));
      if (names?.has(item.path.slice(slash + 1))) {
        info = Deno.lstatSync(hostOf(item.path));
      }
    } catch {
      // Not a valid path: needed, and it fails on arrival.
    }
    if (
      !info?.isFile || info.size !== item.size ||
      entryFromInfo("", info).mtime !== item.mtime
    ) {
      needed.push(index);
    }
  }
  // One staging folder per background writer, so their creates run in
  // parallel; all removed at the end.
  const tag = crypto.randomUUID().slice(0, 8);
  const lanes = Array.from(
    { length: TREE_WRITERS },
    (_, lane) => join(staging.dir, `tree-${tag}-${lane}`),
  );
  for (const lane of lanes) await Deno.mkdir(lane, { recursive: true });
  try {
    return await receiveTree(io, request, manifest, needed, rootPath, lanes);
  } finally {
    for (const lane of lanes) {
      await Deno.remove(lane, { recursive: true }).catch(() => {});
    }
  }
}

/** Receives the `dir` and `file` messages of a tree upload. */
async function receiveTree(
  io: RequestIo,
  request: TreePutRequest,
  manifest: TreeItem[],
  needed: number[],
  rootPath: string,
  lanes: string[],
): Promise<Outcome> {
  const { reader, writer, ctx } = io;
  const { storage } = ctx;
  const hostOf = (relative: string) => hostIn(storage, rootPath, relative);
  await writer.send({ op: "tree-need", files: needed.length });
  await writer.sendBody(jsonLines(toRanges(needed)));

  const folders = new Map<string, Promise<void>>();
  const ensureFolder = (relative: string): Promise<void> => {
    let made = folders.get(relative);
    if (!made) {
      made = storage.mkdirs(joinTree(rootPath, relative));
      made.catch(() => {});
      folders.set(relative, made);
    }
    return made;
  };
  const dirs: { item: TreeItem; host: string }[] = [];
  const extraFailures: TreeFailure[] = [];
  let sequence = 0;
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
  const batch = new DurableBatch({
    writers: lanes.length,
    mapError: (error, item) =>
      error instanceof Deno.errors.IsADirectory
        ? new WrongTypeError(`"${item.name}" is a folder on the server`)
        : typed(error, item.name),
    onSettled: async (settled: SettledFile[]) => {
      const failures = extraFailures.splice(0);
      for (const { item, error } of settled) {
        if (error) failures.push(fail(item.name, error));
        else {
          files++;
          bytes += item.bytes;
        }
      }
      done += settled.length;
      await writer.send({ op: "tree-ack", done, failed: failures })
        .catch(() => {});
    },
  });

  const receiveFile = async (message: FileMessage): Promise<void> => {
    const body = reader.body();
    const lane = sequence % lanes.length;
    const item: StagedFile = {
      name: message.path,
      file: null,
      staged: join(lanes[lane], String(sequence++)),
      target: "",
      mode: message.mode,
      mtime: message.mtime,
      bytes: 0,
    };
    const small = message.size <= SMALL_FILE_SIZE;
    try {
      item.target = hostOf(message.path);
      await ensureFolder(message.path.split("/").slice(0, -1).join("/"));
      if (!small) {
        item.file = Deno.openSync(item.staged, {
          write: true,
          create: true,
          truncate: true,
        });
      }
    } catch (error) {
      await body.stream.cancel();
      await body.trailer.catch(() => {});
      item.error = typed(error, message.path);
      return await batch.add(item);
    }
    // Small files are gathered (copied out of the pooled buffers) and written
    // in the background; large ones are written as they arrive.
    let received;
    try {
      received = await receiveFileBody(body, ctx.pool, {
        file: item.file,
        gatherLimit: SMALL_FILE_SIZE,
        verify: request.verify,
      });
    } catch (error) {
      discard(item);
      throw error;
    }
    item.bytes = received.bytes;
    const { parts } = received;
    let error: FtsError | undefined;
    if (received.senderError) {
      // The client could not read the file; the connection is in step.
      discard(item);
      item.error = errorFromWire(
        received.senderError,
        `read "${message.path}"`,
      );
      return await batch.add(item);
    }
    if (received.writeError !== undefined) {
      error = typed(received.writeError, message.path);
    } else if (item.bytes !== message.size) {
      error = new IntegrityError(
        `received ${item.bytes} bytes of "${message.path}" but it has ${message.size}`,
      );
    } else if (!received.intact) {
      error = new IntegrityError(
        `"${message.path}" was damaged in transit (SHA-256 mismatch)`,
      );
    }
    if (error) {
      discard(item);
      item.error = error;
    } else if (small) return await batch.stage(item, parts, lane);
    await batch.add(item);
  };

  let fatal: unknown;
  try {
    while (true) {
      const message = await reader.read();
      if (message === null) {
        throw new ConnectionError("the client left during a tree upload");
      }
      if (message.op === "tree-end") break;
      if (message.op === "file") {
        await receiveFile(message);
      } else if (message.op === "dir") {
        try {
          treeSegments(message.path);
          await ensureFolder(message.path);
          dirs.push({
            item: { ...message, type: "dir", size: 0 },
            host: hostOf(message.path),
          });
        } catch (error) {
          extraFailures.push(fail(message.path, typed(error, message.path)));
        }
      } else {
        throw new ProtocolError(`unexpected "${message.op}" in a tree upload`);
      }
    }
  } catch (error) {
    fatal = error;
  }
  // Whatever arrived whole and verified is kept, even when the client left.
  await batch.finish().catch(() => {});
  if (fatal !== undefined) {
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
  // Folders last, deepest first: writing their files changed their mtimes.
  const now = new Date();
  dirs.sort((a, b) => depth(b.item.path) - depth(a.item.path));
  for (const { item, host } of dirs) {
    try {
      if (item.mode !== null) Deno.chmodSync(host, item.mode & 0o777);
      Deno.utimeSync(host, now, new Date(item.mtime));
    } catch (error) {
      extraFailures.push(fail(item.path || ".", typed(error, item.path)));
    }
  }
  await writer.send({ op: "tree-ack", done, failed: extraFailures.splice(0) });
  await writer.send({ op: "tree-done", files, bytes, failed });
  return {
    path: rootPath,
    bytes,
    result: `ok, ${files} files, ${
      manifest.length - needed.length
    } up to date, ${failed} failed`,
  };
}

/** Serves `tree-get`: lists the tree without following symlinks. */
export async function treeList(
  io: RequestIo,
  request: TreeGetRequest,
): Promise<Outcome> {
  const { storage } = io.ctx;
  const rootPath = storage.segments(request.path).join("/");
  const host = await storage.resolveExisting(rootPath);
  const info = await Deno.stat(host);
  if (!info.isDirectory) {
    throw new WrongTypeError(
      `"${request.path}" is a file, not a folder (use get without -r)`,
    );
  }
  const items: TreeItem[] = [{ ...itemOf("", info), type: "dir", size: 0 }];
  // Depth first, names sorted; yields now and then so other sessions run.
  const pending: [string, string][] = [["", host]];
  let seen = 0;
  while (pending.length > 0) {
    const [relative, folder] = pending.pop()!;
    const names: string[] = [];
    for (const entry of Deno.readDirSync(folder)) {
      if (rootPath === "" && relative === "" && entry.name === STAGING_DIR) {
        continue;
      }
      names.push(entry.name);
    }
    names.sort();
    const subfolders: [string, string][] = [];
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      let entry: Deno.FileInfo;
      try {
        entry = Deno.lstatSync(join(folder, name));
      } catch {
        continue; // Gone since the listing.
      }
      const item = itemOf(path, entry);
      items.push(item);
      if (item.type === "dir") subfolders.push([path, join(folder, name)]);
      if (++seen % 1000 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    pending.push(...subfolders.reverse());
  }
  await io.writer.send({ op: "tree-list", path: request.path });
  await io.writer.sendBody(jsonLines(items));
  return { path: rootPath, result: `ok, ${items.length} entries` };
}

/**
 * Serves `tree-want`: streams the asked-for files back to back, each as a
 * `file` message and a body with its SHA-256, or a `tree-error`, then
 * `tree-end`.
 */
export async function treeWant(
  io: RequestIo,
  request: TreeWantRequest,
): Promise<Outcome> {
  const { reader, writer, ctx } = io;
  const { storage } = ctx;
  const wanted = await readJsonLines(reader.body());
  const rootPath = storage.segments(request.path).join("/");
  const rootHost = await storage.resolveExisting(rootPath);
  if (!(await Deno.stat(rootHost)).isDirectory) {
    throw new WrongTypeError(`"${request.path}" is not a folder`);
  }
  const folders = new Map<string, Promise<string>>();
  const checkFolder = (relative: string): Promise<string> => {
    let checked = folders.get(relative);
    if (!checked) {
      checked = storage.resolveExisting(joinTree(rootPath, relative));
      checked.catch(() => {});
      folders.set(relative, checked);
    }
    return checked;
  };
  const batch = new FrameBatch(SEND_BATCH + 64 * 1024);
  let files = 0;
  let bytes = 0;
  let failed = 0;
  // Tells the client why one wanted file cannot come; the others go on.
  const refuse = (path: string, error: unknown) => {
    const wire = typed(error, path);
    batch.message({
      op: "tree-error",
      path,
      code: wire.code,
      reason: wire.message,
    });
    failed++;
  };
  for (const value of wanted) {
    if (typeof value !== "string") {
      throw new ProtocolError("a wanted path is not a string");
    }
    let host: string;
    let info: Deno.FileInfo;
    try {
      const segments = treeSegments(value);
      await checkFolder(segments.slice(0, -1).join("/"));
      host = join(
        storage.root,
        ...storage.segments(joinTree(rootPath, value)),
      );
      info = Deno.lstatSync(host);
      if (!info.isFile) {
        throw new WrongTypeError(
          info.isSymlink
            ? `"${value}" is a symlink; fts does not send symlinks`
            : `"${value}" is not a regular file`,
        );
      }
    } catch (error) {
      refuse(value, error);
      continue;
    }
    const mtime = entryFromInfo("", info).mtime;
    const mode = info.mode === null ? null : info.mode & 0o7777;
    if (info.size <= SMALL_FILE_SIZE) {
      let data: Uint8Array;
      try {
        data = Deno.readFileSync(host);
      } catch (error) {
        refuse(value, error);
        continue;
      }
      batch.message({
        op: "file",
        path: value,
        size: data.byteLength,
        mtime,
        mode,
      });
      batch.data(data);
      batch.end(
        request.verify
          ? { sha256: createHash("sha256").update(data).digest("hex") }
          : {},
      );
      files++;
      bytes += data.byteLength;
      if (batch.size >= SEND_BATCH) await writer.sendEncoded(batch.take());
      continue;
    }
    await writer.sendEncoded(batch.take());
    let file: Deno.FsFile;
    try {
      file = await Deno.open(host);
    } catch (error) {
      refuse(value, error);
      continue;
    }
    try {
      const size = (await file.stat()).size;
      await writer.send({ op: "file", path: value, size, mtime, mode });
      const sent = await sendFileBody(writer, file, ctx.pool, {
        hasher: request.verify ? startHasher(ctx.pool) : null,
      });
      if (sent.readError === undefined) {
        files++;
        bytes += sent.bytes;
      } else failed++;
    } finally {
      file.close();
    }
  }
  batch.message({ op: "tree-end" });
  await writer.sendEncoded(batch.take());
  return {
    path: rootPath,
    bytes,
    result: `ok, ${files} files sent, ${failed} failed`,
  };
}

/**
 * The host path of `relative` in the tree at remote `rootPath`, checked
 * lexically by the jail (the folders on the way are checked as they are
 * resolved or made).
 */
function hostIn(storage: Storage, rootPath: string, relative: string): string {
  treeSegments(relative);
  return join(storage.root, ...storage.segments(joinTree(rootPath, relative)));
}

function itemOf(path: string, info: Deno.FileInfo): TreeItem {
  const entry = entryFromInfo(path, info);
  return {
    path,
    type: entry.type,
    size: entry.type === "file" ? entry.size : 0,
    mtime: entry.mtime,
    mode: entry.mode,
  };
}

function discard(item: StagedFile): void {
  try {
    item.file?.close();
  } catch {
    // Closed already.
  }
  item.file = null;
  try {
    Deno.removeSync(item.staged);
  } catch {
    // Not there.
  }
}

function depth(path: string): number {
  return path === "" ? 0 : path.split("/").length;
}
