/**
 * Live-mirror latency, one run on this machine: how long after a local
 * save the file is in the server's folder with `fts put -r --watch`,
 * against lsyncd driving local rsync with `delay = 1` (Debian's lsyncd),
 * edits alternating between the two; then how long a local delete takes to
 * show remotely, and how long after a `kill -9` and restart of the server
 * a change made meanwhile arrives.
 *
 * Usage: `deno run -A bench/mirror_latency.ts [--edits N]` (needs lsyncd
 * and rsync for the anchor; without lsyncd only fts is measured).
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { fromFileUrl, join } from "@std/path";

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const flags = parseArgs(Deno.args, { string: ["edits"] });
const EDITS = Number(flags.edits ?? 20);

/** Milliseconds until `check` passes (polled every 2 ms), at most 30 s. */
async function timeUntil(check: () => boolean): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > 30_000) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return performance.now() - start;
}

function read(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Lines of a child's stream, and a wait for one. */
async function waitLine(
  lines: string[],
  match: (line: string) => boolean,
): Promise<string> {
  await timeUntil(() => lines.some(match));
  return lines.find(match)!;
}

function collect(stream: ReadableStream<Uint8Array>): string[] {
  const lines: string[] = [];
  (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })().catch(() => {});
  return lines;
}

function serve(root: string, port = 0) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      root,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--quiet",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  return { child, lines: collect(child.stdout) };
}

function stats(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return `${name.padEnd(34)} n=${sorted.length} min ${
    sorted[0].toFixed(0)
  } ms, median ${at(0.5).toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms, max ${
    sorted.at(-1)!.toFixed(0)
  } ms`;
}

const work = await Deno.makeTempDir({ prefix: "fts-mirror-bench-" });
const children: Deno.ChildProcess[] = [];
try {
  const root = join(work, "served");
  const src = join(work, "src-fts");
  Deno.mkdirSync(src, { recursive: true });
  Deno.writeTextFileSync(join(src, "edit.txt"), "start");
  let server = serve(root);
  children.push(server.child);
  const port = Number(
    /:(\d+)/.exec(
      await waitLine(server.lines, (l) => l.startsWith("fts listening")),
    )![1],
  );
  const client = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "connect",
      `127.0.0.1:${port}`,
      "put",
      "-r",
      "--watch",
      "--delete",
      `${src}/`,
      "site",
    ],
    env: { FTS_CONFIG_DIR: join(work, "config") },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  children.push(client);
  const clientLines = collect(client.stderr);
  await waitLine(clientLines, (l) => l.startsWith("following"));

  let lsyncd: Deno.ChildProcess | null = null;
  const lsrc = join(work, "src-lsyncd");
  const ldst = join(work, "dst-lsyncd");
  try {
    Deno.mkdirSync(lsrc);
    Deno.mkdirSync(ldst);
    Deno.writeTextFileSync(join(lsrc, "edit.txt"), "start");
    const config = join(work, "lsyncd.lua");
    Deno.writeTextFileSync(
      config,
      `settings { nodaemon = true }\nsync { default.rsync, source = "${lsrc}", target = "${ldst}", delay = 1 }\n`,
    );
    lsyncd = new Deno.Command("lsyncd", {
      args: [config],
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.push(lsyncd);
    await timeUntil(() => read(join(ldst, "edit.txt")) === "start");
  } catch (error) {
    console.log(
      `lsyncd not measured: ${error instanceof Error ? error.message : error}`,
    );
    lsyncd = null;
  }

  const fts: number[] = [];
  const anchor: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const text = `edit ${i} ${"x".repeat(i * 10)}`;
    Deno.writeTextFileSync(join(src, "edit.txt"), text);
    fts.push(await timeUntil(() => read(join(root, "site/edit.txt")) === text));
    if (lsyncd) {
      Deno.writeTextFileSync(join(lsrc, "edit.txt"), text);
      anchor.push(await timeUntil(() => read(join(ldst, "edit.txt")) === text));
    }
  }
  console.log(stats("fts put -r --watch: save to remote", fts));
  if (anchor.length > 0) console.log(stats("lsyncd (rsync, delay=1)", anchor));

  const deletes: number[] = [];
  for (let i = 0; i < 5; i++) {
    Deno.writeTextFileSync(join(src, `gone-${i}.txt`), "x");
    await timeUntil(() => read(join(root, `site/gone-${i}.txt`)) === "x");
    Deno.removeSync(join(src, `gone-${i}.txt`));
    deletes.push(
      await timeUntil(() => read(join(root, `site/gone-${i}.txt`)) === null),
    );
  }
  console.log(stats("fts: local delete to remote", deletes));

  const catchUps: number[] = [];
  for (let i = 0; i < 3; i++) {
    server.child.kill("SIGKILL");
    await server.child.status;
    Deno.writeTextFileSync(join(src, `down-${i}.txt`), "while down");
    server = serve(root, port);
    children.push(server.child);
    await waitLine(server.lines, (l) => l.startsWith("fts listening"));
    catchUps.push(
      await timeUntil(() =>
        read(join(root, `site/down-${i}.txt`)) === "while down"
      ),
    );
  }
  console.log(stats("fts: catch-up after kill -9 + restart", catchUps));
} finally {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await child.status;
  }
  await Deno.remove(work, { recursive: true });
}
