/**
 * Test data for the benchmark: random files and trees of small random files,
 * and their SHA-256 digests to check that every transfer arrived intact.
 *
 * Random bytes come from `/dev/urandom` (falling back to Web Crypto), so
 * nothing compresses or deduplicates.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, relative } from "@std/path";

const CHUNK = 4 * 1024 * 1024;

/** Fills `buffer` with random bytes. */
async function fillRandom(
  source: Deno.FsFile | null,
  buffer: Uint8Array,
): Promise<void> {
  if (source) {
    let filled = 0;
    while (filled < buffer.length) {
      const n = await source.read(buffer.subarray(filled));
      if (n === null) throw new Error("unexpected end of /dev/urandom");
      filled += n;
    }
    return;
  }
  for (let i = 0; i < buffer.length; i += 65536) {
    crypto.getRandomValues(
      buffer.subarray(i, Math.min(i + 65536, buffer.length)),
    );
  }
}

async function openRandom(): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open("/dev/urandom", { read: true });
  } catch {
    return null;
  }
}

/** Writes `bytes` random bytes to `path` and returns their SHA-256 (hex). */
export async function makeRandomFile(
  path: string,
  bytes: number,
): Promise<string> {
  const source = await openRandom();
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  const hash = createHash("sha256");
  const buffer = new Uint8Array(Math.min(CHUNK, Math.max(bytes, 1)));
  try {
    let left = bytes;
    while (left > 0) {
      const part = buffer.subarray(0, Math.min(left, buffer.length));
      await fillRandom(source, part);
      hash.update(part);
      let written = 0;
      while (written < part.length) {
        written += await file.write(part.subarray(written));
      }
      left -= part.length;
    }
  } finally {
    file.close();
    source?.close();
  }
  return hash.digest("hex");
}

/**
 * Writes `bytes` of log-like text to `path` (timestamps, hosts, paths and
 * numbers from a fixed pseudo-random sequence; zstd level 1 shrinks it about
 * 5x per MiB) and returns its SHA-256 (hex).
 */
export async function makeTextFile(
  path: string,
  bytes: number,
): Promise<string> {
  const encoder = new TextEncoder();
  const hash = createHash("sha256");
  using file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  let left = bytes;
  for (let i = 0; left > 0; i++) {
    let text = "";
    for (let line = 0; line < 10_000; line++, i++) {
      text += `2026-12-01T${String(i % 24).padStart(2, "0")}:${
        String(i % 60).padStart(2, "0")
      }Z host${i % 13} fts[${1000 + i % 977}]: put data/dir${i % 101}/file${
        i % 7919
      }.bin ${next()} bytes ok in 0.${next() % 10000}s\n`;
    }
    const chunk = encoder.encode(text).subarray(0, left);
    hash.update(chunk);
    let written = 0;
    while (written < chunk.length) {
      written += await file.write(chunk.subarray(written));
    }
    left -= chunk.length;
  }
  return hash.digest("hex");
}

/** SHA-256 (hex) of the file at `path`, read in 4 MiB chunks. */
export async function sha256File(path: string): Promise<string> {
  const file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK);
  try {
    while (true) {
      const n = await file.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

/** Shape of a tree of small files. */
export interface TreeShape {
  /** Number of sub-folders. */
  folders: number;
  /** Files in each sub-folder. */
  filesPerFolder: number;
  /** Size of every file in bytes. */
  fileSize: number;
}

/** Summary of a directory tree: file count, bytes and one digest over paths and contents. */
export interface TreeDigest {
  /** Number of regular files. */
  files: number;
  /** Total bytes in those files. */
  bytes: number;
  /** SHA-256 over the sorted relative paths, sizes and content hashes. */
  digest: string;
}

/** Creates `root/dir-NN/file-NNNN.bin` random files as described by `shape`; returns the tree digest. */
export async function makeTree(
  root: string,
  shape: TreeShape,
): Promise<TreeDigest> {
  const source = await openRandom();
  try {
    const perFolder = new Uint8Array(shape.filesPerFolder * shape.fileSize);
    for (let d = 0; d < shape.folders; d++) {
      const dir = join(root, `dir-${String(d).padStart(2, "0")}`) as string;
      await Deno.mkdir(dir, { recursive: true });
      await fillRandom(source, perFolder);
      for (let f = 0; f < shape.filesPerFolder; f++) {
        const name = `file-${String(f).padStart(4, "0")}.bin`;
        const start = f * shape.fileSize;
        await Deno.writeFile(
          join(dir, name) as string,
          perFolder.subarray(start, start + shape.fileSize),
        );
      }
    }
  } finally {
    source?.close();
  }
  return await treeDigest(root);
}

async function listFiles(
  root: string,
  dir: string,
  out: string[],
): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name) as string;
    if (entry.isDirectory) await listFiles(root, path, out);
    else if (entry.isFile) out.push(relative(root, path) as string);
  }
}

/** Digest of every regular file under `root` (paths relative to `root`). */
export async function treeDigest(root: string): Promise<TreeDigest> {
  const paths: string[] = [];
  await listFiles(root, root, paths);
  paths.sort();
  const total = createHash("sha256");
  let bytes = 0;
  for (const path of paths) {
    const data = await Deno.readFile(join(root, path) as string);
    bytes += data.length;
    const fileHash = createHash("sha256").update(data).digest("hex");
    total.update(`${path}\0${data.length}\0${fileHash}\n`);
  }
  return { files: paths.length, bytes, digest: total.digest("hex") };
}

/** Size of the file at `path`, or -1 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return -1;
  }
}
