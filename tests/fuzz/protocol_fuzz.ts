/**
 * A protocol fuzzer for the server. It records what a real client sends in
 * real sessions (through a recording proxy on loopback), then replays those
 * sessions mutated: bytes flipped, frames cut, dropped, repeated or swapped,
 * lengths lied about, JSON fields set to hostile values (paths that climb out
 * of the root, huge numbers, wrong types, unknown ops). After the run it
 * checks that the server is still running, that a normal client is still
 * served (also every `checkEvery` cases), that memory stayed bounded and
 * that nothing appeared outside the served root.
 *
 * Used by `tests/protocol_fuzz_test.ts` (a few thousand cases) and by
 * `deno task fuzz` (`tests/fuzz/main.ts`, as many as asked).
 *
 * @module
 */

import { assert, assertEquals, assertLess } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../../client/connection.ts";
import { download } from "../../client/download.ts";
import type { Reporter } from "../../client/reporter.ts";
import { downloadTree } from "../../client/tree_download.ts";
import { uploadTree } from "../../client/tree_upload.ts";
import { upload } from "../../client/upload.ts";
import { FRAME_HEADER_SIZE, frameHeader } from "../../protocol/mod.ts";
import { FtsServer } from "../../server/server.ts";
import { concat, HOST } from "../helpers/raw_peer.ts";

/** Options for {@linkcode runFuzz}. */
export interface FuzzOptions {
  /** How many mutated sessions to replay. */
  cases: number;
  /** Seed of the mutation choices (the same seed replays the same cases). */
  seed?: number;
  /** Sessions replayed at once. Default 16 (many wait on the disk's syncs). */
  concurrency?: number;
  /** Check with a normal client after this many cases. Default 500. */
  checkEvery?: number;
  /** Receives a progress line now and then. */
  progress?: (line: string) => void;
}

/** What a run did. */
export interface FuzzReport {
  cases: number;
  /** Sessions the server ended with an `error` message. */
  errors: number;
  /** Growth of the resident set size over the run, in bytes. */
  rssGrowth: number;
  ms: number;
}

const quiet: Reporter = { info() {}, progress: () => null };
const TRANSFER = { resume: true, noClobber: false, verify: true };
/** Names a mutation may try to create outside the root. */
const ESCAPES = ["fuzz-escape", "../fuzz-escape", "../../fuzz-escape"];
const OPS = [
  "hello",
  "auth",
  "ls",
  "stat",
  "get",
  "put",
  "rm",
  "mkdir",
  "mv",
  "tree-put",
  "tree-get",
  "tree-want",
  "data",
  "bye",
  "ping",
  "nonsense",
];

/** A small seeded random number generator (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the fuzzer against a fresh server and checks what must hold. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const parent = await Deno.makeTempDir({ prefix: "fts-fuzz-" });
  const root = join(parent, "root");
  const local = join(parent, "local");
  await Deno.mkdir(local);
  const server = await FtsServer.start({
    root,
    hostname: HOST,
    port: 0,
    log: Deno.env.get("FUZZ_LOG") ? undefined : null,
    idleTimeoutMs: 1000,
    loginTimeoutMs: 1000,
  });
  let exited = false;
  server.finished.then(() => exited = true);
  const started = performance.now();
  try {
    // Recorded against a server with the default timeouts, so a slow disk
    // under load cannot cut a real session short; replayed against the
    // one with short timeouts, so stalled mutants end soon.
    const recorder = await FtsServer.start({
      root,
      hostname: HOST,
      port: 0,
      log: null,
    });
    const sessions = await recordSessions(recorder.addr.port, local)
      .finally(() => recorder.shutdown(100));
    const rssBefore = Deno.memoryUsage().rss;
    const next = random(options.seed ?? 1);
    const checkEvery = options.checkEvery ?? 500;
    let done = 0;
    let errors = 0;
    const worker = async () => {
      while (done < options.cases) {
        const index = done++;
        const session = sessions[Math.floor(next() * sessions.length)];
        if (await replay(server.addr.port, mutate(session, next))) errors++;
        if ((index + 1) % checkEvery === 0) {
          await normalClientWorks(server.addr.port, local, root);
          options.progress?.(
            `${index + 1} cases, rss ${
              Math.round(Deno.memoryUsage().rss / 2 ** 20)
            } MiB`,
          );
        }
      }
    };
    await Promise.all(
      Array.from({ length: options.concurrency ?? 16 }, worker),
    );
    assert(!exited, "the server stopped");
    await normalClientWorks(server.addr.port, local, root);
    const rssGrowth = Deno.memoryUsage().rss - rssBefore;
    assertLess(rssGrowth, 512 * 2 ** 20, "memory stays bounded");
    const outside = [];
    for await (const entry of Deno.readDir(parent)) outside.push(entry.name);
    assertEquals(outside.sort(), ["local", "root"]);
    for (const name of ESCAPES) {
      const escaped = await Deno.lstat(join(parent, name)).then(
        () => true,
        () => false,
      );
      assert(!escaped, `${name} was written outside the root`);
    }
    return {
      cases: options.cases,
      errors,
      rssGrowth,
      ms: performance.now() - started,
    };
  } finally {
    await server.shutdown(1000);
    await Deno.remove(parent, { recursive: true });
  }
}

/**
 * Runs real client sessions through a proxy that records what the client
 * sends; returns each session's bytes split into frames.
 */
