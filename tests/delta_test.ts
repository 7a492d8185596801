/**
 * Delta transfers through the real server and client on loopback: a changed
 * file sends only what changed in both directions, the result is byte-exact,
 * `--whole-file` turns it off, and a damaged old version on the server is
 * caught by the whole-file check and healed by the whole file.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import type { Reporter } from "../client/reporter.ts";
import type { ProgressBar } from "../client/progress.ts";
import { IoError } from "../protocol/errors.ts";
import type { FtsServer } from "../server/server.ts";
import type { TransferOptions } from "../client/options.ts";
import { upload } from "../client/upload.ts";
import { randomBytes } from "./helpers/cli.ts";
import { startServer } from "./helpers/server.ts";
import { LocalStore } from "../server/storage/local/local_store.ts";
import { openOldVersion } from "../server/native/delta_requests.ts";
import { recorder } from "./helpers/recorder.ts";

const MiB = 1024 * 1024;
const OPTIONS: TransferOptions = {
  resume: true,
  noClobber: false,
  verify: true,
};

interface Setup {
  root: string;
  work: string;
  c: Connection;
  server: FtsServer;
  open: () => Promise<Connection>;
}

async function withSetup(fn: (ctx: Setup) => Promise<void>): Promise<void> {
  const { root, port, server, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-delta-" });
  const opened: Connection[] = [];
  const open = async () => {
    const c = await Connection.open({ hostname: "127.0.0.1", port });
    opened.push(c);
    return c;
  };
  try {
    await fn({ root, work, c: await open(), server, open });
  } finally {
    for (const c of opened) c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
}

/** `data` with 20 scattered 4 KiB edits. */
function edited(data: Uint8Array): Uint8Array {
  const next = data.slice();
  for (let i = 0; i < 20; i++) {
    next.set(randomBytes(4096), Math.floor((i + 0.5) * next.byteLength / 20));
  }
  return next;
}

Deno.test("put of an edited file sends only the changes and stores it exactly", async () => {
  await withSetup(async ({ root, work, c }) => {
    const local = join(work, "f");
    const old = randomBytes(16 * MiB);
    await Deno.writeFile(local, old);
    await upload(c, local, "f", OPTIONS, recorder());
    const next = edited(old);
    await Deno.writeFile(local, next);
    const result = await upload(c, local, "f", OPTIONS, recorder());
    assert(result.reused !== undefined, "no delta");
    assert(result.bytes < 2 * MiB, `sent ${result.bytes}`);
    assertEquals(result.reused! + result.bytes > next.byteLength, true);
    assertEquals(await Deno.readFile(join(root, "f")), next);
    // The new version's record holds its chunk summary, computed on the
    // way: the next delta against it reads nothing first.
    const info = await Deno.stat(join(root, "f"));
    const record = await Deno.readFile(
      join(root, ".fts", "records", `${info.dev}-${info.ino}`),
    );
    const header = new TextDecoder().decode(
      record.subarray(0, record.indexOf(0x0a)),
    );
    assert(JSON.parse(header).count > 1000, header);
  });
});

Deno.test("put of a file with one byte inserted at the front sends one chunk", async () => {
  await withSetup(async ({ root, work, c }) => {
    const local = join(work, "f");
    const old = randomBytes(8 * MiB);
    await Deno.writeFile(local, old);
    await upload(c, local, "f", OPTIONS, recorder());
    const next = new Uint8Array(old.byteLength + 1);
    next.set(old, 1);
    await Deno.writeFile(local, next);
    const result = await upload(c, local, "f", OPTIONS, recorder());
    assert(result.bytes < 128 * 1024, `sent ${result.bytes}`);
    assertEquals(await Deno.readFile(join(root, "f")), next);
  });
});

Deno.test("get of an edited and appended file receives only the changes", async () => {
  await withSetup(async ({ root, work, c }) => {
    const old = randomBytes(16 * MiB);
    const local = join(work, "f");
    await Deno.writeFile(local, old);
    const next = new Uint8Array(old.byteLength + MiB);
    next.set(edited(old));
    next.set(randomBytes(MiB), old.byteLength);
    await Deno.writeFile(join(root, "f"), next);
    const result = await download(c, "f", local, OPTIONS, recorder());
    assert(result.reused !== undefined, "no delta");
    assert(result.bytes < 3 * MiB, `received ${result.bytes}`);
    assertEquals(await Deno.readFile(local), next);
  });
});

