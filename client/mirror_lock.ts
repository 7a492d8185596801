/**
 * One live mirror per target on this machine: a lock file in the
 * configuration folder, named after the target and holding the process id.
 * A second live mirror into the same target is refused while the first
 * runs; a lock whose process is gone is taken over. Mirrors from other
 * machines cannot be seen this way (docs/mirror.md says so).
 *
 * @module
 */

import { configDir } from "../config/config_dir.ts";
import { FtsError } from "../protocol/mod.ts";

/** Another live mirror writes to the same target. */
export class MirrorLockedError extends FtsError {}

/**
 * Takes the lock for target `key` (e.g. `put 127.0.0.1:7373 site`);
 * returns its release, or null when there is no configuration folder to
 * keep locks in.
 *
 * @throws {MirrorLockedError} when a live mirror holds it.
 */
export async function lockTarget(
  key: string,
  action: string,
): Promise<(() => void) | null> {
  let folder: string;
  try {
    folder = `${configDir()}/live`;
    Deno.mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch {
    return null;
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)),
  );
  const name = Array.from(
    digest.subarray(0, 12),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const path = `${folder}/${name}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      Deno.writeTextFileSync(path, `${Deno.pid}\n${key}\n`, {
        createNew: true,
      });
      return () => Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) return null;
    }
    const pid = Number(Deno.readTextFileSync(path).split("\n")[0]);
    if (alive(pid)) {
      throw new MirrorLockedError(
        `another live mirror (process ${pid}) already writes to this target`,
        { action },
      );
    }
    Deno.removeSync(path);
  }
  return null;
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (Deno.build.os !== "linux") return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
