/**
 * Out of descriptors, the server backs off and logs instead of spinning on
 * `accept`, and serves again once descriptors are free. Runs `fts serve`
 * under `ulimit -n 64` and fills that with silent connections.
 *
 * @module
 */

import { assertEquals, assertLess, assertStringIncludes } from "@std/assert";
import { MAIN, runFts } from "./helpers/cli.ts";
import { HOST, waitFor } from "./helpers/raw_peer.ts";

/**
 * CPU time the process has used, in clock ticks (1/100 s); read by `cat`
 * since reading `/proc` directly needs `--allow-all`.
 */
async function cpuTicks(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdout: "piped",
  }).output();
  const fields = new TextDecoder().decode(stdout)
    .replace(/^.*\) /, "").split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

Deno.test("out of descriptors, accept backs off with a log line instead of spinning, and serves again after", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const command =
    `ulimit -n 64 && exec "$0" run -A "$1" serve "$2" --host ${HOST} --port 0 --login-timeout 3`;
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
    await waitFor(
      "an accept failure in the log",
      () => log.join("").includes("accept failed"),
    );
    const before = await cpuTicks(child.pid);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // A spinning accept loop would use the whole second.
    assertLess(await cpuTicks(child.pid) - before, 50);
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
