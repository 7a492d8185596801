/**
 * A slow link for the compression cases: a fresh network namespace whose
 * loopback is shaped with `tc qdisc add dev lo root tbf rate 100mbit burst
 * 256kb latency 50ms` (only tbf exists in this kernel, not netem). Server
 * and client run inside it through `ip netns exec`, which execs the command
 * in place, so process ids (and /proc CPU times) stay those of fts.
 *
 * @module
 */

import type { FtsLauncher } from "./fts_runner.ts";
import { cleanup, run } from "./process.ts";

/** A shaped namespace; `remove` deletes it. */
export interface ShapedNetns {
  name: string;
  /** The link rate, for the report. */
  rate: string;
  /** `launcher` run inside the namespace. */
  wrap(launcher: FtsLauncher): FtsLauncher;
  remove(): Promise<void>;
}

const RATE = "100mbit";

/**
 * Creates the namespace, or returns a note saying why it cannot (not
 * root, no `ip`/`tc`, or the kernel refused).
 */
export async function createShapedNetns(): Promise<ShapedNetns | string> {
  if (Deno.uid() !== 0) return "needs root for a network namespace";
  const name = `fts-bench-${Deno.pid}`;
  const step = async (args: string[]): Promise<string | null> => {
    const result = await run(args[0], args.slice(1), { timeoutMs: 10_000 })
      .catch((error) => ({ success: false, stderr: String(error) }));
    return result.success ? null : `${args.join(" ")}: ${result.stderr.trim()}`;
  };
  const failed = await step(["ip", "netns", "add", name]);
  if (failed) return failed;
  const remove = async () => {
    // During clean-up `run` starts nothing more, so spawn directly.
    await new Deno.Command("ip", { args: ["netns", "del", name] }).output()
      .catch(() => {});
  };
  const unregister = cleanup.addAction(remove);
  const exec = ["ip", "netns", "exec", name];
  for (
    const args of [
      [...exec, "ip", "link", "set", "lo", "up"],
      [...exec, "tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", RATE],
    ]
  ) {
    if (args.at(-1) === RATE) {
      args.push("burst", "256kb", "latency", "50ms");
    }
    const error = await step(args);
    if (error) {
      unregister();
      await remove();
      return error;
    }
  }
  return {
    name,
    rate: RATE,
    wrap: (launcher) => ({
      description: `${exec.join(" ")} ${launcher.description}`,
      command: "ip",
      prefix: [...exec.slice(1), launcher.command, ...launcher.prefix],
      entryFile: launcher.entryFile,
    }),
    remove: async () => {
      unregister();
      await remove();
    },
  };
}
