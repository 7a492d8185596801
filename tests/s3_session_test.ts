/**
 * `fts serve s3://BUCKET/PREFIX` end to end, against a real Ceph RADOS
 * Gateway (tests/s3/start_radosgw.sh; .ci/run starts one): every client
 * command in-process and as a subprocess of main.ts, two fts servers on one
 * bucket, s3cmd on the other side, kill -9 of the fts server in the middle of
 * a 300 MiB put and of radosgw in the middle of a transfer, bad credentials,
 * a missing bucket, and the HTTP/WebDAV front-end with curl.
 *
 * Without FTS_TEST_S3_ENDPOINT every test here is reported as ignored (a
 * failure under CI=true). The radosgw crash test needs FTS_TEST_S3_DIR too (the gateway's
 * folder, to kill and restart it).
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { CommandRunner, type CommandSettings } from "../client/commands.ts";
import { Connection } from "../client/connection.ts";
import type { Reporter } from "../client/reporter.ts";
import type { S3Client } from "../server/storage/s3/client.ts";
import { xmlBlocks, xmlText } from "../server/storage/s3/xml.ts";
import { FtsServer, type ServerOptions } from "../server/server.ts";
import { addUser } from "../server/auth/users.ts";
import {
  MAIN,
  randomBytes,
  randomFile,
  runFts,
  runProgram,
  type RunResult,
  type ServeProcess,
  sha256File,
  startServe,
  waitForPartial,
} from "./helpers/cli.ts";
import {
  awsEnv,
  makeTestBucket,
  type S3TestEnv,
  s3TestEnvFor,
  type TestBucket,
} from "./helpers/s3.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

const env = s3TestEnvFor("s3_session_test");
/** The gateway's folder, for the tests that kill and restart radosgw. */
const gatewayDir = Deno.env.get("FTS_TEST_S3_DIR");
/** Every gateway test is registered, and ignored without a gateway. */
const noGateway = env === null;
/** The restart tests also need the gateway's folder (.ci/s3_env sets it). */
const noRestartableGateway = noGateway ||
  prerequisite(
    "FTS_TEST_S3_DIR, a gateway the tests may restart",
    !!gatewayDir,
  );

const MiB = 1024 * 1024;
const PREFIX = "root";
const SETTINGS: CommandSettings = {
  resume: true,
  noClobber: false,
  verify: true,
  json: false,
  recursive: false,
  hash: false,
};

/** The real client in this process: a connection and the commands' runner. */
interface Client {
  /** Runs one command and returns what it printed. */
  run(
    name: string,
    args: string[],
    settings?: Partial<CommandSettings>,
  ): Promise<string>;
  /** What the reporter was told (resumes, server notices), in order. */
  info: string[];
}

/** What a session test gets: a fresh bucket, servers and clients on it. */
interface Session {
  t: TestBucket;
  env: S3TestEnv;
  /** `s3://BUCKET/root`. */
  target: string;
  /** A temporary local folder, removed afterwards. */
  work: string;
  /** Starts an fts server in this process on the bucket (stopped afterwards). */
  serve(options?: Partial<ServerOptions>): Promise<FtsServer>;
  /** Starts `fts serve s3://BUCKET/root` as a subprocess (stopped afterwards). */
  serveProcess(
    extra?: string[],
    lines?: number,
    vars?: Record<string, string>,
  ): Promise<ServeProcess>;
  /** Opens the real client in this process (closed afterwards). */
  connect(server: FtsServer): Promise<Client>;
  /** `fts connect ADDRESS ARGS...` as a subprocess. */
  fts(
    address: string,
    args: string[],
    vars?: Record<string, string>,
  ): Promise<RunResult>;
  /** Every key under `root/` that s3cmd lists, fts's own `.fts/` left out, relative to it. */
  keys(): Promise<string[]>;
}

