/**
 * The requests on single files and folders: `ls`, `stat`, `get`, `put`, `rm`,
 * `mkdir` and `mv`. Each handler answers one request on the session's
 * connection through the storage core ({@linkcode Store}); folder trees live
 * in `tree_session.ts`.
 *
 * @module
 */

import { zstdStreamAvailable } from "../../protocol/zstd_stream.ts";
import {
  AlreadyExistsError,
  type ChmodRequest,
  ConnectionError,
  type Digests,
  type Entry,
  type GetRequest,
  IntegrityError,
  IoError,
  type ListRequest,
  type Message,
  type MkdirRequest,
  type MvRequest,
  ProtocolError,
  type PutRequest,
  type Ready,
  type RmRequest,
  type StatRequest,
  type Trailer,
} from "../../protocol/mod.ts";
import { fileChunks } from "../../transfer/file_chunks.ts";
import {
  createHasher,
  type Hasher,
  skipHashing,
  startHasher,
} from "../../transfer/hash/hasher.ts";
import {
  agreeChecksum,
  checksumLabel,
  digestFields,
  digestIn,
  prefixFields,
  prefixIn,
} from "../../transfer/hash/checksum.ts";
import { compression, requestedMode } from "../../transfer/compression.ts";
import { sendBodyZeroCopy } from "./zero_copy.ts";
import type { BufferPool } from "../../protocol/mod.ts";
import type { Outcome, RequestIo } from "./request_io.ts";
import { joinTree } from "../../transfer/tree/tree_manifest.ts";
import { normalizePath } from "../storage/remote_path.ts";
import type { Store } from "../storage/store.ts";
import { UploadLifecycle } from "../storage/upload_lifecycle.ts";
import { sendSummary } from "../../transfer/delta/summary_exchange.ts";
import {
  deltaGetStart,
  type OldFile,
  openOldFile,
  receiveDelta,
  sendDeltaBody,
  summarizeOld,
  summaryInPieces,
} from "./delta_requests.ts";
import { recordedDigest, recordRead } from "./recorded_digests.ts";
import type { ChunkSummary } from "../../transfer/delta/summary.ts";

/** `ls`: a folder's entries (or one file's) as a JSON-lines body. */
export async function list(
  io: RequestIo,
  request: ListRequest,
): Promise<Outcome> {
  const { store } = io.ctx;
  const self = await store.stat(request.path, { follow: true });
  const entries: Entry[] = self.type === "dir"
    ? await store.list(request.path)
    : [self];
  if (request.hash) {
    for (const entry of entries) {
      if (entry.type === "file") {
        const path = self.type === "dir"
          ? joinTree(normalizePath(request.path), entry.name)
          : request.path;
        await addDigest(io, entry, path, request.checksum);
      }
    }
  }
  await io.writer.send({ op: "listing", path: request.path });
  const encoder = new TextEncoder();
  await io.writer.sendBody(
    (function* () {
      for (let i = 0; i < entries.length; i += 1000) {
        const lines = entries.slice(i, i + 1000)
          .map((entry) => JSON.stringify(entry) + "\n").join("");
        yield encoder.encode(lines);
      }
    })(),
  );
  return { result: `${entries.length} entries` };
}

/** Adds the file `entry`'s digest to it (for `ls` and `stat`). */
async function addDigest(
  io: RequestIo,
  entry: Entry,
  path: string,
  checksum: unknown,
): Promise<void> {
  const { pool, store } = io.ctx;
  Object.assign(entry, await hashFile(store, path, pool, checksum));
}

/** A whole file's digest in its field; SHA-256 unless `checksum` asks else. */
async function hashFile(
  store: Store,
  path: string,
  pool: BufferPool,
  checksum: unknown,
): Promise<Digests> {
  const agreed = agreeChecksum(checksum);
  const handle = await store.open(path);
  try {
    const recorded = await recordedDigest(store, handle, agreed);
    if (recorded) return digestFields(agreed, recorded);
    const hasher = await createHasher(pool, agreed, handle, handle.entry.size);
    return digestFields(agreed, hasher.hex());
  } finally {
    handle.close();
  }
}

