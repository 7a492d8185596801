/**
 * Small helpers on normalised remote paths (`a/b`, root `""`).
 *
 * @module
 */

/** The parent of `path` (`""` for a top-level name and for the root). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/** Whether `path` is `ancestor` or inside it. */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === "" || path === ancestor ||
    path.startsWith(`${ancestor}/`);
}
