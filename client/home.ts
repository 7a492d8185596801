/**
 * `~` in local paths the shell is given, as a shell expands it.
 *
 * @module
 */

import { UsageError } from "../cli/usage_error.ts";

/** `~` and `~/...` name the home folder, as in a shell. */
export function expandHome(path: string): string {
  if (path !== "~" && !path.startsWith("~/")) return path;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (home === undefined) throw new UsageError("no home folder (set HOME)");
  return home + path.slice(1);
}
