/**
 * Test helper: `fts serve` in a subprocess with reduced powers, for the
 * storage tests that need them: without FFI (so the storage core runs its
 * checked fallback), or as root without the capabilities that let root
 * read anything (so permission bits stop the server as they stop a user).
 *
 * @module
 */

import { MAIN } from "./cli.ts";

/** How to restrict the server. */
export interface RestrictedServeOptions {
  /** Run without `--allow-ffi`: no libc, the checked fallback serves. */
  noFfi?: boolean;
  /** Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (needs root and setpriv). */
  dropDac?: boolean;
}

/** A restricted `fts serve` subprocess. */
export interface RestrictedServe {
  port: number;
  /** Kills the server and waits for it. */
  stop(): Promise<void>;
}

const DAC = "--bounding-set=-dac_override,-dac_read_search";

/**
 * Why the DAC capabilities cannot be dropped here, or null when they can:
 * only root has them, and `setpriv` (util-linux) drops them.
 */
export async function whyNoDacDrop(): Promise<string | null> {
  if (Deno.uid() !== 0) return "not root: permission bits apply anyway";
  try {
    const out = await new Deno.Command("setpriv", { args: [DAC, "true"] })
      .output();
    return out.success ? null : "setpriv cannot drop capabilities here";
  } catch {
    return "setpriv is not installed";
  }
}

/** Starts `fts serve ROOT` on 127.0.0.1, port 0, restricted as asked. */
export async function startRestrictedServe(
  root: string,
  options: RestrictedServeOptions,
): Promise<RestrictedServe> {
  const permissions = options.noFfi
    ? [
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-sys",
      "--allow-run",
    ]
    : ["-A"];
  const fts = [
    Deno.execPath(),
    "run",
    ...permissions,
    MAIN,
    "serve",
    root,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
  ];
  const [command, ...args] = options.dropDac
    ? ["setpriv", DAC, "--", ...fts]
    : fts;
  const child = new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await child.status;
  };
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  const deadline = setTimeout(() => reader.cancel(), 30_000);
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  clearTimeout(deadline);
  reader.cancel().catch(() => {});
  const port = Number(/^fts listening on 127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
  if (!(port > 0)) {
    await stop();
    throw new Error(`fts serve did not start: ${JSON.stringify(text)}`);
  }
  return { port, stop };
}
