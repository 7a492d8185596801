/**
 * Where fts keeps its per-user configuration: the client's known hosts and the
 * server's generated certificate.
 *
 * @module
 */

import { join } from "@std/path";

/**
 * Returns the fts configuration directory.
 *
 * In order of preference: `$FTS_CONFIG_DIR`; on Windows `%APPDATA%\fts`;
 * elsewhere `$XDG_CONFIG_HOME/fts`, then `$HOME/.config/fts`. The directory is
 * not created. Needs `--allow-env`.
 *
 * @throws {Error} when none of those variables is set.
 */
export function configDir(): string {
  const explicit = nonEmptyEnv("FTS_CONFIG_DIR");
  if (explicit !== undefined) return explicit;
  if (Deno.build.os === "windows") {
    const appData = nonEmptyEnv("APPDATA");
    if (appData !== undefined) return join(appData, "fts") as string;
  } else {
    const xdg = nonEmptyEnv("XDG_CONFIG_HOME");
    if (xdg !== undefined) return join(xdg, "fts") as string;
  }
  const home = nonEmptyEnv("HOME") ?? nonEmptyEnv("USERPROFILE");
  if (home !== undefined) return join(home, ".config", "fts") as string;
  throw new Error(
    "cannot find the configuration directory: set FTS_CONFIG_DIR or HOME",
  );
}

function nonEmptyEnv(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}
