/**
 * WebDAV compliance with litmus (Debian's `litmus`): every group (basic,
 * copymove, props, locks, http) must pass against a live server. Reported
 * as ignored when litmus is not installed (a failure under CI=true).
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { run, startHttpServer } from "./helpers/http.ts";
import { needsProgram } from "./helpers/prerequisite.ts";

/** Passed and failed counts per group from litmus's summary lines. */
function litmusSummary(output: string): Map<string, [number, number]> {
  const groups = new Map<string, [number, number]>();
  const pattern =
    /<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed/g;
  for (const m of output.matchAll(pattern)) {
    groups.set(m[1], [Number(m[3]), Number(m[4])]);
  }
  return groups;
}

Deno.test({
  name:
    "litmus passes every WebDAV group: basic, copymove, props, locks, http (needs litmus)",
  ignore: needsProgram("litmus"),
}, async () => {
  const s = await startHttpServer();
  // litmus writes debug.log and child.log into its working folder.
  const cwd = await Deno.makeTempDir({ prefix: "fts-litmus-" });
  try {
    const result = await run("litmus", ["-k", `${s.url}/`], {
      allowFail: true,
      timeoutMs: 120_000,
      cwd,
    });
    const output = result.stdout + result.stderr;
    const groups = litmusSummary(output);
    assertEquals(
      [...groups.keys()],
      ["basic", "copymove", "props", "locks", "http"],
      output,
    );
    for (const [group, [passed, failed]] of groups) {
      assertEquals(failed, 0, `${group}: ${failed} failed\n${output}`);
      assert(passed > 0, group);
    }
    assertEquals(result.code, 0, output);
  } finally {
    await s.cleanup();
    await Deno.remove(cwd, { recursive: true });
  }
});
