/**
 * The requests on single files and folders: `ls`, `stat`, `get`, `put`, `rm`,
 * `mkdir` and `mv`. Each handler answers one request on the session's
 * connection; folder trees live in `tree_session.ts`.
 *
 * @module
 */

import { basename, join } from "@std/path";
import {
  AlreadyExistsError,
  ConnectionError,
  type Digests,
  type Entry,
  type GetRequest,
  IntegrityError,
  type ListRequest,
  type MkdirRequest,
  type MvRequest,
  ProtocolError,
  type PutRequest,
  type Ready,
  type RmRequest,
  type StatRequest,
  WrongTypeError,
} from "../protocol/mod.ts";
import { fileChunks, fileSink, hashPrefix } from "../transfer/file_chunks.ts";
import { createHasher, skipHashing } from "../transfer/hasher.ts";
import {
  agreeChecksum,
  checksumLabel,
  digestFields,
  digestIn,
  prefixFields,
  prefixIn,
} from "../transfer/checksum.ts";
import { compression, requestedMode } from "../transfer/compression.ts";
import type { Outcome, RequestIo } from "./request_io.ts";
import { entryFromInfo } from "../transfer/entry.ts";
import { mapFsError, STAGING_DIR } from "./storage.ts";

/** `ls`: a folder's entries (or one file's) as a JSON-lines body. */
export async function list(
  io: RequestIo,
  request: ListRequest,
): Promise<Outcome> {
  const { storage } = io.ctx;
  const host = await storage.resolveExisting(request.path);
  const info = await Deno.stat(host);
  const entries: Entry[] = [];
  if (info.isDirectory) {
    const atRoot = storage.segments(request.path).length === 0;
    for await (const item of Deno.readDir(host)) {
      if (atRoot && item.name === STAGING_DIR) continue;
      const entry = await storage.entry(join(host, item.name), item.name)
        .catch(() => null);
      if (entry) entries.push(entry);
    }
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  } else {
    entries.push(entryFromInfo(basename(host), info));
  }
  if (request.hash) {
    for (const entry of entries) {
      if (entry.type === "file") {
        const path = info.isDirectory ? join(host, entry.name) : host;
        Object.assign(entry, await hashFile(path, request.checksum));
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

/** The file's digest in its field; SHA-256 unless `checksum` asks else. */
async function hashFile(host: string, checksum: unknown): Promise<Digests> {
  const size = (await Deno.stat(host)).size;
  const agreed = agreeChecksum(checksum);
  const hash = await hashPrefix(host, size, agreed);
  return digestFields(agreed, hash.hex());
}

/** `stat`: one entry, with its SHA-256 on request. */
export async function stat(
  io: RequestIo,
  request: StatRequest,
): Promise<Outcome> {
  const { storage } = io.ctx;
  const host = await storage.resolveExisting(request.path);
  const segments = storage.segments(request.path);
  const entry = entryFromInfo(segments.at(-1) ?? ".", await Deno.stat(host));
  if (request.hash && entry.type === "file") {
    Object.assign(entry, await hashFile(host, request.checksum));
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
  const { pool } = io.ctx;
  const host = await io.ctx.storage.resolveExisting(request.path);
  using file = await Deno.open(host);
  const info = await file.stat();
  if (!info.isFile) {
    throw new WrongTypeError(`"${request.path}" is a folder, not a file`);
  }
  const mtime = Math.round(info.mtime?.getTime() ?? 0);
  let offset = 0;
  const checksum = agreeChecksum(request.checksum);
  let hasher = request.verify
    ? await createHasher(pool, checksum)
    : skipHashing(pool);
  const unchanged = request.expect === undefined ||
    (request.expect.size === info.size && request.expect.mtime === mtime);
  if (
    request.offset > 0 && request.verify && unchanged &&
    request.offset <= info.size
  ) {
    const prefix = await createHasher(pool, checksum, host, request.offset);
    if (prefix.hex() === prefixIn(request, checksum)) {
      hasher = prefix;
      offset = request.offset;
    }
  }
  await io.writer.send({
    op: "data",
    offset,
    size: info.size,
    mtime,
    mode: info.mode === null ? null : info.mode & 0o7777,
    restarted: request.offset > 0 && offset === 0,
    checksum: request.checksum === undefined ? undefined : checksum,
  });
  await file.seek(offset, Deno.SeekMode.Start);
  await io.writer.sendBody(
    fileChunks(file, pool),
    () => hasher.digests(),
    (chunk) => hasher.update(chunk),
    compression(requestedMode(request.compress)),
  );
  return {
    bytes: info.size - offset,
    result: offset > 0 ? `ok, resumed at ${offset}` : "ok",
  };
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
  const { storage, staging, pool } = io.ctx;
  const host = await storage.resolveNew(request.path);
  const path = storage.segments(request.path).join("/");
  await assertReplaceable(host, path, request.noClobber);
  const staged = await staging.claim(
    path,
    request.size,
    request.mtime,
    request.resume && request.verify && request.size !== null,
  );
  let keep = staged.resumable;
  try {
    const checksum = agreeChecksum(request.checksum);
    const ready: Ready = { op: "ready", offset: staged.existing };
    // Only a client that asked gets the new fields: older ones never did.
    if (request.checksum !== undefined) ready.checksum = checksum;
    if (request.compress) ready.compress = true;
    const prefix = staged.existing > 0 && request.verify
      ? await createHasher(pool, checksum, staged.path, staged.existing)
      : null;
    if (prefix) Object.assign(ready, prefixFields(checksum, prefix.hex()));
    await io.writer.send(ready);
    const data = await io.reader.read();
    if (data === null) {
      throw new ConnectionError("the client left before sending data");
    }
    if (
      data.op !== "data" ||
      (data.offset !== 0 && data.offset !== staged.existing)
    ) {
      throw new ProtocolError(`unexpected "${data.op}" during an upload`);
    }
    const offset = data.offset;
    const hasher = !request.verify
      ? skipHashing(pool)
      : offset > 0 && prefix
      ? prefix
      : await createHasher(pool, checksum);
    let received = 0;
    using file = await Deno.open(staged.path, { write: true, create: true });
    await file.truncate(offset);
    await file.seek(offset, Deno.SeekMode.Start);
    const body = io.reader.body();
    await body.stream.pipeTo(fileSink(file, (chunk) => {
      received += chunk.byteLength;
      hasher.update(chunk);
    }));
    const trailer = await body.trailer;
    if (request.size !== null && offset + received !== request.size) {
      keep = false;
      throw new IntegrityError(
        `received ${offset + received} bytes but the file has ${request.size}`,
      );
    }
    const digest = hasher.hex();
    if (request.verify && digestIn(trailer, checksum) !== digest) {
      keep = false;
      throw new IntegrityError(
        `the data was damaged in transit (${
          checksumLabel(checksum)
        } mismatch); the file on the server was not changed`,
      );
    }
    await file.syncData();
    if (request.mode !== null) {
      await Deno.chmod(staged.path, request.mode & 0o777);
    }
    await Deno.utime(staged.path, new Date(), new Date(request.mtime));
    await assertReplaceable(host, path, request.noClobber);
    await Deno.rename(staged.path, host);
    keep = true;
    await io.writer.send({
      op: "done",
      bytes: received,
      ...(request.verify ? digestFields(checksum, digest) : {}),
    });
    return {
      path,
      bytes: received,
      result: offset > 0 ? `ok, resumed at ${offset}` : "ok",
    };
  } finally {
    staged.release();
    if (!keep) await Deno.remove(staged.path).catch(() => {});
  }
}

async function assertReplaceable(
  host: string,
  path: string,
  noClobber: boolean,
): Promise<void> {
  const existing = await Deno.lstat(host).catch(() => null);
  if (existing?.isDirectory) {
    throw new WrongTypeError(`"${path}" is a folder on the server`);
  }
  if (existing && noClobber) {
    throw new AlreadyExistsError(`"${path}" already exists on the server`);
  }
}

/** `rm`: a file, or a folder (with `recursive`). */
export async function remove(
  io: RequestIo,
  request: RmRequest,
): Promise<Outcome> {
  io.assertWritable();
  const host = await io.ctx.storage.resolveNew(request.path);
  const info = await Deno.lstat(host).catch((error) => {
    throw mapFsError(error, request.path);
  });
  if (info.isDirectory && !request.recursive) {
    await Deno.remove(host).catch((error) => {
      throw new WrongTypeError(
        `"${request.path}" is a folder that is not empty (use rm -r)`,
        { cause: error },
      );
    });
  } else {
    await Deno.remove(host, { recursive: request.recursive });
  }
  await io.writer.send({ op: "ok" });
  return {};
}

/** `mkdir`: a folder and its parents. */
export async function mkdir(
  io: RequestIo,
  request: MkdirRequest,
): Promise<Outcome> {
  io.assertWritable();
  await io.ctx.storage.mkdirs(request.path);
  await io.writer.send({ op: "ok" });
  return {};
}

/** `mv`: renames a path, into the target when it is a folder. */
export async function move(
  io: RequestIo,
  request: MvRequest,
): Promise<Outcome> {
  io.assertWritable();
  const { storage } = io.ctx;
  const from = await storage.resolveNew(request.from);
  await Deno.lstat(from).catch((error) => {
    throw mapFsError(error, request.from);
  });
  let to = await storage.resolveNew(request.to);
  const target = await Deno.stat(to).catch(() => null);
  if (target?.isDirectory) {
    to = await storage.resolveNew(
      `${storage.segments(request.to).join("/")}/${basename(from)}`,
    );
  }
  if (to === from || to.startsWith(from + "/")) {
    throw new WrongTypeError(`cannot move "${request.from}" into itself`);
  }
  await Deno.rename(from, to).catch((error) => {
    throw mapFsError(error, request.to);
  });
  await io.writer.send({ op: "ok" });
  return { path: `${request.from} -> ${request.to}` };
}
