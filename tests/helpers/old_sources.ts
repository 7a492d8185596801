/**
 * Test helper: the sources of an earlier commit of this repository, for
 * tests that run a real older peer against the current one.
 *
 * @module
 */

import { assert } from "@std/assert";
import { fromFileUrl, join } from "@std/path";
import { type RunOptions, runProgram, type RunResult } from "./cli.ts";

/** The last commit before XXH3-128 and zstd (round 1). */
export const ROUND_ONE = "c94384e";

const REPO = fromFileUrl(new URL("../..", import.meta.url));

/** Extracts the sources of `commit` into a new temporary folder. */
export async function sourcesOf(commit: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `fts-${commit}-` });
  const archive = new Deno.Command("git", {
    args: ["-C", REPO, "archive", "--format=tar", commit],
    stdout: "piped",
  }).spawn();
  const untar = new Deno.Command("tar", {
    args: ["-x", "-C", dir],
    stdin: "piped",
  }).spawn();
  await archive.stdout.pipeTo(untar.stdin);
  assert((await archive.status).success, "git archive failed");
  assert((await untar.status).success, "tar failed");
  return dir;
}

/**
 * Runs `fts connect ADDRESS ARGS...` of the older build in `sources` to
 * completion.
 */
export async function connectOlder(
  sources: string,
  address: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return await runProgram(
    Deno.execPath(),
    ["run", "-A", join(sources, "main.ts"), "connect", address, ...args],
    { ...options, env: { NO_COLOR: "1", ...options.env } },
  );
}
