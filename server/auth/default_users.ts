/**
 * The users file `fts serve` and `fts user` use when `--users` names none:
 * `users` in the configuration folder. A server finds it there only once
 * `fts user add` has made it, so a server nobody set up stays open.
 *
 * @module
 */

import { join } from "@std/path";
import { configDir } from "../../config/config_dir.ts";

/** `users` in the configuration folder, or undefined without one. */
export function defaultUsersFile(): string | undefined {
  try {
    return join(configDir(), "users") as string;
  } catch {
    return undefined;
  }
}

/** The default users file when it exists (the server then asks for logins). */
export async function existingDefaultUsersFile(): Promise<string | undefined> {
  const file = defaultUsersFile();
  if (file === undefined) return undefined;
  const info = await Deno.stat(file).catch(() => null);
  return info?.isFile ? file : undefined;
}
