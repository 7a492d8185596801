/**
 * Helpers shared by both ends of a tree transfer: checking the relative paths
 * a peer names, and the JSON-lines bodies (manifests, wanted paths, needed
 * ranges) the tree messages carry.
 *
 * @module
 */

import { InvalidPathError, ProtocolError } from "../../protocol/errors.ts";
import type { Body } from "../../protocol/message_reader.ts";
import type { TreeItem } from "../../protocol/messages.ts";

/** Files up to this size travel in one DATA frame and are read and written with sync calls. */
export const SMALL_FILE_SIZE = 1024 * 1024;

/**
 * Returns the segments of a path relative to a tree's root, refusing
 * anything that could leave the tree: absolute paths, empty, `.` and `..`
 * segments, NUL bytes and backslashes. `""` is the root (no segments).
 *
 * @throws {InvalidPathError} when the path is not a plain relative path.
 */
export function treeSegments(path: string): string[] {
  if (path === "") return [];
  const segments = path.split("/");
  for (const segment of segments) {
    if (
      segment === "" || segment === "." || segment === ".." ||
      segment.includes("\0") || segment.includes("\\")
    ) {
      throw new InvalidPathError(
        `"${path}" is not a plain path inside the tree`,
      );
    }
  }
  return segments;
}

/** Joins a tree's root path and a relative path with `/`. */
export function joinTree(root: string, relative: string): string {
  if (relative === "") return root;
  if (root === "" || root.endsWith("/")) return root + relative;
  return `${root}/${relative}`;
}

const encoder = new TextEncoder();

/** Encodes values as JSON lines, about 1000 a chunk, for `sendBody`. */
export function* jsonLines(values: readonly unknown[]): Generator<Uint8Array> {
  for (let i = 0; i < values.length; i += 1000) {
    let text = "";
    for (const value of values.slice(i, i + 1000)) {
      text += JSON.stringify(value) + "\n";
    }
    yield encoder.encode(text);
  }
}

/**
 * Calls `each` with every JSON value of a JSON-lines body, in order, as the
 * body arrives: a tree of a million files never sits in memory as text.
 *
 * @throws {ProtocolError} when a line is not JSON, the body is not UTF-8, or
 * it holds more than `maxLines` values.
 */
export async function forEachJsonLine(
  body: Body,
  each: (value: unknown) => void | Promise<void>,
  maxLines = Infinity,
): Promise<void> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let rest = "";
  let count = 0;
  const take = async (text: string, final: boolean) => {
    const lines = (rest + text).split("\n");
    rest = final ? "" : lines.pop()!;
    for (const line of lines) {
      if (line === "") continue;
      if (++count > maxLines) {
        throw new ProtocolError(
          `a tree body has more than ${maxLines} lines; send the tree in parts`,
        );
      }
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new ProtocolError("a tree body line is not valid JSON");
      }
      // Awaited only when it is a promise: an await per line cost a
      // tenth of a second over a listing of 200,000 lines.
      const pending = each(value);
      if (pending) await pending;
    }
  };
  try {
    for await (const chunk of body.stream) {
      await take(decoder.decode(chunk, { stream: true }), false);
    }
    await take(decoder.decode(), true);
  } catch (error) {
    if (error instanceof TypeError) {
      throw new ProtocolError("a tree body is not valid UTF-8");
    }
    throw error;
  }
  await body.trailer;
}

/**
 * Reads a whole JSON-lines body into an array (for bodies the reader must
 * hold anyway); see {@linkcode forEachJsonLine}.
 */
export async function readJsonLines(
  body: Body,
  maxLines = Infinity,
): Promise<unknown[]> {
  const values: unknown[] = [];
  await forEachJsonLine(body, (value) => void values.push(value), maxLines);
  return values;
}

/**
 * Checks that `value` (a parsed manifest line) is a {@linkcode TreeItem}.
 *
 * @throws {ProtocolError} when it is not.
 */
export function asTreeItem(value: unknown): TreeItem {
  const item = value as TreeItem;
  if (
    typeof item !== "object" || item === null ||
    typeof item.path !== "string" ||
    !["file", "dir", "symlink", "other"].includes(item.type) ||
    !Number.isSafeInteger(item.size) || item.size < 0 ||
    !Number.isSafeInteger(item.mtime) ||
    !(item.mode === null || Number.isInteger(item.mode))
  ) {
    throw new ProtocolError("a tree manifest line is malformed");
  }
  return item;
}

/** Turns sorted indices into `[start, end)` ranges. */
export function toRanges(indices: readonly number[]): [number, number][] {
  const ranges: [number, number][] = [];
  for (const index of indices) {
    const last = ranges.at(-1);
    if (last && last[1] === index) last[1]++;
    else ranges.push([index, index + 1]);
  }
  return ranges;
}

/**
 * Expands `[start, end)` ranges into indices below `limit`.
 *
 * @throws {ProtocolError} when a range is malformed or out of bounds.
 */
export function fromRanges(
  values: readonly unknown[],
  limit: number,
): number[] {
  const indices: number[] = [];
  let floor = 0;
  for (const value of values) {
    const [start, end] = Array.isArray(value) ? value : [];
    if (
      !Number.isSafeInteger(start) || !Number.isSafeInteger(end) ||
      start < floor || end < start || end > limit
    ) {
      throw new ProtocolError("a needed-files range is malformed");
    }
    for (let i = start; i < end; i++) indices.push(i);
    floor = end;
  }
  return indices;
}
