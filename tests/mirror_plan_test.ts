/**
 * The plan of a mirror, computed from two manifests: which entries the
 * source lacks (every one counted, only the topmost removed, a folder
 * before what it holds), the entries of another type that go first, and
 * the rsync `-i`-like line of each change.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { planDeletion } from "../client/mirror_delete.ts";
import {
  conflictsOf,
  extrasOf,
  itemize,
  planMirror,
} from "../client/mirror_plan.ts";
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

Deno.test("an entry of another type in the target is deleted, counted with what it holds, and its replacement added", () => {
  const source = [item("", "dir"), item("x"), item("z", "dir"), item("z/in")];
  const target = [
    item("", "dir"),
    item("x", "dir"),
    item("x/a"),
    item("z"),
  ];
  assertEquals(conflictsOf(source, target).map((entry) => entry.path), [
    "x",
    "z",
  ]);
  const plan = planDeletion(source, target, {
    unreadable: "",
    where: '"site"',
    mirror: { delete: true, dryRun: false, force: false },
    action: "put -r --delete",
  });
  assertEquals(plan.extras.count, 3, "x, x/a and z go");
  assertEquals(plan.conflicts.map((entry) => entry.path), ["x", "z"]);
  assertEquals(plan.rest, [], "nothing else goes after the transfers");
  const lines = planMirror(source, target, true).map((change) =>
    itemize(change, "<")
  );
  assertEquals(lines, [
    "<f+++++++++ x",
    "cd+++++++++ z/",
    "<f+++++++++ z/in",
    "*deleting   x/",
    "*deleting   x/a",
    "*deleting   z",
  ]);
});

Deno.test("a refused deletion step removes no conflicting entry either", () => {
  const source = [item("", "dir"), item("x")];
  const target = [item("", "dir"), item("x", "dir"), item("x/a")];
  const plan = planDeletion(source, target, {
    unreadable: "",
    where: '"site"',
    mirror: { delete: true, dryRun: false, force: false, maxDelete: 1 },
    action: "put -r --delete",
  });
  assertEquals(plan.conflicts, []);
  assertEquals(plan.refused?.constructor.name, "TooManyDeletionsError");
});