/** `stat`: one entry, with its SHA-256 on request. */
export async function stat(
  io: RequestIo,
  request: StatRequest,
): Promise<Outcome> {
  const entry = await io.ctx.store.stat(request.path, { follow: true });
  if (request.hash && entry.type === "file") {
    await addDigest(io, entry, request.path, request.checksum);
  }
  await io.writer.send({ op: "entry", entry });
  return {};
}

/**
 * `get`: the file as a body from the client's offset, once the client's
 * partial is proven to be a prefix of it; the trailer carries the SHA-256.
 */
export async function get(
  io: RequestIo,
  request: GetRequest,
): Promise<Outcome> {
  const { pool, store } = io.ctx;
  const checksum = agreeChecksum(request.checksum);
  // The client's summary (for a delta) is read whatever happens next, and
  // the file cut meanwhile.
  const start = await deltaGetStart(io, request, checksum);
  const { index, head } = start;
  let handle = start.handle;
  try {
    let offset = 0;
    let hasher = start.hasher;
    // A recorded digest spares the server reading the file twice; the
    // client still hashes what it receives and compares.
    const recorded = request.verify && request.offset === 0 && !index
      ? await recordedDigest(store, handle, checksum)
      : undefined;
    if (recorded) hasher = skipHashing(pool);
    // Read whole without a record: the digest found on the way is kept.
    const opened = request.verify && request.offset === 0 && !index &&
        !recorded && handle.identity
      ? await handle.identity().catch(() => undefined)
      : undefined;
    const first = handle.entry;
    const unchanged = request.expect === undefined ||
      (request.expect.size === first.size &&
        request.expect.mtime === first.mtime);
    if (
      request.offset > 0 && request.verify && unchanged &&
      request.offset <= first.size
    ) {
      const prefix = await createHasher(pool, checksum, handle, request.offset);
      if (prefix.hex() === prefixIn(request, checksum)) {
        hasher = prefix;
        offset = request.offset;
      } else {
        // Not a prefix: start again from the beginning.
        handle.close();
        handle = await store.open(request.path);
      }
    }
    const info = handle.entry;
    const delta = index && request.verify && handle.seek ? index : null;
    await io.writer.send({
      op: "data",
      offset,
      size: info.size,
      mtime: info.mtime,
      mode: info.mode,
      restarted: request.offset > 0 && offset === 0,
      // Only a client that asked gets the new field: older ones never did.
      checksum: request.checksum === undefined ? undefined : checksum,
      delta: delta ? true : undefined,
    });
    if (delta) {
      const stats = await sendDeltaBody(
        io,
        handle as Parameters<typeof sendDeltaBody>[1],
        delta,
        offset,
        hasher,
        compression(requestedMode(request.compress)),
        head,
      );
      return {
        bytes: stats.literal + stats.overhead,
        result: `ok, delta reused ${stats.reused}`,
      };
    }
    // Bytes the server need not see (a recorded digest, or unverified)
    // go by sendfile(2) where it can.
    const trailer = () =>
      recorded ? digestFields(checksum, recorded) : hasher.digests();
    const seeing = hasher.checksum !== null || request.compress !== undefined;
    if (seeing || !await sendBodyZeroCopy(io, handle, offset, trailer)) {
      await io.writer.sendBody(
        fileChunks(handle, pool),
        trailer,
        (chunk) => hasher.update(chunk),
        compression(
          requestedMode(request.compress),
          request.compressStream === true && zstdStreamAvailable(),
        ),
      );
      if (offset === 0 && opened) {
        await recordRead(store, handle, opened, hasher.digests());
      }
    }
    return {
      bytes: info.size - offset,
      result: offset > 0 ? `ok, resumed at ${offset}` : "ok",
    };
  } finally {
    handle.close();
  }
}

/**
 * `put`: receives the file into the staging area (resuming a partial of the
 * same source), verifies it, and renames it over the target.
 */