async function recordSessions(
  port: number,
  local: string,
): Promise<Uint8Array[][]> {
  const proxy = Deno.listen({ hostname: HOST, port: 0 });
  const recorded: Promise<Uint8Array>[] = [];
  const accepting = (async () => {
    for await (const client of proxy) {
      recorded.push(relay(client, port));
    }
  })();
  const via = { hostname: HOST, port: (proxy.addr as Deno.NetAddr).port };
  const file = join(local, "one.bin");
  await Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(40_000)));
  const tree = join(local, "tree");
  await Deno.mkdir(join(tree, "sub"), { recursive: true });
  await Deno.writeTextFile(join(tree, "a.txt"), "a\n");
  await Deno.writeTextFile(join(tree, "sub", "b.txt"), "bb\n");
  const scripts: ((c: Connection) => Promise<unknown>)[] = [
    (c) => c.list(""),
    async (c) => {
      await c.mkdir("dir");
      await upload(c, file, "dir/one.bin", TRANSFER, quiet);
      await c.stat("dir/one.bin");
      await download(
        c,
        "dir/one.bin",
        join(local, "back.bin"),
        TRANSFER,
        quiet,
      );
      await c.move("dir/one.bin", "dir/two.bin");
      await c.list("dir", true);
      await c.remove("dir", true);
    },
    (c) => uploadTree(c, tree, "tree", TRANSFER, quiet),
    (c) => downloadTree(c, "tree", join(local, "tree-back"), TRANSFER, quiet),
  ];
  for (const script of scripts) {
    const connection = await Connection.open(via);
    await script(connection);
    await connection.close();
  }
  proxy.close();
  await accepting.catch(() => {});
  const sessions = await Promise.all(recorded);
  return sessions.map(splitFrames);
}

/** Relays one client to the server; resolves with what the client sent. */
async function relay(client: Deno.Conn, port: number): Promise<Uint8Array> {
  const server = await Deno.connect({ hostname: HOST, port });
  const sent: Uint8Array[] = [];
  const up = client.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        sent.push(chunk.slice());
        controller.enqueue(chunk);
      },
    }),
  ).pipeTo(server.writable).catch(() => {});
  const down = server.readable.pipeTo(client.writable).catch(() => {});
  await Promise.all([up, down]);
  return concat(sent);
}

/** Splits a recorded byte stream into whole frames (header and payload). */
function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + FRAME_HEADER_SIZE <= bytes.byteLength;) {
    const end = at + FRAME_HEADER_SIZE + view.getUint32(at + 1);
    frames.push(bytes.subarray(at, end));
    at = end;
  }
  return frames;
}

/** Values a JSON field may be replaced with. */
const HOSTILE: unknown[] = [
  -1,
  0,
  2 ** 53,
  1e308,
  "",
  "../fuzz-escape",
  "../../fuzz-escape",
  "/fuzz-escape",
  "dir/../../fuzz-escape",
  ".fts/partial/x",
  "a\u0000b",
  "x".repeat(5000),
  null,
  [],
  {},
  true,
  { size: -5, mtime: "now" },
];

