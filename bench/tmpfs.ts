/**
 * Puts the benchmark's work folder on tmpfs, so single-file cases measure
 * the software rather than this machine's disk, whose synced writes swing
 * from 0.8 to 4 s per GiB with dirty-page writeback (see
 * ../shared/field-notes.md). fsync costs nothing there, so `--disk` keeps
 * the work folder on disk to measure the durable path.
 *
 * @module
 */

import { run } from "./process.ts";

/** Size of the tmpfs: the data plus a few copies of the 1 GiB file. */
const SIZE = "8g";

/**
 * Mounts a tmpfs on `dir` (which must be empty). Returns null when mounted,
 * else a note saying why not (not root, or mount failed), and the caller
 * runs on disk.
 */
export async function mountTmpfs(dir: string): Promise<string | null> {
  if (Deno.uid() !== 0) return "not root: ran on disk, not tmpfs";
  const result = await run(
    "mount",
    ["-t", "tmpfs", "-o", `size=${SIZE}`, "tmpfs", dir],
    { timeoutMs: 10_000 },
  );
  return result.success
    ? null
    : `mount -t tmpfs failed (${result.stderr.trim()}): ran on disk`;
}

/**
 * Unmounts the tmpfs on `dir` (its contents vanish with it). It runs during
 * clean-up, when `run` no longer starts children, so it spawns directly.
 */
export async function unmountTmpfs(dir: string): Promise<void> {
  // Lazy: a child still holding a file there must not keep the mount.
  await new Deno.Command("umount", { args: ["-l", dir], stderr: "null" })
    .output().catch(() => {});
}
