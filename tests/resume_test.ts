/**
 * Interrupted transfers resume, with real processes and real SIGKILLs: the
 * rerun moves only what was missing, the result is byte-identical, and a
 * damaged partial or a changed source is never spliced into the result.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import {
  randomFile,
  runFts,
  type ServeProcess,
  sha256File,
  spawnFts,
  startServe,
  waitForPartial,
} from "./helpers/cli.ts";

const SIZE = 24 * 1024 * 1024;
// Slow enough to be caught part-way, fast enough for a short test.
const RATE = ["--limit-rate", "12M"];

async function withServer(
  fn: (
    ctx: { root: string; work: string; serve: () => ServeProcess },
  ) => Promise<void>,
): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const serve = await startServe(root);
  let log = "";
  try {
    await fn({ root, work, serve: () => serve });
  } finally {
    log = (await serve.stop()).log;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
  return log;
}

async function killAt(
  child: Deno.ChildProcess,
  dir: string,
  match: (name: string) => boolean,
  bytes: number,
): Promise<void> {
  try {
    await waitForPartial(dir, match, bytes);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

const staged = (root: string) => join(root, ".fts", "partial");
const anyName = () => true;

/** Parses the server log lines for `op` on `path`: bytes moved and resume offset. */
function logged(
  log: string,
  op: string,
  path: string,
): { bytes: number; resumedAt: number }[] {
  const pattern = new RegExp(
    `${op} "${path}" (\\d+)B \\S+ ok(?:, resumed at (\\d+))?`,
    "g",
  );
  return [...log.matchAll(pattern)].map((m) => ({
    bytes: Number(m[1]),
    resumedAt: Number(m[2] ?? 0),
  }));
}

Deno.test("put killed at 30% and at 60% resumes and moves only the missing bytes", async () => {
  const log = await withServer(async ({ root, work, serve }) => {
    const source = join(work, "big.bin");
    await randomFile(source, SIZE);
    await Deno.writeTextFile(join(root, "big.bin"), "previous version");
    const address = serve().address;
    for (const fraction of [0.3, 0.6]) {
      const child = spawnFts(["connect", address, "put", source, ...RATE]);
      await killAt(child, staged(root), anyName, SIZE * fraction);
      assertEquals(
        await Deno.readTextFile(join(root, "big.bin")),
        "previous version",
      );
      const ls = await runFts(["connect", address, "ls", "--json"]);
      assertEquals(JSON.parse(ls.stdout).map((e: { name: string }) => e.name), [
        "big.bin",
      ]);
    }
    const rerun = await runFts(["connect", address, "put", source]);
    assertEquals(rerun.code, 0, rerun.stderr);
    assertMatch(
      rerun.stderr,
      /resuming "big\.bin" at \d+\.\d MiB of 24\.0 MiB/,
    );
    assertEquals(
      await sha256File(join(root, "big.bin")),
      await sha256File(source),
    );
    assertEquals([...Deno.readDirSync(staged(root))].length, 0);
  });
  const puts = logged(log, "put", "big.bin");
  assertEquals(puts.length, 1);
  assert(puts[0].resumedAt >= SIZE * 0.6, `resumed at ${puts[0].resumedAt}`);
  assertEquals(puts[0].bytes + puts[0].resumedAt, SIZE);
});

Deno.test("get killed at 30% and at 60% resumes and moves only the missing bytes", async () => {
  const log = await withServer(async ({ root, work, serve }) => {
    const remote = join(root, "big.bin");
    await randomFile(remote, SIZE);
    const target = join(work, "big.bin");
    await Deno.writeTextFile(target, "previous version");
    const address = serve().address;
    const partial = (name: string) => name.startsWith(".fts-partial-");
    for (const fraction of [0.3, 0.6]) {
      const child = spawnFts([
        "connect",
        address,
        "get",
        "big.bin",
        target,
        ...RATE,
      ]);
      await killAt(child, work, partial, SIZE * fraction);
      assertEquals(await Deno.readTextFile(target), "previous version");
    }
    const rerun = await runFts(["connect", address, "get", "big.bin", target]);
    assertEquals(rerun.code, 0, rerun.stderr);
    assertMatch(
      rerun.stderr,
      /resuming "big\.bin" at \d+\.\d MiB of 24\.0 MiB/,
    );
    assertEquals(await sha256File(target), await sha256File(remote));
    assertEquals([...Deno.readDirSync(work)].map((e) => e.name), ["big.bin"]);
  });
  const gets = logged(log, "get", "big.bin");
  const last = gets.at(-1)!;
  assert(last.resumedAt >= SIZE * 0.6, `resumed at ${last.resumedAt}`);
  assertEquals(last.bytes + last.resumedAt, SIZE);
});