/** Returns one mutation of `frames`, as the bytes to send. */
function mutate(frames: Uint8Array[], next: () => number): Uint8Array {
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(next() * items.length)];
  const out: Uint8Array[] = frames.map((frame) => frame.slice());
  // Mostly mutate past the hello, to reach the requests.
  const index = out.length > 1 && next() < 0.9
    ? 1 + Math.floor(next() * (out.length - 1))
    : 0;
  const rounds = 1 + Math.floor(next() * 3);
  for (let round = 0; round < rounds; round++) {
    const frame = out[index] ?? new Uint8Array(FRAME_HEADER_SIZE);
    if (frame.byteLength === 0) break;
    switch (Math.floor(next() * 8)) {
      case 0: { // flip bytes
        for (let i = 0; i < 1 + next() * 4; i++) {
          const at = Math.floor(next() * frame.byteLength);
          frame[at] ^= 1 << Math.floor(next() * 8);
        }
        break;
      }
      case 1: // cut the frame short
        out[index] = frame.subarray(0, Math.floor(next() * frame.byteLength));
        out.length = index + 1;
        break;
      case 2: // drop it
        out.splice(index, 1);
        break;
      case 3: // repeat it
        out.splice(index, 0, frame.slice());
        break;
      case 4: { // swap with another
        const other = Math.floor(next() * out.length);
        [out[index], out[other]] = [out[other], out[index]];
        break;
      }
      case 5: // lie about the length
        if (frame.byteLength < FRAME_HEADER_SIZE) break;
        new DataView(frame.buffer, frame.byteOffset).setUint32(
          1,
          pick([0, 1, 2 ** 24, 2 ** 32 - 1, frame.byteLength * 2]),
        );
        break;
      case 6: // garbage before it
        out.splice(
          index,
          0,
          crypto.getRandomValues(new Uint8Array(1 + Math.floor(next() * 64))),
        );
        break;
      default: // a hostile JSON field
        out[index] = mutateJson(frame, next, pick);
    }
  }
  return concat(out.filter((frame) => frame !== undefined));
}

function mutateJson(
  frame: Uint8Array,
  next: () => number,
  pick: <T>(items: readonly T[]) => T,
): Uint8Array {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(
      new TextDecoder().decode(frame.subarray(FRAME_HEADER_SIZE)),
    );
  } catch {
    return frame;
  }
  if (typeof message !== "object" || message === null) return frame;
  const keys = Object.keys(message);
  if (next() < 0.2 || keys.length === 0) message.op = pick(OPS);
  else if (next() < 0.15) delete message[pick(keys)];
  else message[pick(keys)] = pick(HOSTILE);
  const payload = new TextEncoder().encode(JSON.stringify(message));
  return concat([
    frameHeader(frame[0] as 1 | 2 | 3, payload.byteLength),
    payload,
  ]);
}

/**
 * Sends `bytes` on a new connection, ends its sending side and reads until
 * the server closes (for at most 3 s). Returns whether the server sent an
 * `error` message.
 */
async function replay(port: number, bytes: Uint8Array): Promise<boolean> {
  const conn = await Deno.connect({ hostname: HOST, port });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }, 3000);
  let answer = "";
  try {
    const reading = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) return;
        if (answer.length < 4096) {
          answer += new TextDecoder().decode(buffer.subarray(0, n));
        }
      }
    })().catch(() => {});
    try {
      for (let at = 0; at < bytes.byteLength;) {
        at += await conn.write(bytes.subarray(at));
      }
      await conn.closeWrite();
    } catch {
      // The server closed first: fine.
    }
    await reading;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
  return answer.includes('"op":"error"');
}

/** A normal client lists, uploads and downloads, every byte checked. */
async function normalClientWorks(
  port: number,
  local: string,
  root: string,
): Promise<void> {
  const connection = await Connection.open({ hostname: HOST, port });
  try {
    const bytes = crypto.getRandomValues(new Uint8Array(60_000));
    const name = `check-${crypto.randomUUID()}.bin`;
    await Deno.writeFile(join(local, name), bytes);
    await upload(connection, join(local, name), name, TRANSFER, quiet);
    assertEquals(await Deno.readFile(join(root, name)), bytes);
    await download(
      connection,
      name,
      join(local, `${name}.back`),
      TRANSFER,
      quiet,
    );
    assertEquals(await Deno.readFile(join(local, `${name}.back`)), bytes);
    assert((await connection.list("")).some((entry) => entry.name === name));
    await connection.remove(name);
  } finally {
    await connection.close();
  }
}
