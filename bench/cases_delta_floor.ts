/**
 * The floor (`delta_floor.ts`: the smallest programs doing a delta put) as
 * a contender of the shaped delta cases of `cases_delta.ts`, timed like
 * fts on the same link.
 *
 * @module
 */

import type { Contender, RunOutcome } from "./alternate.ts";
import { type FtsLauncher, runClient } from "./fts_runner.ts";
import { processCpuSeconds } from "./memory.ts";
import type { ShapedNetns } from "./netns.ts";
import { run, sleep, startBackground } from "./process.ts";

/**
 * The floor as a contender of a shaped `put` case: a receiver holding
 * `oldAt` in namespace `ns` (started here, stopped by the returned `stop`)
 * and a sender of `next` per run, timed like fts's client (wall and CPU);
 * the receiver's CPU is counted as the server's. `measure` wraps each
 * timed run (the case counts the link's bytes with it).
 */
export async function floorContender(
  ns: ShapedNetns,
  next: string,
  oldAt: string,
  prepare: () => Promise<void>,
  verify: () => Promise<void>,
  timeoutMs: number,
  measure: (timed: () => Promise<RunOutcome>) => Promise<RunOutcome> = (
    timed,
  ) => timed(),
): Promise<{ contender: Contender; stop: () => Promise<void> }> {
  const program = new URL("./delta_floor.ts", import.meta.url).pathname;
  const deno = Deno.execPath();
  const port = 40000 + (Deno.pid % 20000);
  const launcher: FtsLauncher = ns.wrap({
    description: `${deno} run -A ${program}`,
    command: deno,
    prefix: ["run", "-A", program],
    entryFile: program,
  });
  const receiver = startBackground(launcher.command, [
    ...launcher.prefix,
    "receive",
    oldAt,
    String(port),
  ], { timeoutMs: 3_600_000 });
  for (let i = 0; i < 300; i++) {
    const up = await run("ip", [
      "netns",
      "exec",
      ns.name,
      "sh",
      "-c",
      `ss -ltn | grep -q 127.0.0.1:${port}`,
    ], { timeoutMs: 5_000 }).catch(() => null);
    if (up?.success) break;
    await sleep(100);
  }
  const contender: Contender = {
    name: "floor (bench/delta_floor.ts)",
    fts: false,
    description:
      `${launcher.description} send ${next} (receiver: receive ${oldAt})`,
    prepare,
    run: () =>
      measure(async () => {
        const before = await processCpuSeconds(receiver.pid);
        const result = await runClient(
          launcher,
          ["send", next, String(port)],
          timeoutMs,
        );
        if (!result.success) throw new Error(result.stderr.trim());
        const after = await processCpuSeconds(receiver.pid);
        return {
          seconds: result.seconds,
          clientCpuSeconds: result.cpuSeconds,
          clientPeakKiB: result.peakKiB,
          serverCpuSeconds: before === null || after === null
            ? null
            : after - before,
        };
      }),
    verify,
  };
  return { contender, stop: async () => void await receiver.stop() };
}