Deno.test("an upload cut off by a server SIGKILL resumes after the server restarts", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  let serve = await startServe(root);
  try {
    const source = join(work, "big.bin");
    await randomFile(source, SIZE);
    const client = spawnFts(["connect", serve.address, "put", source, ...RATE]);
    await waitForPartial(staged(root), anyName, SIZE * 0.4);
    await serve.stop("SIGKILL");
    assertEquals((await client.status).code, 1);
    serve = await startServe(root);
    const rerun = await runFts(["connect", serve.address, "put", source]);
    assertEquals(rerun.code, 0, rerun.stderr);
    assertStringIncludes(rerun.stderr, 'resuming "big.bin"');
    assertEquals(
      await sha256File(join(root, "big.bin")),
      await sha256File(source),
    );
  } finally {
    await serve.stop();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("a flipped byte in a staged partial is caught and the result is still correct", async () => {
  await withServer(async ({ root, work, serve }) => {
    const source = join(work, "big.bin");
    await randomFile(source, SIZE);
    const address = serve().address;
    const child = spawnFts(["connect", address, "put", source, ...RATE]);
    await killAt(child, staged(root), anyName, SIZE * 0.5);
    const [partial] = [...Deno.readDirSync(staged(root))];
    using file = await Deno.open(join(staged(root), partial.name), {
      read: true,
      write: true,
    });
    const byte = new Uint8Array(1);
    await file.seek(1000, Deno.SeekMode.Start);
    await file.read(byte);
    byte[0] ^= 0xff;
    await file.seek(1000, Deno.SeekMode.Start);
    await file.write(byte);
    const rerun = await runFts(["connect", address, "put", source]);
    assertEquals(rerun.code, 0, rerun.stderr);
    assertStringIncludes(rerun.stderr, "starting over");
    assertEquals(
      await sha256File(join(root, "big.bin")),
      await sha256File(source),
    );
  });
});

Deno.test("a source changed after the interruption starts over and matches the new source", async () => {
  await withServer(async ({ root, work, serve }) => {
    const source = join(work, "big.bin");
    await randomFile(source, SIZE);
    const address = serve().address;
    const child = spawnFts(["connect", address, "put", source, ...RATE]);
    await killAt(child, staged(root), anyName, SIZE * 0.4);
    // Same size and modification time, other bytes: only the prefix hash can tell.
    const before = await Deno.stat(source);
    await randomFile(source, SIZE);
    await Deno.utime(source, before.atime!, before.mtime!);
    const rerun = await runFts(["connect", address, "put", source]);
    assertEquals(rerun.code, 0, rerun.stderr);
    assertStringIncludes(rerun.stderr, "starting over");
    assertEquals(
      await sha256File(join(root, "big.bin")),
      await sha256File(source),
    );
  });
});

Deno.test("--no-resume starts over even when a partial exists", async () => {
  await withServer(async ({ root, work, serve }) => {
    const source = join(work, "big.bin");
    await randomFile(source, SIZE);
    const address = serve().address;
    const child = spawnFts(["connect", address, "put", source, ...RATE]);
    await killAt(child, staged(root), anyName, SIZE * 0.3);
    const rerun = await runFts([
      "connect",
      address,
      "put",
      source,
      "--no-resume",
    ]);
    assertEquals(rerun.code, 0, rerun.stderr);
    assert(!rerun.stderr.includes("resuming"));
    assertEquals(
      await sha256File(join(root, "big.bin")),
      await sha256File(source),
    );
  });
});
