/**
 * Load: 200 clients at once, each putting, getting and listing with every
 * byte checked; 500 idle connections held while a normal client works; and
 * afterwards the process's descriptors are back to where they started.
 * Raises this process's descriptor limit (with `prlimit`) when it is too low
 * for that.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import { upload } from "../client/upload.ts";
import { randomBytes } from "./helpers/cli.ts";
import {
  HELLO,
  HOST,
  messageBytes,
  RawPeer,
  waitFor,
} from "./helpers/raw_peer.ts";
import { openDescriptors } from "./helpers/descriptors.ts";
import { startServer } from "./helpers/server.ts";

const quiet: Reporter = { info() {}, progress: () => null };
const TRANSFER = { resume: true, noClobber: false, verify: true };
/** Descriptors the tests need at most, with room to spare. */
const NEEDED_FDS = 4096;

/** Raises this process's soft descriptor limit to `wanted` if it is lower. */
async function ensureDescriptorLimit(wanted: number): Promise<void> {
  const shown = await new Deno.Command("sh", {
    args: ["-c", "ulimit -n"],
    stdout: "piped",
  }).output();
  const current = new TextDecoder().decode(shown.stdout).trim();
  if (current === "unlimited" || Number(current) >= wanted) return;
  const raised = await new Deno.Command("prlimit", {
    args: ["--pid", String(Deno.pid), `--nofile=${wanted}:`],
  }).output();
  assert(raised.success, `cannot raise the descriptor limit to ${wanted}`);
}

/** One client's work: put its file, get a shared one, list; all checked. */
async function mixedClient(
  port: number,
  local: string,
  root: string,
  index: number,
  shared: Uint8Array,
): Promise<void> {
  const connection = await Connection.open({ hostname: HOST, port });
  try {
    const mine = randomBytes(4096 + (index * 7919) % 150_000);
    const source = join(local, `in-${index}.bin`);
    await Deno.writeFile(source, mine);
    await upload(connection, source, `up/${index}.bin`, TRANSFER, quiet);
    assertEquals(await Deno.readFile(join(root, "up", `${index}.bin`)), mine);
    const back = join(local, `out-${index}.bin`);
    await download(connection, "shared.bin", back, TRANSFER, quiet);
    assertEquals(await Deno.readFile(back), shared);
    const names = (await connection.list("up")).map((entry) => entry.name);
    assert(names.includes(`${index}.bin`));
  } finally {
    await connection.close();
  }
}

Deno.test("200 clients at once put, get and list with every byte intact, and descriptors return to the baseline", async () => {
  await ensureDescriptorLimit(NEEDED_FDS);
  const { server, root, port, cleanup } = await startServer({
    maxConnections: 1000,
  });
  const local = await Deno.makeTempDir({ prefix: "fts-load-" });
  try {
    const shared = randomBytes(300_000);
    await Deno.writeFile(join(root, "shared.bin"), shared);
    await Deno.mkdir(join(root, "up"));
    const baseline = await openDescriptors();
    await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) => mixedClient(port, local, root, i, shared),
      ),
    );
    assertEquals(Array.from(Deno.readDirSync(join(root, "up"))).length, 200);
    await waitFor("every session to end", () => server.connections === 0);
    await waitFor(
      "descriptors back to the baseline",
      async () => await openDescriptors() <= baseline,
    );
  } finally {
    await cleanup();
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("500 idle connections held open do not keep a normal client from working", async () => {
  await ensureDescriptorLimit(NEEDED_FDS);
  const { server, root, port, cleanup } = await startServer({
    maxConnections: 1000,
  });
  const local = await Deno.makeTempDir({ prefix: "fts-load-" });
  const idle: RawPeer[] = [];
  try {
    const baseline = await openDescriptors();
    for (let i = 0; i < 500; i++) {
      const peer = await RawPeer.connect(port);
      await peer.send(messageBytes(HELLO));
      idle.push(peer);
    }
    await waitFor("500 sessions", () => server.connections === 500, 10_000);
    const shared = randomBytes(200_000);
    await Deno.writeFile(join(root, "shared.bin"), shared);
    await Deno.mkdir(join(root, "up"));
    await mixedClient(port, local, root, 1, shared);
    assertEquals(server.connections, 500);
    for (const peer of idle.splice(0)) peer.close();
    await waitFor("every session to end", () => server.connections === 0);
    await waitFor(
      "descriptors back to the baseline",
      async () => await openDescriptors() <= baseline,
    );
  } finally {
    for (const peer of idle) peer.close();
    await cleanup();
    await Deno.remove(local, { recursive: true });
  }
});
