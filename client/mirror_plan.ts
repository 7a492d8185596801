/**
 * What a mirror changes: the files and folders the target lacks or holds in
 * another version (rsync's quick check: size and modification time), and
 * the entries the source lacks, which `--delete` removes. Computed from the
 * source's and the target's manifests alone, so a dry run changes nothing.
 *
 * @module
 */

import type { TreeItem } from "../protocol/mod.ts";
import { isUpToDate } from "../transfer/tree/tree_files.ts";

/** One line of a dry run. */
export interface PlannedChange {
  change: "add" | "update" | "delete";
  type: TreeItem["type"];
  path: string;
  /** Size of the file to send (add, update). */
  size?: number;
  /** What differs for an update: `s` size, `t` time, `T` type. */
  differs?: string;
}

/** The entries of the target that the source lacks. */
export interface Extras {
  /** Every extra entry, files and folders (what `--max-delete` counts). */
  count: number;
  /** The topmost extras: removing these removes all (folders recursively). */
  top: TreeItem[];
}

/**
 * Paths of `target` that are not in `source`, parents before children;
 * `keep` spares names (the client's own staging folders). The target's
 * root (`""`) is never extra.
 */
export function extrasOf(
  source: ReadonlySet<string>,
  target: readonly TreeItem[],
  keep: (path: string) => boolean = () => false,
): Extras {
  const sorted = byPath(target);
  const top: TreeItem[] = [];
  let count = 0;
  let under: string | null = null;
  for (const item of sorted) {
    if (item.path === "" || source.has(item.path) || keep(item.path)) continue;
    count++;
    if (under !== null && item.path.startsWith(`${under}/`)) continue;
    top.push(item);
    under = item.type === "dir" ? item.path : null;
  }
  return { count, top };
}

/**
 * Target entries whose path the source holds as another type, where the
 * source's entry is a file or a folder (the kinds a mirror copies). They
 * never nest: under a folder the source has as a file there is nothing of
 * the source's.
 */
export function conflictsOf(
  source: readonly TreeItem[],
  target: readonly TreeItem[],
): TreeItem[] {
  const types = new Map(source.map((item) => [item.path, item.type]));
  return target.filter((item) => {
    const type = types.get(item.path);
    return item.path !== "" && (type === "file" || type === "dir") &&
      type !== item.type;
  });
}

/**
 * Every change a mirror of `source` onto `target` makes, in order: folders
 * and files to add or update, then the deletions (with `withDeletes`).
 */
export function planMirror(
  source: readonly TreeItem[],
  target: readonly TreeItem[],
  withDeletes: boolean,
): PlannedChange[] {
  const have = new Map(target.map((item) => [item.path, item]));
  const changes: PlannedChange[] = [];
  for (const item of byPath(source)) {
    if (item.path === "" || (item.type !== "file" && item.type !== "dir")) {
      continue;
    }
    const old = have.get(item.path);
    if (item.type === "dir") {
      if (old?.type !== "dir") {
        changes.push({
          change: old ? "update" : "add",
          type: "dir",
          ...at(item),
          differs: old ? "T" : undefined,
        });
      }
      continue;
    }
    if (!old) {
      changes.push({
        change: "add",
        type: "file",
        ...at(item),
        size: item.size,
      });
    } else if (!isUpToDate(old, item)) {
      const differs = old.type !== "file"
        ? "T"
        : `${old.size !== item.size ? "s" : ""}${
          old.mtime !== item.mtime ? "t" : ""
        }`;
      changes.push({
        change: "update",
        type: "file",
        ...at(item),
        size: item.size,
        differs,
      });
    }
  }
  if (withDeletes) {
    // An entry of another type is deleted before the source's replaces it.
    const clashing = new Set(conflictsOf(source, target).map((i) => i.path));
    const names = new Set(
      source.map((item) => item.path).filter((path) => !clashing.has(path)),
    );
    for (const item of byPath(target)) {
      if (item.path !== "" && !names.has(item.path)) {
        changes.push({ change: "delete", type: item.type, path: item.path });
      }
    }
  }
  return changes;
}

/**
 * One change as rsync `-i` prints it: `<f+++++++++ a.txt` (sent), `>f.st......`
 * (received, size and time differ), `cd+++++++++ dir/`, `*deleting   old`.
 * `direction` is `<` for put, `>` for get.
 */
export function itemize(change: PlannedChange, direction: "<" | ">"): string {
  const name = change.type === "dir" ? `${change.path}/` : change.path;
  if (change.change === "delete") return `*deleting   ${name}`;
  const kind = change.type === "dir" ? "d" : "f";
  const lead = change.type === "dir" ? "c" : direction;
  if (change.change === "add") return `${lead}${kind}+++++++++ ${name}`;
  const flags = change.differs ?? "";
  const s = flags.includes("s") ? "s" : ".";
  const t = flags.includes("t") ? "t" : ".";
  const type = flags.includes("T") ? "+++++++++" : `.${s}${t}......`;
  return `${lead}${kind}${type} ${name}`;
}

function at(item: TreeItem): { path: string } {
  return { path: item.path };
}

/**
 * `items` ordered so that a folder comes right before all it holds: `/`
 * sorts below every other character.
 */
function byPath(items: readonly TreeItem[]): TreeItem[] {
  const keyed = items.map((item) => ({
    item,
    key: item.path.replaceAll("/", "\0"),
  }));
  keyed.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return keyed.map(({ item }) => item);
}