export async function put(
  io: RequestIo,
  request: PutRequest,
): Promise<Outcome> {
  io.assertWritable();
  const { store, pool } = io.ctx;
  const path = normalizePath(request.path);
  if (request.noClobber) {
    const there = await store.stat(path).catch(() => null);
    if (there) {
      throw new AlreadyExistsError(`"${path}" already exists on the server`);
    }
  }
  const resume = request.resume && request.verify && request.size !== null;
  const upload = await UploadLifecycle.begin(store, path, {
    size: request.size,
    mtime: request.mtime,
    mode: request.mode,
    resume,
  });
  let opened: Omit<OldFile, "summary"> | null = null;
  let old: OldFile | null = null;
  return await upload.run(async () => {
    const checksum = agreeChecksum(request.checksum);
    if (request.delta && request.verify && request.size !== null) {
      opened = await openOldFile(store, path);
    }
    let prefix: Hasher | null = null;
    if (upload.offset > 0 && request.verify) {
      prefix = await upload.stagedHasher(pool, checksum);
    }
    // Staged bytes whose hash cannot be continued are sent again.
    const ready: Ready = { op: "ready", offset: prefix ? upload.offset : 0 };
    // Only a client that asked gets the new fields: older ones never did.
    if (request.checksum !== undefined) ready.checksum = checksum;
    if (request.compress) ready.compress = true;
    if (
      request.compress && request.compressStream && zstdStreamAvailable()
    ) ready.compressStream = true;
    if (prefix) Object.assign(ready, prefixFields(checksum, prefix.hex()));
    if (opened) ready.delta = true;
    const start = await startData(io, ready, opened, request.summaryPieces);
    old = start.old;
    const offset = start.offset;
    const hasher = !request.verify
      ? skipHashing(pool)
      : offset > 0 && prefix
      ? prefix
      : startHasher(pool, checksum);
    await upload.restartAt(offset);
    const { received, rebuilt, trailer, reused, summary } = await receiveUpload(
      io,
      path,
      upload,
      start.delta ? old : null,
      { hasher, fromStart: offset === 0 },
    );
    if (request.size !== null && offset + rebuilt !== request.size) {
      upload.keep = false;
      throw new IntegrityError(
        `received ${offset + rebuilt} bytes but the file has ${request.size}`,
      );
    }
    const digest = hasher.hex();
    if (request.verify && digestIn(trailer, checksum) !== digest) {
      upload.keep = false;
      // A delta rebuilt from a damaged old version (or a false chunk
      // match): forget its summary, so the next run reads it afresh.
      if (old) await store.records?.drop(old.identity);
      throw new IntegrityError(
        `the data was damaged in transit (${
          checksumLabel(checksum)
        } mismatch); the file on the server was not changed`,
      );
    }
    await upload.commit(
      {
        mode: request.mode,
        mtime: request.mtime,
        noClobber: request.noClobber,
      },
      request.verify
        ? { digests: digestFields(checksum, digest), chunks: summary }
        : undefined,
    );
    await io.writer.send({
      op: "done",
      bytes: received,
      reused,
      ...(request.verify ? digestFields(checksum, digest) : {}),
    });
    return {
      path,
      bytes: received,
      result: offset > 0 ? `ok, resumed at ${offset}` : "ok",
    };
  }).finally(() => (opened as Omit<OldFile, "summary"> | null)?.handle.close());
}

/** Receives a plain upload body; returns the bytes received and the trailer. */
async function receivePlain(
  io: RequestIo,
  upload: UploadLifecycle,
  hasher: Hasher,
): Promise<{ received: number; trailer: Trailer }> {
  const { pool } = io.ctx;
  let received = 0;
  const body = io.reader.body();
  await body.stream.pipeTo(
    new WritableStream<Uint8Array>({
      async write(chunk) {
        received += chunk.byteLength;
        await upload.write(chunk, hasher, pool);
      },
    }),
  );
  return { received, trailer: await body.trailer };
}

/**
 * Sends `ready` (then, for a delta, the old version's summary: after the
 * reply, so the client chunks its file meanwhile) and reads the client's
 * `data` message: the offset it sends from (0, or the one offered), and
 * whether it sends a delta against `old`.
 */
async function startData(
  io: RequestIo,
  ready: Ready,
  opened: Omit<OldFile, "summary"> | null,
  pieces?: boolean,
): Promise<{ offset: number; delta: boolean; old: OldFile | null }> {
  await io.writer.send(ready);
  let old: OldFile | null = null;
  let data: Message | null;
  if (opened && pieces) {
    ({ old, data } = await summaryInPieces(io, opened));
  } else {
    if (opened) {
      old = await summarizeOld(io.ctx.store, opened);
      await sendSummary(io.writer, old.summary);
    }
    data = await io.reader.read();
  }
  if (data === null) {
    throw new ConnectionError("the client left before sending data");
  }
  if (
    data.op !== "data" ||
    (data.offset !== 0 && data.offset !== ready.offset) ||
    (data.delta && !old)
  ) {
    throw new ProtocolError(`unexpected "${data.op}" during an upload`);
  }
  return { offset: data.offset, delta: data.delta === true, old };
}

