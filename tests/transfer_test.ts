/**
 * Transfers through the real server and the real client in one process:
 * byte-exact round trips, atomic replacement, many clients at once, server
 * notices during a transfer, and the progress bar.
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
import { ProgressBar } from "../client/progress.ts";
import { type Reporter, StreamReporter } from "../client/reporter.ts";
import type { TransferOptions } from "../client/options.ts";
import { upload } from "../client/upload.ts";
import { AlreadyExistsError, type Notice } from "../protocol/mod.ts";
import { randomBytes } from "./helpers/cli.ts";
import { startServer } from "./helpers/server.ts";
import { recorder } from "./helpers/recorder.ts";

const OPTIONS: TransferOptions = {
  resume: true,
  noClobber: false,
  verify: true,
};

/**
 * A reporter whose progress bar calls `then` once `bytes` have moved (an
 * event, not a clock); `moved()` says how many had when it did.
 */
function after(
  bytes: number,
  then: () => void,
): Reporter & { moved: () => number } {
  let moved = 0;
  return {
    info: () => {},
    moved: () => moved,
    progress: (label, total, start) => {
      const bar = new ProgressBar({
        label,
        total,
        start,
        output: new WritableStream(),
      });
      const advance = bar.advance.bind(bar);
      bar.advance = (n: number) => {
        advance(n);
        if (moved < bytes && bar.done >= bytes) {
          moved = bar.done;
          then();
        }
      };
      return bar;
    },
  };
}