/** Registers a test against a fresh bucket served as `s3://BUCKET/root`. */
function s3Session(
  name: string,
  body: (s: Session) => Promise<void>,
  ignore = noGateway,
) {
  Deno.test({
    name: `fts serve s3://: ${name}`,
    ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const t = await makeTestBucket(env!, PREFIX);
      const work = await Deno.makeTempDir({ prefix: "fts-s3-work-" });
      const servers: FtsServer[] = [];
      const processes: ServeProcess[] = [];
      const connections: Connection[] = [];
      const target = `s3://${t.bucket}/${PREFIX}`;
      const session: Session = {
        t,
        env: env!,
        target,
        work,
        async serve(options = {}) {
          const server = await serveBucket(target, env!, options);
          servers.push(server);
          return server;
        },
        async serveProcess(extra = [], lines = 1, vars = {}) {
          const serve = await startServe(target, extra, {
            env: { ...awsEnv(env!), ...vars },
            lines,
          });
          processes.push(serve);
          return serve;
        },
        async connect(server) {
          const open = async () => {
            const c = await Connection.open({
              hostname: "127.0.0.1",
              port: server.addr.port,
            }, {
              onNotice: (notice) => info.push(`server: ${notice.message}`),
            });
            connections.push(c);
            return c;
          };
          const info: string[] = [];
          const reporter: Reporter = {
            info: (text) => void info.push(text),
            error: (text) => void info.push(text),
            progress: () => null,
          };
          const printed: string[] = [];
          const runner = new CommandRunner(
            await open(),
            reporter,
            (text) => void printed.push(text),
            false,
            open,
          );
          return {
            info,
            async run(command, args, settings = {}) {
              printed.length = 0;
              await runner.run(command, args, { ...SETTINGS, ...settings });
              return printed.join("\n");
            },
          };
        },
        fts: (address, args, vars = {}) =>
          runFts(["connect", address, ...args], {
            cwd: work,
            env: vars,
            timeoutMs: 90_000,
          }),
        async keys() {
          const listing = new TextDecoder().decode(
            await t.s3cmd("ls", "-r", `s3://${t.bucket}/${PREFIX}/`),
          );
          const base = `s3://${t.bucket}/${PREFIX}/`;
          return listing.split("\n").map((line) =>
            line.slice(line.indexOf("s3://"))
          )
            .filter((uri) => uri.startsWith(base))
            .map((uri) => uri.slice(base.length))
            .filter((key) => !key.startsWith(".fts/"))
            .sort();
        },
      };
      try {
        await body(session);
      } finally {
        for (const c of connections) c.abort();
        for (const serve of processes) await serve.stop("SIGKILL");
        for (const server of servers) await server.shutdown(1000);
        await Deno.remove(work, { recursive: true }).catch(() => {});
        await t.cleanup();
      }
    },
  });
}

/** An fts server in this process on `target`, credentials passed without Deno.env. */
async function serveBucket(
  target: string,
  gateway: S3TestEnv,
  options: Partial<ServerOptions> = {},
): Promise<FtsServer> {
  return await FtsServer.start({
    log: null,
    ...options,
    root: target,
    s3: { env: awsEnv(gateway), ...options.s3 },
    hostname: "127.0.0.1",
    port: 0,
  });
}

/**
 * Starts `fts connect ARGS...` as a subprocess without waiting for it; its
 * output is kept for `output()`.
 */
