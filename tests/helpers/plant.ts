/**
 * Test helper: writes a file of a test tree with the mode and time a test
 * wants to see again after a transfer.
 *
 * @module
 */

import { join } from "@std/path";

/** Writes `data` at `path` under `root` (parents created) with `mode` and `mtime`. */
export function plant(
  root: string,
  path: string,
  data: Uint8Array | string,
  mode = 0o644,
  mtime: Date = new Date("2023-05-06T07:08:09.123Z"),
): void {
  const host = join(root, path);
  Deno.mkdirSync(join(host, ".."), { recursive: true });
  if (typeof data === "string") Deno.writeTextFileSync(host, data);
  else Deno.writeFileSync(host, data);
  Deno.chmodSync(host, mode);
  Deno.utimeSync(host, mtime, mtime);
}
