/**
 * Test helper: a local process that races the server by flipping a folder
 * inside the served root between a real folder and a symlink to outside,
 * as fast as the kernel allows. `renameat2(RENAME_EXCHANGE)` swaps `name`
 * and `name.link` atomically, so at every instant `name` is one or the
 * other, never missing.
 *
 * Run as a script: `deno run -A storage_flipper.ts DIR NAME MS` (it prints
 * the number of flips made); from a test, use {@linkcode startFlipper}.
 *
 * @module
 */

import { fromFileUrl } from "@std/path";

const RENAME_EXCHANGE = 2;
const AT_FDCWD = -100;

/** A running flipper. */
export interface Flipper {
  /** Waits for its end and returns how many flips it made. */
  done: Promise<number>;
  /** Stops it early. */
  stop(): void;
}

/**
 * Makes `dir/name.link` a symlink to `target` (next to the real folder
 * `dir/name`) and flips the two for `ms` milliseconds in a subprocess.
 * When it ends, `dir/name` is the real folder again.
 */
export async function startFlipper(
  dir: string,
  name: string,
  target: string,
  ms: number,
): Promise<Flipper> {
  await Deno.symlink(target, `${dir}/${name}.link`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fromFileUrl(import.meta.url),
      dir,
      name,
      String(ms),
    ],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const done = (async () => {
    const output = await child.output();
    const flips = Number(new TextDecoder().decode(output.stdout).trim());
    // Leave the real folder under its name (unless a test removed it).
    const info = await Deno.lstat(`${dir}/${name}`).catch(() => null);
    if (info?.isSymlink) exchange(`${dir}/${name}`, `${dir}/${name}.link`);
    await Deno.remove(`${dir}/${name}.link`).catch(() => {});
    return flips;
  })();
  // Starting Deno takes a while; the race begins with the first flip.
  for (let waited = 0; waited < 10_000; waited += 2) {
    const info = await Deno.lstat(`${dir}/${name}`).catch(() => null);
    if (info?.isSymlink) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return {
    done,
    stop: () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Ended already.
      }
    },
  };
}

type Renameat2 = (
  fromDir: number,
  from: Uint8Array<ArrayBuffer>,
  toDir: number,
  to: Uint8Array<ArrayBuffer>,
  flags: number,
) => number;

let renameat2: Renameat2 | undefined;

/** Swaps two names atomically; false when one is gone. */
function exchange(a: string, b: string): boolean {
  if (!renameat2) {
    const lib = Deno.dlopen("libc.so.6", {
      renameat2: {
        parameters: ["i32", "buffer", "i32", "buffer", "u32"],
        result: "i32",
      },
    });
    renameat2 = lib.symbols.renameat2 as Renameat2;
  }
  const encoder = new TextEncoder();
  const ca = new Uint8Array([...encoder.encode(a), 0]);
  const cb = new Uint8Array([...encoder.encode(b), 0]);
  return renameat2!(AT_FDCWD, ca, AT_FDCWD, cb, RENAME_EXCHANGE) === 0;
}

if (import.meta.main) {
  const [dir, name, ms] = Deno.args;
  const a = `${dir}/${name}`;
  const b = `${dir}/${name}.link`;
  const deadline = Date.now() + Number(ms);
  let flips = 0;
  let stop = false;
  Deno.addSignalListener("SIGTERM", () => stop = true);
  while (!stop && Date.now() < deadline) {
    for (let i = 0; i < 200; i++) {
      if (!exchange(a, b)) stop = true; // the test removed them: done
      else flips++;
    }
    // Let the signal listener run now and then.
    if (flips % 2000 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  if (flips % 2 === 1) exchange(a, b);
  console.log(flips);
}