async function withSetup(
  fn: (ctx: {
    root: string;
    work: string;
    open: (onNotice?: (n: Notice) => void) => Promise<Connection>;
    shutdown: (graceMs: number) => Promise<void>;
  }) => Promise<void>,
): Promise<void> {
  const { server, root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const opened: Connection[] = [];
  try {
    await fn({
      root,
      work,
      open: async (onNotice) => {
        const c = await Connection.open({ hostname: "127.0.0.1", port }, {
          onNotice,
        });
        opened.push(c);
        return c;
      },
      shutdown: (graceMs) => server.shutdown(graceMs),
    });
  } finally {
    for (const c of opened) c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("put and get move files of every awkward size byte for byte", async () => {
  await withSetup(async ({ work, root, open }) => {
    const c = await open();
    const chunk = 4 * 1024 * 1024;
    for (const size of [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk + 12345]) {
      const data = randomBytes(size);
      const local = join(work, `in-${size}`);
      await Deno.writeFile(local, data);
      const sent = await upload(c, local, `f-${size}`, OPTIONS, recorder());
      assertEquals(sent.bytes, size);
      assertEquals(await Deno.readFile(join(root, `f-${size}`)), data);
      const back = join(work, `out-${size}`);
      const got = await download(c, `f-${size}`, back, OPTIONS, recorder());
      assertEquals(got.bytes, size);
      assertEquals(got.digest, sent.digest);
      assertEquals(got.checksum, "xxh128");
      assertEquals(await Deno.readFile(back), data);
    }
  });
});

Deno.test("put replaces an existing file and keeps its mode and modification time", async () => {
  await withSetup(async ({ work, root, open }) => {
    const c = await open();
    const local = join(work, "a.sh");
    await Deno.writeTextFile(join(root, "a.sh"), "old version");
    await Deno.writeTextFile(local, "#!/bin/sh\necho new\n");
    await Deno.chmod(local, 0o750);
    const mtime = new Date("2024-02-03T04:05:06Z");
    await Deno.utime(local, mtime, mtime);
    await upload(c, local, "a.sh", OPTIONS, recorder());
    const info = await Deno.stat(join(root, "a.sh"));
    assertEquals(
      await Deno.readTextFile(join(root, "a.sh")),
      "#!/bin/sh\necho new\n",
    );
    assertEquals(info.mode! & 0o777, 0o750);
    assertEquals(info.mtime?.getTime(), mtime.getTime());
  });
});

Deno.test("--no-clobber refuses to replace a file on either side and changes nothing", async () => {
  await withSetup(async ({ work, root, open }) => {
    const c = await open();
    await Deno.writeTextFile(join(root, "r.txt"), "remote");
    await Deno.writeTextFile(join(work, "r.txt"), "local");
    const options = { ...OPTIONS, noClobber: true };
    await assertRejects(
      () => upload(c, join(work, "r.txt"), "r.txt", options, recorder()),
      AlreadyExistsError,
      'cannot put "',
    );
    await assertRejects(
      () => download(c, "r.txt", join(work, "r.txt"), options, recorder()),
      AlreadyExistsError,
      "already exists",
    );
    assertEquals(await Deno.readTextFile(join(root, "r.txt")), "remote");
    assertEquals(await Deno.readTextFile(join(work, "r.txt")), "local");
    assertEquals((await c.list("")).map((e) => e.name), ["r.txt"]);
  });
});

Deno.test("an upload cut off mid-transfer keeps the previous version and shows no temporary file", async () => {
  await withSetup(async ({ work, root, open }) => {
    await Deno.writeTextFile(join(root, "big.bin"), "previous version");
    const local = join(work, "big.bin");
    await Deno.writeFile(local, randomBytes(6 * 1024 * 1024));
    const c = await open();
    const progress = after(1024 * 1024, () => c.abort());
    const cut = upload(c, local, "big.bin", {
      ...OPTIONS,
      limitRate: 8 * 1024 * 1024,
    }, progress);
    await assertRejects(() => cut);
    assert(progress.moved() > 0, "bytes were sent before the cut");
    assert(progress.moved() < 6 * 1024 * 1024, "the cut came mid-transfer");
    const other = await open();
    assertEquals(
      await Deno.readTextFile(join(root, "big.bin")),
      "previous version",
    );
    assertEquals((await other.list("")).map((e) => e.name), ["big.bin"]);
  });
});

Deno.test("a download cut off mid-transfer leaves nothing under the target name", async () => {
  await withSetup(async ({ work, root, open }) => {
    await Deno.writeFile(join(root, "big.bin"), randomBytes(32 * 1024 * 1024));
    await Deno.writeTextFile(join(work, "big.bin"), "local version");
    const c = await open();
    const progress = after(1024 * 1024, () => c.abort());
    const cut = download(c, "big.bin", join(work, "big.bin"), {
      ...OPTIONS,
      limitRate: 8 * 1024 * 1024,
    }, progress);
    await assertRejects(() => cut);
    assert(progress.moved() > 0, "bytes arrived before the cut");
    assertEquals(
      await Deno.readTextFile(join(work, "big.bin")),
      "local version",
    );
    const hidden = [...Deno.readDirSync(work)].map((e) => e.name).filter((n) =>
      n !== "big.bin"
    );
    assertEquals(hidden.length, 1);
    assert(hidden[0].startsWith(".fts-partial-"), hidden[0]);
  });
});

Deno.test("fifty clients at once mixing put, get and ls all get their bytes intact", async () => {
  await withSetup(async ({ work, root, open }) => {
    const shared = randomBytes(512 * 1024);
    await Deno.writeFile(join(root, "shared.bin"), shared);
    const clients = Array.from({ length: 50 }, (_, i) => i);
    await Promise.all(clients.map(async (i) => {
      const c = await open();
      const data = randomBytes(256 * 1024 + i * 1000);
      const local = join(work, `up-${i}`);
      await Deno.writeFile(local, data);
      await upload(c, local, `client-${i}.bin`, OPTIONS, recorder());
      const names = (await c.list("")).map((e) => e.name);
      assert(names.includes(`client-${i}.bin`));
      await download(
        c,
        "shared.bin",
        join(work, `shared-${i}`),
        OPTIONS,
        recorder(),
      );
      await download(
        c,
        `client-${i}.bin`,
        join(work, `back-${i}`),
        OPTIONS,
        recorder(),
      );
      assertEquals(await Deno.readFile(join(work, `back-${i}`)), data);
      assertEquals(await Deno.readFile(join(work, `shared-${i}`)), shared);
      assertEquals(await Deno.readFile(join(root, `client-${i}.bin`)), data);
      await c.close();
    }));
  });
});

Deno.test("a shutdown notice arrives during a transfer, which still completes", async () => {
  await withSetup(async ({ work, root, open, shutdown }) => {
    const data = randomBytes(3 * 1024 * 1024);
    await Deno.writeFile(join(work, "slow.bin"), data);
    const notices: Notice[] = [];
    const c = await open((notice) => notices.push(notice));
    let stopped: Promise<void> | undefined;
    const progress = after(512 * 1024, () => stopped = shutdown(10_000));
    const transfer = upload(c, join(work, "slow.bin"), "slow.bin", {
      ...OPTIONS,
      limitRate: 4 * 1024 * 1024,
    }, progress);
    const result = await transfer;
    assert(stopped, "the shutdown began during the transfer");
    await stopped;
    assertEquals(result.bytes, data.byteLength);
    assertEquals(await Deno.readFile(join(root, "slow.bin")), data);
    assertEquals(notices.length, 1);
    assertEquals(notices[0].shutdown, true);
    assertStringIncludes(notices[0].message, "shutting down");
  });
});

Deno.test("the progress bar draws bytes, percent, rate and ETA, and ends with the elapsed time", async () => {
  const chunks: Uint8Array[] = [];
  let now = 0;
  const bar = new ProgressBar({
    label: "big.iso",
    total: 100 * 1024 * 1024,
    output: new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
    now: () => now,
    columns: 100,
  });
  now = 1000;
  bar.advance(25 * 1024 * 1024);
  now = 1100;
  bar.advance(1024 * 1024); // Too soon after the last draw: not drawn.
  now = 2000;
  bar.advance(24 * 1024 * 1024);
  bar.finish();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const drawn = new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((chunk) => [...chunk])),
  );
  const frames = drawn.split("\r\x1b[K").filter((f) => f !== "");
  assertEquals(frames.length, 3);
  assertStringIncludes(
    frames[0],
    " 25% 25.0 MiB / 100.0 MiB  25.0 MiB/s  ETA 0:03",
  );
  assertStringIncludes(
    frames[1],
    " 50% 50.0 MiB / 100.0 MiB  25.0 MiB/s  ETA 0:02",
  );
  assert(frames[2].endsWith("\n"));
  // The last line shows the time taken instead of an ETA.
  assertStringIncludes(frames[2], "25.0 MiB/s  in 0:02\n");
  assert(frames.every((f) => f.startsWith("big.iso [")));
  assert(!drawn.includes("\x1b[36m"), "no colour unless asked");
});

Deno.test("no progress bar is drawn when output is not a terminal or --quiet is set", () => {
  const chunks: Uint8Array[] = [];
  const output = new WritableStream<Uint8Array>({
    write: (c) => void chunks.push(c),
  });
  const plain = new StreamReporter({
    output,
    bars: false,
    quiet: false,
    color: false,
  });
  assertEquals(plain.progress("a", 10, 0), null);
  const quiet = new StreamReporter({
    output,
    bars: true,
    quiet: true,
    color: false,
  });
  assertEquals(quiet.progress("a", 10, 0), null);
  quiet.info("hidden");
  assertEquals(chunks.length, 0);
});