/** What an upload's body brought. */
interface Received {
  /** Bytes that came over the connection. */
  received: number;
  /** Bytes of the file rebuilt from them (the same without a delta). */
  rebuilt: number;
  trailer: Trailer;
  /** Bytes reused from the old version (deltas only). */
  reused?: number;
  /** The new version's chunk summary, when the delta made one. */
  summary?: ChunkSummary;
}

/**
 * Receives an upload's body into `upload`: plain, or a delta against `old`.
 * A client whose source changed says so in its trailer (integrity): its
 * staged bytes are keyed by the old size and time, so no rerun could
 * resume them, and they are dropped.
 */
async function receiveUpload(
  io: RequestIo,
  path: string,
  upload: UploadLifecycle,
  old: OldFile | null,
  { hasher, fromStart }: { hasher: Hasher; fromStart: boolean },
): Promise<Received> {
  const dropIfChanged = (error: unknown): never => {
    if (error instanceof IntegrityError) upload.keep = false;
    throw error;
  };
  if (old) {
    const delta = await receiveDelta(io, path, upload, old, hasher, fromStart)
      .catch(dropIfChanged);
    return {
      received: delta.stats.literal + delta.stats.overhead,
      rebuilt: delta.stats.literal + delta.stats.reused,
      trailer: delta.trailer,
      reused: delta.stats.reused,
      summary: delta.summary,
    };
  }
  const { received, trailer } = await receivePlain(io, upload, hasher)
    .catch(dropIfChanged);
  return { received, rebuilt: received, trailer };
}

/** `rm`: a file, or a folder (with `recursive`). */
export async function remove(
  io: RequestIo,
  request: RmRequest,
): Promise<Outcome> {
  io.assertWritable();
  await io.ctx.store.remove(request.path, { recursive: request.recursive });
  await io.writer.send({ op: "ok" });
  return {};
}

/** `mkdir`: a folder and its parents. */
export async function mkdir(
  io: RequestIo,
  request: MkdirRequest,
): Promise<Outcome> {
  io.assertWritable();
  await io.ctx.store.mkdirp(request.path);
  await io.writer.send({ op: "ok" });
  return {};
}

/** `df`: the space left where the files are. */
export async function space(io: RequestIo): Promise<Outcome> {
  const store = io.ctx.store;
  if (!store.space) {
    throw new IoError(
      "this server's storage (a bucket) has no free space to tell",
    );
  }
  const { free, total } = await store.space();
  await io.writer.send({ op: "space", free, total });
  return { result: `ok, ${free} of ${total} free` };
}

/** `chmod`: the permission bits of a file or folder. */
export async function chmod(
  io: RequestIo,
  request: ChmodRequest,
): Promise<Outcome> {
  io.assertWritable();
  await io.ctx.store.setMeta(request.path, { mode: request.mode & 0o777 });
  await io.writer.send({ op: "ok" });
  return { result: `ok, ${request.mode.toString(8).padStart(4, "0")}` };
}

/** `mv`: renames a path, into the target when it is a folder (as mv does). */
export async function move(
  io: RequestIo,
  request: MvRequest,
): Promise<Outcome> {
  io.assertWritable();
  const { store } = io.ctx;
  const from = normalizePath(request.from);
  let to = normalizePath(request.to);
  const target = await store.stat(to, { follow: true }).catch(() => null);
  if (target?.type === "dir") to = joinTree(to, from.split("/").at(-1) ?? "");
  const folder = !store.capabilities.atomicFolderMove &&
    (await store.stat(from).catch(() => null))?.type === "dir";
  await store.move(from, to);
  await io.writer.send({
    op: "ok",
    // An object store moves a folder object by object: say so, as the
    // S3 documentation (docs/s3.md) does, since readers could have seen it
    // half moved.
    notice: folder
      ? `moved "${from}" object by object: the object store has no atomic folder move, so others could see it half moved meanwhile`
      : undefined,
  });
  return { path: `${request.from} -> ${request.to}` };
}
