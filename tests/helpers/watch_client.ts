/**
 * Test helper: `fts connect ADDRESS watch --json` running in the background,
 * its change lines and what it says on stderr.
 *
 * @module
 */

import { MAIN } from "./cli.ts";
import { LineStream } from "./line_stream.ts";

/** A running `watch --json`. */
export interface WatchClient {
  /** The change lines (JSON). */
  out: LineStream;
  /** What the client says on stderr (the `watching` line first). */
  err: LineStream;
  /** Ends it and waits until it has gone. */
  stop(): Promise<void>;
}

/** Starts `fts connect ADDRESS watch --json` and waits for its `watching` line. */
export async function startWatch(address: string): Promise<WatchClient> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "connect", address, "watch", "--json"],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new LineStream(child.stdout);
  const err = new LineStream(child.stderr);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Gone already.
    }
    await child.status;
    await Promise.all([out.done, err.done]);
  };
  try {
    await err.waitFor((line) => line.startsWith("watching"), 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { out, err, stop };
}
