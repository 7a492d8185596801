/**
 * Live mirror (`--watch`): not yet.
 *
 * @module
 */
import type { MirrorContext } from "./mirror.ts";

/** Runs a live mirror until Ctrl-C. */
export function liveMirror(
  _direction: "put" | "get",
  _source: string,
  _target: string,
  _context: MirrorContext,
): Promise<void> {
  return Promise.reject(new Error("--watch is not built yet"));
}