function spawnConnect(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "connect", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** The non-empty lines of a program's output. */
function lines(text: string): string[] {
  return text.trim().split("\n").filter((line) => line !== "");
}

/**
 * Bytes S3 holds in the parts of unfinished multipart uploads of `key`
 * (ListMultipartUploads, then ListParts), and how many such uploads exist.
 */
async function storedParts(
  client: S3Client,
  key: string,
): Promise<{ uploads: number; bytes: number }> {
  const xml = await client.text({
    method: "GET",
    query: { uploads: "", prefix: key },
  });
  let uploads = 0;
  let bytes = 0;
  for (const upload of xmlBlocks(xml, "Upload")) {
    if (xmlText(upload, "Key") !== key) continue;
    uploads++;
    const parts = await client.text({
      method: "GET",
      key,
      query: { uploadId: xmlText(upload, "UploadId")! },
    });
    for (const part of xmlBlocks(parts, "Part")) {
      bytes += Number(xmlText(part, "Size"));
    }
  }
  return { uploads, bytes };
}

/** HEAD of a key: its status (200 or 404). */
async function headStatus(client: S3Client, key: string): Promise<number> {
  return (await client.send({ method: "HEAD", key, accept: [404] })).status;
}

/** Polls `check` every 100 ms until it is true; throws after `timeoutMs`. */
async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs tests/s3/NAME.sh on the gateway's folder; throws with its stderr. */
async function gatewayScript(
  script: string,
  dir: string | undefined,
): Promise<void> {
  if (!dir) throw new Error("FTS_TEST_S3_DIR is not set");
  const result = await runProgram("bash", [`tests/s3/${script}`, dir], {
    env: { FTS_S3_TIMEOUT: "120" },
    timeoutMs: 150_000,
  });
  assertEquals(result.code, 0, result.stderr);
}

s3Session(
  "ls, stat, hash, put, get, mkdir, mv, rm and rm -r run in-process and leave exactly the expected objects",
  async (s) => {
    const server = await s.serve();
    const c = await s.connect(server);
    const small = join(s.work, "small.txt");
    await Deno.writeTextFile(small, "hello from fts\n");
    await Deno.utime(small, 1_700_000_000, 1_700_000_000);
    const big = join(s.work, "big.bin");
    // Three 8 MiB parts and a short one: a real multipart upload.
    const bigBytes = await randomFile(big, 29 * MiB + 123);

    await c.run("mkdir", ["docs/deep"]);
    await c.run("put", [small, "docs/small.txt"]);
    await c.run("put", [big, "big.bin"]);
    const listing = JSON.parse(await c.run("ls", [""], { json: true }));
    assertEquals(
      listing.map((
        e: { name: string; type: string; size: number },
      ) => [e.name, e.type, e.size]),
      [["big.bin", "file", bigBytes.length], ["docs", "dir", 0]],
    );
    const stat = JSON.parse(
      await c.run("stat", ["docs/small.txt"], { json: true }),
    );
    assertEquals([stat.type, stat.size, stat.mtime], [
      "file",
      15,
      1_700_000_000_000,
    ]);
    assertEquals(
      await c.run("hash", ["big.bin"]),
      `${await sha256File(big)}  big.bin`,
    );

    const back = join(s.work, "back.bin");
    await c.run("get", ["big.bin", back]);
    assertEquals(await sha256File(back), await sha256File(big));
    assertEquals((await Deno.stat(back)).size, bigBytes.length);

    await c.run("mv", ["docs/small.txt", "docs/deep/moved.txt"]);
    await c.run("mkdir", ["empty"]);
    assertEquals(await s.keys(), [
      "big.bin",
      "docs/",
      "docs/deep/",
      "docs/deep/moved.txt",
      "empty/",
    ]);
    const moved = join(s.work, "moved.txt");
    await c.run("get", ["docs/deep/moved.txt", moved]);
    assertEquals(await Deno.readTextFile(moved), "hello from fts\n");
    assertEquals((await Deno.stat(moved)).mtime?.getTime(), 1_700_000_000_000);

    await c.run("rm", ["big.bin"]);
    await c.run("rm", ["empty"]);
    await c.run("rm", ["docs"], { recursive: true });
    assertEquals(await s.keys(), []);
    assertEquals(JSON.parse(await c.run("ls", [""], { json: true })), []);
  },
);

s3Session(
  "put -r and get -r round-trip a tree with an empty folder, times and modes; a rerun sends nothing",
  async (s) => {
    const server = await s.serve();
    const c = await s.connect(server);
    // put -r LOCAL with no REMOTE goes to ./up both times, as cp -r would.
    const tree = join(s.work, "up");
    await Deno.mkdir(join(tree, "a", "b"), { recursive: true });
    await Deno.mkdir(join(tree, "empty"));
    const files: Record<string, Uint8Array> = {
      "top.txt": new TextEncoder().encode("top"),
      "a/one.bin": randomBytes(70_000),
      "a/b/two.bin": randomBytes(9 * MiB),
      "a/b/zero": new Uint8Array(0),
    };
    for (const [path, bytes] of Object.entries(files)) {
      await Deno.writeFile(join(tree, path), bytes);
      await Deno.utime(join(tree, path), 1_600_000_000, 1_600_000_000);
    }
    await Deno.chmod(join(tree, "a", "one.bin"), 0o640);
    await c.run("put", [tree], { recursive: true });
    assertEquals(await s.keys(), [
      "up/",
      "up/a/",
      "up/a/b/",
      "up/a/b/two.bin",
      "up/a/b/zero",
      "up/a/one.bin",
      "up/empty/",
      "up/top.txt",
    ]);

    const down = join(s.work, "down");
    await c.run("get", ["up", down], { recursive: true });
    for (const [path, bytes] of Object.entries(files)) {
      assertEquals(await Deno.readFile(join(down, path)), bytes, path);
      const info = await Deno.stat(join(down, path));
      assertEquals(info.mtime?.getTime(), 1_600_000_000_000, path);
    }
    assertEquals(
      (await Deno.stat(join(down, "a", "one.bin"))).mode! & 0o777,
      0o640,
    );
    assert((await Deno.stat(join(down, "empty"))).isDirectory);

    // The quick check needs no upload: sizes and times already match, so
    // no file's object is written again (S3 keeps each object's
    // LastModified; folder markers get their times set again).
    const before = await objectTimes(s.t.store.client, `${PREFIX}/up/`);
    assertEquals(before.length, 4);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    c.info.length = 0;
    await c.run("put", [tree], { recursive: true });
    assertEquals(c.info, ["all 4 files already up to date"]);
    assertEquals(await objectTimes(s.t.store.client, `${PREFIX}/up/`), before);
  },
);

/** Each file's key under `prefix` with its LastModified, from one raw ListObjectsV2. */
async function objectTimes(
  client: S3Client,
  prefix: string,
): Promise<string[]> {
  const xml = await client.text({
    method: "GET",
    query: { "list-type": "2", prefix },
  });
  return xmlBlocks(xml, "Contents")
    .filter((object) => !xmlText(object, "Key")!.endsWith("/"))
    .map((object) =>
      `${xmlText(object, "Key")} ${xmlText(object, "LastModified")}`
    );
}

s3Session(
  "a folder mv, a shell session and get resumed after a kill run as subprocesses of main.ts",
  async (s) => {
    const serve = await s.serveProcess();
    const a = serve.address;
    const file = join(s.work, "f.txt");
    await Deno.writeTextFile(file, "folder content");
    assertEquals((await s.fts(a, ["mkdir", "dir/sub"])).code, 0);
    const put = await s.fts(a, ["put", file, "dir/sub/f.txt"]);
    assertEquals(put.code, 0, put.stderr);

    const mv = await s.fts(a, ["mv", "dir", "renamed"]);
    assertEquals(mv.code, 0, mv.stderr);
    assertMatch(mv.stderr, /no atomic folder move/);
    assertEquals(await s.keys(), [
      "renamed/",
      "renamed/sub/",
      "renamed/sub/f.txt",
    ]);

    const shell = await runFts(["connect", a], {
      cwd: s.work,
      stdin: [
        "cd renamed/sub",
        "ls",
        "get f.txt from-shell.txt",
        "mv f.txt g.txt",
        "put f.txt again.txt",
        "rm g.txt",
        "ls",
        "",
      ].join("\n"),
      timeoutMs: 60_000,
    });
    assertEquals(shell.code, 0, shell.stderr);
    assertStringIncludes(shell.stdout, "f.txt");
    assertEquals(
      await Deno.readTextFile(join(s.work, "from-shell.txt")),
      "folder content",
    );
    assertEquals(await s.keys(), [
      "renamed/",
      "renamed/sub/",
      "renamed/sub/again.txt",
    ]);

    // A get cut off part-way resumes with ranged GETs and arrives intact.
    const big = join(s.work, "big.bin");
    await randomFile(big, 48 * MiB);
    assertEquals((await s.fts(a, ["put", big])).code, 0);
    const down = join(s.work, "down");
    await Deno.mkdir(down);
    const child = spawnConnect([
      a,
      "get",
      "big.bin",
      join(down, "big.bin"),
      "--limit-rate",
      "16M",
    ]);
    try {
      await waitForPartial(
        down,
        (name) => name.startsWith(".fts-partial-"),
        12 * MiB,
      );
    } finally {
      child.kill("SIGKILL");
      await child.output();
    }
    const rerun = await s.fts(a, ["get", "big.bin", join(down, "big.bin")]);
    assertEquals(rerun.code, 0, rerun.stderr);
    assertMatch(
      rerun.stderr,
      /resuming "big\.bin" at \d+\.\d MiB of 48\.0 MiB/,
    );
    assertEquals(
      await sha256File(join(down, "big.bin")),
      await sha256File(big),
    );
  },
);

s3Session("TLS and logins work on an S3-served server", async (s) => {
  const users = join(s.work, "users.json");
  await addUser(users, "ann", "ann's long password");
  const config = join(s.work, "config");
  const serve = await s.serveProcess(["--tls", "--users", users], 2, {
    FTS_CONFIG_DIR: config,
  });
  assertMatch(
    serve.lines[0],
    new RegExp(`serving ${s.target.replaceAll("/", "\\/")}$`),
  );
  const fingerprint = serve.lines[1].split(" ")[3];
  const file = join(s.work, "secret.txt");
  await Deno.writeTextFile(file, "over TLS into S3");
  const vars = { FTS_CONFIG_DIR: config, FTS_PASSWORD: "ann's long password" };
  const put = await s.fts(`ann@${serve.address}`, [
    "put",
    file,
    "--fingerprint",
    fingerprint,
  ], vars);
  assertEquals(put.code, 0, put.stderr);
  const ls = await s.fts(`ann@${serve.address}`, [
    "ls",
    "--fingerprint",
    fingerprint,
  ], vars);
  assertEquals(ls.code, 0, ls.stderr);
  assertStringIncludes(ls.stdout, "secret.txt");
  const wrong = await s.fts(`ann@${serve.address}`, [
    "ls",
    "--fingerprint",
    fingerprint,
  ], {
    ...vars,
    FTS_PASSWORD: "wrong",
  });
  assertEquals(wrong.code, 1);
  assertEquals(
    new TextDecoder().decode(
      await s.t.s3cmd("get", `s3://${s.t.bucket}/${PREFIX}/secret.txt`, "-"),
    ),
    "over TLS into S3",
  );
});

s3Session(
  "two fts servers on one bucket: what one writes the other lists, stats and serves at once",
  async (s) => {
    const one = await s.connect(await s.serve());
    const two = await s.connect(await s.serve());
    const file = join(s.work, "shared.bin");
    await randomFile(file, 17 * MiB);
    await one.run("mkdir", ["team"]);
    await one.run("put", [file, "team/shared.bin"]);
    const listed = JSON.parse(await two.run("ls", ["team"], { json: true }));
    assertEquals(
      listed.map((e: { name: string; size: number }) => [e.name, e.size]),
      [["shared.bin", 17 * MiB]],
    );
    const got = join(s.work, "got.bin");
    await two.run("get", ["team/shared.bin", got]);
    assertEquals(await sha256File(got), await sha256File(file));

    await two.run("mv", ["team/shared.bin", "team/renamed.bin"]);
    await two.run("mkdir", ["from-two"]);
    assertEquals(
      JSON.parse(await one.run("ls", ["team"], { json: true })).map((
        e: { name: string },
      ) => e.name),
      ["renamed.bin"],
    );
    assertEquals(
      JSON.parse(await one.run("ls", [""], { json: true })).map((
        e: { name: string },
      ) => e.name),
      ["from-two", "team"],
    );
    assertEquals(
      await one.run("hash", ["team/renamed.bin"]),
      `${await sha256File(file)}  team/renamed.bin`,
    );
  },
);

s3Session(
  "objects fts writes are plain objects for s3cmd, and objects s3cmd writes are listed and served by fts",
  async (s) => {
    const server = await s.serve();
    const c = await s.connect(server);
    const file = join(s.work, "by-fts.bin");
    await randomFile(file, 11 * MiB + 5);
    await c.run("put", [file, "by-fts.bin"]);
    const fromS3cmd = join(s.work, "s3cmd-got.bin");
    await s.t.s3cmd(
      "get",
      `s3://${s.t.bucket}/${PREFIX}/by-fts.bin`,
      fromS3cmd,
    );
    assertEquals(await sha256File(fromS3cmd), await sha256File(file));

    const other = join(s.work, "by-s3cmd.bin");
    await randomFile(other, 3 * MiB + 7);
    await s.t.s3cmd(
      "put",
      other,
      `s3://${s.t.bucket}/${PREFIX}/made/by/s3cmd.bin`,
    );
    await s.t.s3cmd("put", other, `s3://${s.t.bucket}/outside-the-prefix.bin`);
    assertEquals(
      JSON.parse(await c.run("ls", [""], { json: true })).map((
        e: { name: string; type: string },
      ) => [e.name, e.type]),
      [["by-fts.bin", "file"], ["made", "dir"]],
    );
    const entry = JSON.parse(
      await c.run("stat", ["made/by/s3cmd.bin"], { json: true }),
    );
    assertEquals([entry.type, entry.size], ["file", 3 * MiB + 7]);
    assert(
      entry.mtime > Date.now() - 600_000,
      `mtime ${entry.mtime} is not the upload time`,
    );
    const back = join(s.work, "made-back.bin");
    await c.run("get", ["made/by/s3cmd.bin", back]);
    assertEquals(await sha256File(back), await sha256File(other));
    const tree = join(s.work, "made-tree");
    await c.run("get", ["made", tree], { recursive: true });
    assertEquals(
      await sha256File(join(tree, "by", "s3cmd.bin")),
      await sha256File(other),
    );
    assertEquals(
      await c.run("hash", ["made/by/s3cmd.bin"]),
      `${await sha256File(other)}  made/by/s3cmd.bin`,
    );
  },
);

s3Session(
  "kill -9 of the fts server in the middle of a 300 MiB put shows no object; another server resumes it intact",
  async (s) => {
    const size = 300 * MiB;
    const source = join(s.work, "big.bin");
    await randomFile(source, size);
    const key = `${PREFIX}/big.bin`;
    const client = s.t.store.client;
    const first = await s.serveProcess();
    // Throttled so that the kill lands in the middle of the transfer.
    const put = spawnConnect([
      first.address,
      "put",
      source,
      "--limit-rate",
      "60M",
    ]);
    let stored = 0;
    try {
      await until("100 MiB of parts on the gateway", async () => {
        stored = (await storedParts(client, key)).bytes;
        return stored >= 100 * MiB;
      }, 60_000);
      assertEquals(
        await headStatus(client, key),
        404,
        "the object showed before its upload finished",
      );
    } finally {
      await first.stop("SIGKILL");
    }
    const cut = await put.output();
    assertEquals(cut.code, 1, "the client did not notice the server's death");
    assertEquals(await headStatus(client, key), 404);
    assertEquals(await s.keys(), [], "a half object is visible to s3cmd");
    const kept = await storedParts(client, key);
    assertEquals(kept.uploads, 1);
    assert(
      kept.bytes < size && kept.bytes >= stored,
      `${kept.bytes} bytes kept`,
    );

    const second = await s.serveProcess();
    const rerun = await s.fts(second.address, ["put", source]);
    assertEquals(rerun.code, 0, rerun.stderr);
    const resumed = /resuming "big\.bin" at (\d+\.\d) MiB of 300\.0 MiB/.exec(
      rerun.stderr,
    );
    if (!resumed) throw new Error(`the rerun started over: ${rerun.stderr}`);
    assert(
      Number(resumed[1]) * MiB >= 64 * MiB,
      `resumed at only ${resumed[1]} MiB`,
    );
    assertEquals(await storedParts(client, key), { uploads: 0, bytes: 0 });
    assertEquals(await s.keys(), ["big.bin"]);
    const back = join(s.work, "back.bin");
    await s.t.s3cmd("get", `s3://${s.t.bucket}/${key}`, back);
    assertEquals(await sha256File(back), await sha256File(source));
  },
);

s3Session(
  "kill -9 of radosgw in the middle of a put fails it with one clear line; after a restart the rerun completes",
  async (s) => {
    // Few, short retries, so that the failure is reported within seconds.
    const server = await s.serve({
      s3: {
        env: awsEnv(s.env),
        retry: {
          attempts: 3,
          baseDelayMs: 100,
          maxDelayMs: 300,
          timeoutMs: 3000,
        },
      },
    });
    const address = `127.0.0.1:${server.addr.port}`;
    const source = join(s.work, "crash.bin");
    await randomFile(source, 40 * MiB);
    const key = `${PREFIX}/crash.bin`;
    const client = s.t.store.client;
    let up = true;
    try {
      const put = spawnConnect([
        address,
        "put",
        source,
        "--limit-rate",
        "8M",
      ]);
      await until(
        "a part on the gateway",
        async () => (await storedParts(client, key)).bytes > 0,
      );
      await gatewayScript("kill_radosgw.sh", gatewayDir);
      up = false;
      const failed = await put.output();
      const stderr = new TextDecoder().decode(failed.stderr);
      assertEquals(failed.code, 1, stderr);
      assertEquals(lines(stderr).length, 1, stderr);
      assertMatch(
        stderr.trim(),
        /^fts: cannot put "[^"]*crash\.bin": the object store at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(.*\)$/,
      );
      const ls = await s.fts(address, ["ls"]);
      assertEquals(ls.code, 1);
      assertEquals(lines(ls.stderr).length, 1, ls.stderr);
      assertStringIncludes(ls.stderr, "cannot be reached");

      await gatewayScript("start_radosgw.sh", gatewayDir);
      up = true;
      assertEquals(
        await headStatus(client, key),
        404,
        "a half object is visible",
      );
      const rerun = await s.fts(address, ["put", source]);
      assertEquals(rerun.code, 0, rerun.stderr);
      const back = join(s.work, "back.bin");
      await s.t.s3cmd("get", `s3://${s.t.bucket}/${key}`, back);
      assertEquals(await sha256File(back), await sha256File(source));
    } finally {
      if (!up) await gatewayScript("start_radosgw.sh", gatewayDir);
    }
  },
  noRestartableGateway,
);

