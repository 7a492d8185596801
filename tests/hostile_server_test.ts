/**
 * A malicious or broken server cannot harm the client: its text never
 * reaches the terminal raw, its listings are checked, it cannot pick a
 * resume offset the client never offered, and a link planted at the
 * partial-file name is never followed. Fake servers are written here with
 * the protocol's encoders; the planted-partial cases use a real server.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { partialPath } from "../client/download.ts";
import type { Entry } from "../protocol/mod.ts";
import { runFts } from "./helpers/cli.ts";
import { type FakeHandler, startFakeServer } from "./helpers/fake_server.ts";
import { startServer } from "./helpers/server.ts";

const EVIL = "x\x1b]0;owned\x07\x1b[2J\r\nfts: fake line\x9b31m";

function fileEntry(name: string, size = 10): Entry {
  return { name, type: "file", size, mtime: 1_700_000_000_000, mode: 0o644 };
}

async function withFake(
  handler: FakeHandler,
  run: (address: string) => Promise<void>,
): Promise<void> {
  const server = startFakeServer(handler);
  try {
    await run(server.address);
  } finally {
    await server.close();
  }
}

/** No byte that could drive a terminal: no C0 but newline, no DEL, no C1. */
function assertTerminalSafe(text: string): void {
  // deno-lint-ignore no-control-regex -- looking for control characters
  const unsafe = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.exec(text);
  assert(unsafe === null, `raw control character in ${JSON.stringify(text)}`);
}

const listing: FakeHandler = async (request, { writer }) => {
  if (request.op === "ls") {
    await writer.send({ op: "listing", path: request.path });
    const lines = [fileEntry(EVIL), { ...fileEntry("ok.txt") }]
      .map((entry) => JSON.stringify(entry) + "\n").join("");
    await writer.sendBody([new TextEncoder().encode(lines)]);
  } else if (request.op === "stat") {
    await writer.send({ op: "entry", entry: fileEntry(EVIL) });
  } else {
    await writer.send({ op: "error", code: "io", reason: EVIL });
  }
};

Deno.test("ls escapes control characters in names a server sends", async () => {
  await withFake(listing, async (address) => {
    const result = await runFts(["connect", address, "ls"]);
    assertEquals(result.code, 0, result.stderr);
    assertTerminalSafe(result.stdout);
    assertStringIncludes(
      result.stdout,
      "x\\e]0;owned\\x07\\e[2J\\r\\nfts: fake line\\x9b31m",
    );
    assertEquals(result.stdout.trim().split("\n").length, 2);
  });
});

Deno.test("stat and --json output escape control characters and stay valid JSON", async () => {
  await withFake(listing, async (address) => {
    const stat = await runFts(["connect", address, "stat", "a"]);
    assertEquals(stat.code, 0, stat.stderr);
    assertTerminalSafe(stat.stdout);
    assertStringIncludes(stat.stdout, "name: x\\e]0;owned");
    const json = await runFts(["connect", address, "ls", "--json"]);
    assertEquals(json.code, 0, json.stderr);
    assertTerminalSafe(json.stdout);
    const entries = JSON.parse(json.stdout) as Entry[];
    assertEquals(entries[0].name, EVIL);
  });
});

Deno.test("an error reason from the server is printed escaped, on one line", async () => {
  await withFake(listing, async (address) => {
    const result = await runFts(["connect", address, "rm", "a"]);
    assertEquals(result.code, 1);
    assertTerminalSafe(result.stderr);
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
    assertStringIncludes(result.stderr, 'fts: cannot remove "a": x\\e]0;owned');
  });
});

Deno.test("a notice from the server is printed escaped", async () => {
  await withFake(async (request, { writer }) => {
    await writer.send({ op: "notice", message: EVIL });
    if (request.op === "mkdir") await writer.send({ op: "ok" });
  }, async (address) => {
    const result = await runFts(["connect", address, "mkdir", "a"]);
    assertEquals(result.code, 0, result.stderr);
    assertTerminalSafe(result.stderr);
    assertStringIncludes(result.stderr, "server: x\\e]0;owned");
  });
});

Deno.test("a malformed listing entry is refused with one line", async () => {
  await withFake(async (request, { writer }) => {
    if (request.op !== "ls") return;
    await writer.send({ op: "listing", path: "" });
    const bad = JSON.stringify({ name: 7, type: "file", size: -1 }) + "\n";
    await writer.sendBody([new TextEncoder().encode(bad)]);
  }, async (address) => {
    const result = await runFts(["connect", address, "ls"]);
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr.trim(),
      'fts: cannot list "/": the server sent a malformed entry',
    );
  });
});

