/**
 * The shell's commands on the local side: `lls`, `lmkdir` and `!command`,
 * as sftp has them.
 *
 * @module
 */

import { join } from "@std/path";
import { type Entry, FtsError, NotFoundError } from "../protocol/mod.ts";
import { UsageError } from "../cli/usage_error.ts";
import { formatListing } from "./commands.ts";
import { expandHome } from "./home.ts";
import { localError } from "./local_errors.ts";

/** `lls [PATH]`: the local folder (or file) listed as `ls` lists. */
export async function localListing(args: string[]): Promise<string> {
  if (args.length > 1) throw new UsageError("usage: lls [PATH]");
  const path = expandHome(args[0] ?? ".");
  const action = `list local "${args[0] ?? "."}"`;
  try {
    const info = await Deno.stat(path);
    if (!info.isDirectory) return formatListing([entryOf(path, info)]);
    const entries: Entry[] = [];
    for await (const item of Deno.readDir(path)) {
      const full = join(path, item.name);
      const stat = await Deno.lstat(full).catch(() => null);
      if (stat) entries.push({ ...entryOf(full, stat), name: item.name });
    }
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return formatListing(entries);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError("no such local file or folder", { action });
    }
    throw localError(error, action);
  }
}

function entryOf(path: string, info: Deno.FileInfo): Entry {
  return {
    name: path,
    type: info.isDirectory ? "dir" : info.isSymlink ? "symlink" : "file",
    size: info.size,
    mtime: info.mtime?.getTime() ?? 0,
    mode: info.mode === null ? null : info.mode & 0o777,
  };
}

/** `lmkdir PATH...`: local folders and their parents. */
export async function localMkdir(args: string[]): Promise<void> {
  if (args.length === 0) throw new UsageError("usage: lmkdir PATH...");
  for (const arg of args) {
    try {
      await Deno.mkdir(expandHome(arg), { recursive: true });
    } catch (error) {
      throw localError(error, `create local folder "${arg}"`);
    }
  }
}

/** A local command (`!ls -l`) failed or could not start. */
export class LocalCommandError extends FtsError {}

/** How long to wait for fts's own copy of a Ctrl-C that ended a command. */
const SIGNAL_WAIT_MS = 1000;

/** Resolves when `promise` does or after `ms`, whichever comes first. */
async function settle(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}

/**
 * `!COMMAND`: runs COMMAND in the local shell ($SHELL, else sh), on the
 * terminal; `!` alone opens that shell. Fails when it exits non-zero, so a
 * batch stops there. In a batch (`batch`) it gets no stdin: that holds the
 * batch's next commands.
 */
export async function runLocalCommand(
  command: string,
  batch: boolean,
): Promise<void> {
  const shell = Deno.env.get("SHELL") || "/bin/sh";
  const args = command.trim() === "" ? [] : ["-c", command];
  const action = `run "!${command.trim()}"`;
  let status: Deno.CommandStatus;
  // Ctrl-C is the command's to handle: fts itself stays.
  let heard: () => void = () => {};
  const interrupted = new Promise<void>((resolve) => heard = resolve);
  const ignore = () => heard();
  Deno.addSignalListener("SIGINT", ignore);
  try {
    status = await new Deno.Command(shell, {
      args,
      stdin: batch ? "null" : "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    // The terminal's Ctrl-C reaches fts too, but may be handled after the
    // command's exit is: with the listener gone by then, it would end fts.
    if (status.signal === "SIGINT") await settle(interrupted, SIGNAL_WAIT_MS);
  } catch (error) {
    throw localError(error, action);
  } finally {
    Deno.removeSignalListener("SIGINT", ignore);
  }
  if (status.signal === "SIGINT") {
    throw new LocalCommandError("interrupted", { action });
  }
  if (!status.success) {
    throw new LocalCommandError(`it exited with status ${status.code}`, {
      action,
    });
  }
}