s3Session(
  "bad credentials: serve refuses at start with one line that holds no secret",
  async (s) => {
    for (
      const [name, value] of [[
        "AWS_SECRET_ACCESS_KEY",
        "not-the-secret-0123456789",
      ], ["AWS_ACCESS_KEY_ID", "NOSUCHKEY0123456789"]]
    ) {
      const result = await runFts([
        "serve",
        s.target,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ], {
        env: { ...awsEnv(s.env), [name]: value },
        timeoutMs: 60_000,
      });
      assertEquals(result.code, 1, result.stdout);
      assertEquals(lines(result.stderr).length, 1, result.stderr);
      assertMatch(
        result.stderr.trim(),
        new RegExp(`^fts: cannot serve "${s.target}": .*credentials`),
      );
      assertNotMatch(result.stdout, /listening/);
      for (const secret of [s.env.secretKey, "not-the-secret-0123456789"]) {
        assert(!result.stderr.includes(secret), "the error shows a secret");
      }
    }
    const missing = await runFts([
      "serve",
      s.target,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ], {
      env: { AWS_ENDPOINT_URL: s.env.endpoint },
      timeoutMs: 60_000,
    });
    assertEquals(missing.code, 1);
    assertMatch(
      missing.stderr.trim(),
      /^fts: cannot serve "s3:\/\/[^"]+": AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set/,
    );
  },
);

