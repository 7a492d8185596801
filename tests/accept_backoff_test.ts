/**
 * Out of descriptors, the server backs off and logs instead of spinning on
 * `accept` (waits of 0.05 s doubling up to 2 s, read from its log lines, not
 * from a clock), and serves again once descriptors are free. Runs `fts
 * serve` under `ulimit -n 64` and fills that with silent connections.
 *
 * @module
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import { MAIN, runFts } from "./helpers/cli.ts";
import { HOST, waitFor } from "./helpers/raw_peer.ts";

/** The waits the log announced, in seconds, in order ("retrying in 0.05s"). */
function announcedWaits(log: string): number[] {
  return [...log.matchAll(/accept failed: .*; retrying in ([\d.]+)s/g)]
    .map((m) => Number(m[1]));
}

Deno.test("out of descriptors, accept backs off 0.05 s doubling up to 2 s, logging each wait, and serves again after", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const command =
    `ulimit -n 64 && exec "$0" run -A "$1" serve "$2" --host ${HOST} --port 0 --login-timeout 120`;
  const child = new Deno.Command("sh", {
    args: ["-c", command, Deno.execPath(), MAIN, root],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const log: string[] = [];
  const logDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void log.push(text) }),
  );
  const silent: Deno.TcpConn[] = [];
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const first = (await reader.read()).value ?? "";
    reader.releaseLock();
    const port = Number(/listening on [\d.]+:(\d+)/.exec(first)?.[1]);
    for (let i = 0; i < 60; i++) {
      silent.push(await Deno.connect({ hostname: HOST, port }));
    }
    // 0.05 + 0.1 + … + 1.6 s and two waits of 2 s: about 7 s of backing off.
    // The silent connections stay open (the login deadline is 120 s), so
    // no accept succeeds in between and resets the sequence.
    await waitFor(
      "eight accept failures in the log",
      () => announcedWaits(log.join("")).length >= 8,
      60_000,
    );
    assertEquals(
      announcedWaits(log.join("")).slice(0, 8),
      [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2, 2],
    );
    assertStringIncludes(log.join(""), "Too many open files");
    for (const conn of silent.splice(0)) conn.close();
    const listed = await runFts(["connect", `${HOST}:${port}`, "ls"], {
      timeoutMs: 20_000,
    });
    assertEquals(listed.code, 0, listed.stderr);
  } finally {
    for (const conn of silent) conn.close();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await logDone.catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
});