Deno.test("get refuses a resume offset it never offered and writes nothing", async () => {
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  try {
    await withFake(async (request, { writer }) => {
      if (request.op === "stat") {
        await writer.send({ op: "entry", entry: fileEntry("f.bin", 10) });
      } else if (request.op === "get") {
        // The client offered 0; a hostile server claims it holds 5 bytes.
        await writer.send({ op: "data", offset: 5, size: 10 });
        await writer.sendBody([new Uint8Array(5).fill(65)]);
      }
    }, async (address) => {
      const result = await runFts(["connect", address, "get", "f.bin"], {
        cwd: local,
      });
      assertEquals(result.code, 1);
      assertEquals(
        result.stderr.trim(),
        'fts: cannot get "f.bin": the server answered with offset 5, not the 0 offered',
      );
      assertEquals([...Deno.readDirSync(local)], []);
    });
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("get never writes through a symlink planted at the partial-file name", async () => {
  const server = await startServer();
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  try {
    const content = new TextEncoder().encode("the server's file\n");
    await Deno.writeFile(join(server.root, "f.txt"), content);
    const victim = join(local, "victim.txt");
    await Deno.writeTextFile(victim, "precious\n");
    const connection = await Connection.open({
      hostname: "127.0.0.1",
      port: server.port,
    });
    const entry = await connection.stat("f.txt");
    await connection.close();
    const target = join(local, "f.txt");
    await Deno.symlink(victim, partialPath(target, "f.txt", entry));
    const result = await runFts([
      "connect",
      `127.0.0.1:${server.port}`,
      "get",
      "f.txt",
    ], { cwd: local });
    assertEquals(result.code, 0, result.stderr);
    assertEquals(await Deno.readTextFile(victim), "precious\n");
    assertEquals(await Deno.readFile(target), content);
    assert((await Deno.lstat(target)).isFile);
  } finally {
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("get of a name of 250 bytes works: the partial's name is cut to fit", async () => {
  const server = await startServer();
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  try {
    const name = "é".repeat(120) + "-tail.bin";
    assert(new TextEncoder().encode(name).byteLength > 240);
    await Deno.writeTextFile(join(server.root, name), "long\n");
    const result = await runFts([
      "connect",
      `127.0.0.1:${server.port}`,
      "get",
      name,
    ], { cwd: local });
    assertEquals(result.code, 0, result.stderr);
    assertEquals(await Deno.readTextFile(join(local, name)), "long\n");
    assertEquals([...Deno.readDirSync(local)].length, 1);
  } finally {
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("get into a folder holding a folder of that name is refused before downloading", async () => {
  const server = await startServer();
  const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
  try {
    await Deno.writeTextFile(join(server.root, "g.bin"), "data\n");
    await Deno.mkdir(join(local, "gl", "g.bin"), { recursive: true });
    const result = await runFts([
      "connect",
      `127.0.0.1:${server.port}`,
      "get",
      "g.bin",
      "gl/",
    ], { cwd: local });
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr.trim(),
      'fts: cannot get "g.bin": "gl/g.bin" is a local folder',
    );
    assertEquals(
      [...Deno.readDirSync(join(local, "gl"))].map((e) => e.name),
      ["g.bin"],
    );
  } finally {
    await server.cleanup();
    await Deno.remove(local, { recursive: true });
  }
});

for (const path of ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"]) {
  Deno.test(`get -r refuses a tree listing with the entry "${path}" and writes nothing`, async () => {
    const local = await Deno.makeTempDir({ prefix: "fts-test-local-" });
    try {
      await withFake(async (request, { writer }) => {
        if (request.op === "stat") {
          await writer.send({
            op: "entry",
            entry: { ...fileEntry("tree"), type: "dir", size: 0 },
          });
        } else if (request.op === "tree-get") {
          await writer.send({ op: "tree-list", path: request.path });
          const item = (p: string, type: string) =>
            JSON.stringify({ path: p, type, size: 3, mtime: 0, mode: 0o644 });
          const body = [item("", "dir"), item(path, "file")].join("\n") + "\n";
          await writer.sendBody([new TextEncoder().encode(body)]);
        } else {
          await writer.send({ op: "error", code: "protocol", reason: "no" });
        }
      }, async (address) => {
        const result = await runFts(["connect", address, "get", "-r", "tree"], {
          cwd: local,
        });
        assertEquals(result.code, 1, result.stderr);
        assertTerminalSafe(result.stderr);
        assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
        assertStringIncludes(result.stderr, 'cannot get -r "tree"');
        assertEquals([...Deno.readDirSync(local)], []);
      });
    } finally {
      await Deno.remove(local, { recursive: true });
    }
  });
}

Deno.test("a server answering the login with a signature of the wrong length is refused: wrong server signature", async () => {
  const server = startFakeServer(async (request, { writer, reader }) => {
    if (request.op !== "auth") {
      await writer.send({ op: "error", code: "auth", reason: "log in" });
      return;
    }
    const nonce = /,r=([^,]+)/.exec(request.data)![1];
    const salt = new Uint8Array(16).toBase64();
    await writer.send({
      op: "auth-continue",
      data: `r=${nonce}fake,s=${salt},i=4096`,
    });
    await reader.read(); // client-final
    // 3 bytes where 32 belong.
    await writer.send({ op: "auth-ok", data: "v=AQID", readOnly: false });
  }, { auth: "scram-sha-256" });
  try {
    const result = await runFts(["connect", `ann@${server.address}`, "ls"], {
      env: { FTS_PASSWORD: "pw" },
    });
    assert(result.code !== 0, "the login must fail");
    assertStringIncludes(result.stderr, "wrong server signature");
    assert(
      !result.stderr.includes("byte lengths"),
      `no internal error: ${result.stderr}`,
    );
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  } finally {
    await server.close();
  }
});