s3Session(
  "a missing bucket: serve refuses at start with one line naming it",
  async (s) => {
    const target = `s3://${s.t.bucket}-missing/${PREFIX}`;
    const result = await runFts([
      "serve",
      target,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ], {
      env: awsEnv(s.env),
      timeoutMs: 60_000,
    });
    assertEquals(result.code, 1, result.stdout);
    assertEquals(lines(result.stderr), [
      `fts: cannot serve "${target}": the bucket "${s.t.bucket}-missing" does not exist at ${
        new URL(s.env.endpoint).origin
      }`,
    ]);
  },
);

s3Session(
  "HTTP and WebDAV with curl on an S3-served server: MKCOL, PUT, PROPFIND, ranged GET, DELETE",
  async (s) => {
    const server = await s.serve({ http: { hostname: "127.0.0.1", port: 0 } });
    const url = `http://127.0.0.1:${server.http!.addr.port}`;
    const curl = async (...args: string[]) => {
      const result = await runProgram("curl", ["-sS", "-f", ...args], {
        timeoutMs: 60_000,
      });
      assertEquals(result.code, 0, `curl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    await curl("-X", "MKCOL", `${url}/web/`);
    const file = join(s.work, "web.bin");
    const bytes = await randomFile(file, 12 * MiB + 3);
    await curl("-T", file, `${url}/web/web.bin`);
    const fromS3cmd = join(s.work, "web-s3cmd.bin");
    await s.t.s3cmd(
      "get",
      `s3://${s.t.bucket}/${PREFIX}/web/web.bin`,
      fromS3cmd,
    );
    assertEquals(await sha256File(fromS3cmd), await sha256File(file));

    const listing = await curl(
      "-X",
      "PROPFIND",
      "-H",
      "Depth: 1",
      `${url}/web/`,
    );
    assertStringIncludes(listing, "web.bin");
    assertStringIncludes(listing, String(bytes.length));
    const range = await runProgram("curl", [
      "-sS",
      "-f",
      "-r",
      "1000-1999",
      "-o",
      join(s.work, "range.bin"),
      `${url}/web/web.bin`,
    ], { timeoutMs: 60_000 });
    assertEquals(range.code, 0, range.stderr);
    assertEquals(
      await Deno.readFile(join(s.work, "range.bin")),
      bytes.subarray(1000, 2000),
    );

    await s.t.s3cmd(
      "put",
      file,
      `s3://${s.t.bucket}/${PREFIX}/web/from-s3cmd.bin`,
    );
    const whole = join(s.work, "whole.bin");
    await curl("-o", whole, `${url}/web/from-s3cmd.bin`);
    assertEquals(await sha256File(whole), await sha256File(file));
    await curl("-X", "DELETE", `${url}/web/web.bin`);
    assertEquals(await s.keys(), ["web/", "web/from-s3cmd.bin"]);
  },
);