Deno.test("--whole-file sends the whole file even when the server has a version", async () => {
  await withSetup(async ({ root, work, c }) => {
    const local = join(work, "f");
    const old = randomBytes(4 * MiB);
    await Deno.writeFile(local, old);
    await upload(c, local, "f", OPTIONS, recorder());
    const next = edited(old);
    await Deno.writeFile(local, next);
    const options = { ...OPTIONS, wholeFile: true };
    const result = await upload(c, local, "f", options, recorder());
    assertEquals(result.reused, undefined);
    assertEquals(result.bytes, next.byteLength);
    const got = await download(c, "f", local, options, recorder());
    assertEquals(got.bytes, next.byteLength);
    assertEquals(await Deno.readFile(join(root, "f")), next);
  });
});

Deno.test("unrelated content under the same name costs about the file", async () => {
  await withSetup(async ({ root, work, c }) => {
    const local = join(work, "f");
    await Deno.writeFile(local, randomBytes(24 * MiB));
    await upload(c, local, "f", OPTIONS, recorder());
    const next = randomBytes(24 * MiB);
    await Deno.writeFile(local, next);
    const result = await upload(c, local, "f", OPTIONS, recorder());
    assert(result.bytes < next.byteLength * 1.01, `sent ${result.bytes}`);
    assertEquals(await Deno.readFile(join(root, "f")), next);
  });
});

Deno.test("a file of one repeated 64 KiB block with one change sends a few KiB", async () => {
  await withSetup(async ({ root, work, c }) => {
    const block = randomBytes(64 * 1024);
    const old = new Uint8Array(16 * MiB);
    for (let at = 0; at < old.byteLength; at += block.byteLength) {
      old.set(block, at);
    }
    await Deno.writeFile(join(root, "f"), old);
    const next = old.slice();
    next[3 * MiB] ^= 0xff;
    const local = join(work, "f");
    await Deno.writeFile(local, next);
    const result = await upload(c, local, "f", OPTIONS, recorder());
    assert(result.bytes < 256 * 1024, `sent ${result.bytes}`);
    assertEquals(await Deno.readFile(join(root, "f")), next);
  });
});

Deno.test("a damaged old version on the server is caught by the whole-file check and healed", async () => {
  await withSetup(async ({ root, work, c }) => {
    const local = join(work, "f");
    const old = randomBytes(8 * MiB);
    await Deno.writeFile(local, old);
    await upload(c, local, "f", OPTIONS, recorder());
    const next = old;
    // The storage core records the stored version's chunk summary, as a
    // delta against it does.
    const store = await LocalStore.open(root);
    (await openOldVersion(store, "f"))?.handle.close();
    await store.close();
    // Bit rot: the bytes change but the record still matches (its identity
    // is rewritten to the file's new one, as a disk error would leave it).
    const stored = join(root, "f");
    const before = await Deno.stat(stored);
    const records = join(root, ".fts", "records");
    const name = `${before.dev}-${before.ino}`;
    const record = await Deno.readFile(join(records, name));
    using file = await Deno.open(stored, { write: true });
    await file.seek(1200 * 1024, Deno.SeekMode.Start);
    await file.write(randomBytes(4096));
    file.close();
    const after = await Deno.stat(stored);
    const text = new TextDecoder().decode(record);
    const line = text.slice(0, text.indexOf("\n"));
    const header = JSON.parse(line);
    header.identity.ctime = after.ctime!.getTime();
    header.identity.mtime = after.mtime!.getTime();
    const patched = new TextEncoder().encode(JSON.stringify(header) + "\n");
    const rest = record.subarray(
      new TextEncoder().encode(line + "\n").byteLength,
    );
    const bytes = new Uint8Array(patched.byteLength + rest.byteLength);
    bytes.set(patched);
    bytes.set(rest, patched.byteLength);
    await Deno.writeFile(join(records, name), bytes);
    const final = edited(next);
    await Deno.writeFile(local, final);
    const reporter = recorder();
    const result = await upload(c, local, "f", OPTIONS, reporter);
    assert(
      reporter.lines.some((line) => line.includes("did not verify")),
      reporter.lines.join("\n"),
    );
    assertEquals(result.reused, undefined);
    assertEquals(await Deno.readFile(stored), final);
  });
});

