/**
 * A `put`'s summary in pieces: the server sends its old version's chunk
 * summary a piece at a time as it reads it, a client that finds its first
 * 16 MiB unrelated to the pieces so far gives up and sends the file as it
 * is, and the server then ends the pieces early, stores the new file
 * exactly and keeps no summary of what it only partly read.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { concat } from "@std/bytes/concat";
import { Connection } from "../client/connection.ts";
import type { TransferOptions } from "../client/options.ts";
import { upload } from "../client/upload.ts";
import { encodeDelta } from "../transfer/delta/delta_encoder.ts";
import { emptyStats } from "../transfer/delta/delta_ops.ts";
import {
  EarlyJudge,
  JUDGE_AFTER_OLD_CHUNKS,
} from "../transfer/delta/early_give_up.ts";
import { ChunkIndex, encodeHashes } from "../transfer/delta/summary.ts";
import { readSummaryPiece } from "../transfer/delta/summary_exchange.ts";
import { createHasher } from "../transfer/hash/hasher.ts";
import { LocalStore } from "../server/storage/local/local_store.ts";
import { identityOf } from "../server/storage/file_record.ts";
import { randomBytes } from "./helpers/cli.ts";
import { summaryOfBytes } from "./helpers/memory_summary.ts";
import { recorder } from "./helpers/recorder.ts";
import { startServer } from "./helpers/server.ts";

const MiB = 1024 * 1024;
const OPTIONS: TransferOptions = {
  resume: true,
  noClobber: false,
  verify: true,
};

/** The verdict on `next`'s start against `old`'s chunks, given in pieces. */
async function verdictOn(
  old: Uint8Array,
  next: Uint8Array,
): Promise<boolean | undefined> {
  const judge = new EarlyJudge();
  const hashes = encodeHashes(await summaryOfBytes(old));
  const listed = await summaryOfBytes(next);
  let verdict: boolean | undefined;
  for (let at = 0; at < hashes.byteLength; at += 600 * 6) {
    judge.addOld(hashes.subarray(at, at + 600 * 6));
    verdict = judge.verdict(next.byteLength, () => listed);
  }
  return verdict;
}

Deno.test("a start unrelated to the old chunks so far is hopeless, a shared one is not", async () => {
  const old = randomBytes(40 * MiB);
  assertEquals(await verdictOn(old, randomBytes(20 * MiB)), true);
  // Edited, and moved by 12 MiB: still a match.
  const edited = old.subarray(0, 20 * MiB).slice();
  edited.set(randomBytes(4096), 5 * MiB);
  assertEquals(await verdictOn(old, edited), false);
  assertEquals(await verdictOn(old, old.subarray(12 * MiB)), false);
  // Too little seen on either side: no verdict yet.
  assertEquals(await verdictOn(old, randomBytes(8 * MiB)), undefined);
  const few = old.subarray(0, JUDGE_AFTER_OLD_CHUNKS * 4 * 1024);
  assertEquals(await verdictOn(few, randomBytes(20 * MiB)), undefined);
});

Deno.test("a client that gives up after the first summary piece gets the last piece, then done", async () => {
  const { root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-pieces-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    const old = randomBytes(96 * MiB);
    await Deno.writeFile(join(root, "f"), old);
    const oldIdentity = await (async () => {
      using file = await Deno.open(join(root, "f"));
      return await identityOf(file);
    })();
    const next = randomBytes(24 * MiB);
    const local = join(work, "f");
    await Deno.writeFile(local, next);
    const action = "put";
    const ready = await c.request({
      op: "put",
      path: "f",
      size: next.byteLength,
      mtime: Date.now(),
      mode: null,
      resume: false,
      noClobber: false,
      verify: true,
      checksum: "xxh128",
      delta: true,
      summaryPieces: true,
    }, action);
    assertEquals(ready.op, "ready");
    assert(ready.op === "ready" && ready.delta);
    const piece = () =>
      (async () =>
        await readSummaryPiece(await c.reply(action), () => c.body()))();
    const first = await piece();
    assert(first.more, "the summary comes in pieces");
    await c.send({ op: "data", offset: 0, size: next.byteLength, delta: true });
    const drained = (async () => {
      const parts = [first.hashes];
      while (true) {
        const next = await piece();
        parts.push(next.hashes);
        if (!next.more) return concat(parts) as Uint8Array;
      }
    })();
    const hasher = await createHasher(c.pool, "xxh128");
    using file = await Deno.open(local);
    await c.sendBody(
      encodeDelta(file, new ChunkIndex(0), {
        stats: emptyStats(),
        onBytes: (bytes) => hasher.update(bytes),
      }),
      () => hasher.digests(),
    );
    const received = await drained;
    const done = await c.reply(action);
    assertEquals(done.op, "done");
    assertEquals(await Deno.readFile(join(root, "f")), next);
    // What came is a prefix of the old version's summary.
    const full = encodeHashes(await summaryOfBytes(old));
    assert(received.byteLength <= full.byteLength);
    assertEquals(received, full.subarray(0, received.byteLength));
    if (received.byteLength < full.byteLength) {
      // Stopped early: a partial summary is never recorded.
      const store = await LocalStore.open(root);
      try {
        assertEquals(await store.records.load(oldIdentity), null);
      } finally {
        await store.close();
      }
    }
    // The session is in step for the next request.
    assertEquals((await c.stat("f", false, "stat")).size, next.byteLength);
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("a put of content unrelated to a large old version is stored exactly, the session in step", async () => {
  const { root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-pieces-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port });
  try {
    await Deno.writeFile(join(root, "f"), randomBytes(64 * MiB));
    const local = join(work, "f");
    const next = randomBytes(40 * MiB);
    await Deno.writeFile(local, next);
    const result = await upload(c, local, "f", OPTIONS, recorder());
    assertEquals(result.reused ?? 0, 0);
    assert(result.bytes < next.byteLength * 1.01, `sent ${result.bytes}`);
    assertEquals(await Deno.readFile(join(root, "f")), next);
    assertEquals((await c.stat("f", false, "stat")).size, next.byteLength);
  } finally {
    c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});
