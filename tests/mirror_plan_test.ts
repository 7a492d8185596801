/**
 * The plan of a mirror, computed from two manifests: which entries the
 * source lacks (every one counted, only the topmost removed, a folder
 * before what it holds), and the rsync `-i`-like line of each change.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { extrasOf, itemize, planMirror } from "../client/mirror_plan.ts";
import type { TreeItem } from "../protocol/mod.ts";

function item(
  path: string,
  type: TreeItem["type"] = "file",
  size = 1,
  mtime = 1,
): TreeItem {
  return { path, type, size, mtime, mode: 0o644 };
}

Deno.test("extras count every entry the source lacks and remove only the topmost", () => {
  const target = [
    item("", "dir"),
    item("keep.txt"),
    item("old", "dir"),
    item("old/a", "dir"),
    item("old/a/x.txt"),
    item("old-sibling.txt"),
    item("stale.txt"),
  ];
  const extras = extrasOf(new Set(["", "keep.txt"]), target);
  assertEquals(extras.count, 5);
  assertEquals(extras.top.map((entry) => entry.path), [
    "old",
    "old-sibling.txt",
    "stale.txt",
  ]);
});

Deno.test("extras spare what the caller keeps and never the root", () => {
  const target = [item("", "dir"), item(".fts-partial-1", "dir"), item("x")];
  const extras = extrasOf(
    new Set([""]),
    target,
    (p) => p.startsWith(".fts-partial-"),
  );
  assertEquals(extras.top.map((entry) => entry.path), ["x"]);
});

Deno.test("each change gets its rsync -i like line", () => {
  const source = [
    item("", "dir"),
    item("new.txt"),
    item("changed.txt", "file", 2, 5),
    item("d", "dir"),
  ];
  const target = [
    item("", "dir"),
    item("changed.txt", "file", 1, 1),
    item("gone.txt"),
  ];
  const lines = planMirror(source, target, true).map((change) =>
    itemize(change, "<")
  );
  assertEquals(lines, [
    "<f.st...... changed.txt",
    "cd+++++++++ d/",
    "<f+++++++++ new.txt",
    "*deleting   gone.txt",
  ]);
});
