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

Deno.test("the plan does not depend on the order the two listings come in", () => {
  // The local walk lists folders before files; the server's listing holds
  // a folder back until its first entry and sends empty folders last.
  const source = [
    item("", "dir"),
    item("a", "dir"),
    item("a/b", "dir"),
    item("z", "dir"),
    item("a/b/new.txt"),
    item("a/same.txt"),
    item("a/sized.txt", "file", 2),
    item("link", "symlink"),
    item("swap", "dir"),
  ];
  const target = [
    item("", "dir"),
    item("a/sized.txt"),
    item("gone", "dir"),
    item("gone/x.txt"),
    item("a/same.txt"),
    item("swap"),
    item("link"),
    item("a", "dir"),
  ];
  const expected = [
    "cd+++++++++ a/b/",
    "<f+++++++++ a/b/new.txt",
    "<f.s....... a/sized.txt",
    "cd+++++++++ swap/",
    "cd+++++++++ z/",
    "*deleting   gone/",
    "*deleting   gone/x.txt",
    "*deleting   swap",
  ];
  const orders = [
    [source, target],
    [[...source].reverse(), [...target].reverse()],
    [[...source.slice(4), ...source.slice(0, 4)], target],
  ];
  for (const [from, onto] of orders) {
    const lines = planMirror(from, onto, true).map((c) => itemize(c, "<"));
    assertEquals(lines, expected);
  }
  assertEquals(
    planMirror(source, target, false).map((c) => itemize(c, "<")),
    expected.slice(0, 5),
  );
});

Deno.test("two listings of the same tree plan nothing, whatever their order", () => {
  const tree = [
    item("", "dir"),
    item("d", "dir"),
    item("d/e", "dir"),
    item("d/e/f.txt"),
    item("d-f.txt"),
    item("d/g.txt"),
  ];
  assertEquals(planMirror(tree, [...tree].reverse(), true), []);
});
