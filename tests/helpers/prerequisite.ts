/**
 * Test helper: what a test needs from the machine (a program, root for a
 * tmpfs, an S3 gateway). A test whose prerequisite is missing is registered
 * with `ignore:` so Deno reports it as ignored, never as passed; under
 * `CI=true`, where `.ci/run` must provide everything, a missing prerequisite
 * fails instead, so CI cannot turn green by skipping.
 *
 * @module
 */

/** True under `CI=true`: missing prerequisites fail instead of ignoring. */
function strict(): boolean {
  return Deno.env.get("CI") === "true";
}

/**
 * The `ignore:` flag for a test that needs `name`: false when `available`,
 * true (with one printed line) when not, and a thrown error under `CI=true`.
 */
export function prerequisite(name: string, available: boolean): boolean {
  if (available) return false;
  if (strict()) {
    throw new Error(
      `prerequisite missing under CI=true: ${name} (.ci/run must provide it)`,
    );
  }
  console.log(`ignored: needs ${name}, which this machine does not have`);
  return true;
}

/** True when `program` is on PATH. */
export function haveProgram(program: string): boolean {
  try {
    return new Deno.Command("sh", {
      args: ["-c", `command -v ${program}`],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/** True when a tmpfs can be mounted here (root, in a private namespace). */
export function canMountTmpfs(): boolean {
  try {
    return new Deno.Command("unshare", {
      args: ["-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/** The `ignore:` flag for a test that runs `program` (see {@link prerequisite}). */
export function needsProgram(program: string): boolean {
  return prerequisite(program, haveProgram(program));
}
