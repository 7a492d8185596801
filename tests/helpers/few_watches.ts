/**
 * Test helper: runs deno in a user namespace of its own whose inotify limit
 * is 5 watches (`/proc/sys/user/max_inotify_watches` is per namespace), so
 * a test can watch a tree larger than that and see the fallback.
 *
 * @module
 */

import { join } from "@std/path";

/** Whether `unshare -U -r` can lower the watch limit here. */
export function canLimitWatches(): boolean {
  try {
    const probe = new Deno.Command("unshare", {
      args: [
        "-U",
        "-r",
        "sh",
        "-c",
        "echo 5 > /proc/sys/user/max_inotify_watches",
      ],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return probe.success;
  } catch {
    return false;
  }
}

/**
 * A program and arguments to run deno through (its arguments follow), in
 * a namespace with 5 inotify watches; `cleanup` removes the script.
 */
export async function fewWatches(): Promise<
  { wrap: string[]; cleanup: () => Promise<void> }
> {
  const folder = await Deno.makeTempDir({ prefix: "fts-limited-" });
  const script = join(folder, "deno.sh");
  Deno.writeTextFileSync(
    script,
    `#!/bin/sh\necho 5 > /proc/sys/user/max_inotify_watches\nexec "${Deno.execPath()}" "$@"\n`,
  );
  Deno.chmodSync(script, 0o755);
  return {
    wrap: ["unshare", "-U", "-r", script],
    cleanup: () => Deno.remove(folder, { recursive: true }),
  };
}