/** A reporter whose progress calls `onBytes` with the bytes done so far. */
function watching(onBytes: (done: number) => void): Reporter {
  return {
    info: () => {},
    progress: () => {
      let done = 0;
      return {
        advance: (bytes: number) => onBytes(done += bytes),
        advanceFiles: () => {},
        finish: () => {},
        clear: () => {},
      } as unknown as ProgressBar;
    },
  };
}

Deno.test("a source changed while its delta is sent is refused and never stored", async () => {
  await withSetup(async ({ root, work, c }) => {
    const local = join(work, "f");
    const old = randomBytes(8 * MiB);
    await Deno.writeFile(local, old);
    await upload(c, local, "f", OPTIONS, recorder());
    await Deno.writeFile(local, edited(old));
    let changed = false;
    const reporter = watching((done) => {
      if (done > MiB && !changed) {
        changed = true;
        Deno.writeFileSync(local, randomBytes(4096), { append: true });
      }
    });
    const options = { ...OPTIONS, limitRate: 16 * MiB };
    const error = await assertRejects(
      () => upload(c, local, "f", options, reporter),
      IoError,
    );
    assertStringIncludes(error.message, "changed");
    assertEquals(await Deno.readFile(join(root, "f")), old);
    // The session is still in step.
    assertEquals((await c.stat("f", false, "stat")).size, old.byteLength);
  });
});

Deno.test("a server file changed while a delta is applied to it is refused and never stored", async () => {
  await withSetup(async ({ root, work, c }) => {
    const local = join(work, "f");
    const old = randomBytes(8 * MiB);
    await Deno.writeFile(local, old);
    await upload(c, local, "f", OPTIONS, recorder());
    await Deno.writeFile(local, edited(old));
    const intruder = randomBytes(4096);
    let changed = false;
    const reporter = watching((done) => {
      if (done > MiB && !changed) {
        changed = true;
        using file = Deno.openSync(join(root, "f"), { write: true });
        file.writeSync(intruder);
      }
    });
    const options = { ...OPTIONS, limitRate: 16 * MiB };
    const error = await assertRejects(
      () => upload(c, local, "f", options, reporter),
      IoError,
    );
    assertStringIncludes(error.message, "changed on the server");
    const stored = await Deno.readFile(join(root, "f"));
    assertEquals(stored.subarray(0, 4096), intruder);
    assertEquals(stored.subarray(4096), old.subarray(4096));
  });
});

Deno.test("a local file changed while a delta download is applied to it is not replaced", async () => {
  await withSetup(async ({ root, work, c }) => {
    const old = randomBytes(8 * MiB);
    const local = join(work, "f");
    await Deno.writeFile(local, old);
    await Deno.writeFile(join(root, "f"), edited(old));
    let changed = false;
    const reporter = watching((done) => {
      if (done > MiB && !changed) {
        changed = true;
        Deno.writeFileSync(local, randomBytes(4096), { append: true });
      }
    });
    const options = { ...OPTIONS, limitRate: 16 * MiB };
    await assertRejects(
      () => download(c, "f", local, options, reporter),
      IoError,
      "changed",
    );
    const now = await Deno.readFile(local);
    assertEquals(now.subarray(0, old.byteLength), old);
    assertEquals(now.byteLength, old.byteLength + 4096);
  });
});

Deno.test("an interrupted delta upload resumes where it stopped, still as a delta", async () => {
  await withSetup(async ({ root, work, c, server, open }) => {
    const local = join(work, "f");
    const old = randomBytes(16 * MiB);
    await Deno.writeFile(local, old);
    await upload(c, local, "f", OPTIONS, recorder());
    const next = edited(old);
    await Deno.writeFile(local, next);
    let cut = false;
    const reporter = watching((done) => {
      if (done > 6 * MiB && !cut) {
        cut = true;
        c.abort();
      }
    });
    const options = { ...OPTIONS, limitRate: 8 * MiB };
    await assertRejects(() => upload(c, local, "f", options, reporter));
    assertEquals(await Deno.readFile(join(root, "f")), old);
    // The server has put the staged prefix aside once the session is gone.
    for (let i = 0; i < 200 && server.connections > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assertEquals(server.connections, 0);
    const result = await upload(await open(), local, "f", OPTIONS, recorder());
    assert(result.resumedAt > 0, "not resumed");
    assert(result.reused !== undefined, "not a delta");
    assertEquals(
      result.resumedAt + result.reused! + result.bytes > next.byteLength,
      true,
    );
    assertEquals(await Deno.readFile(join(root, "f")), next);
  });
});
