/**
 * TLS end to end: transfers over TLS arrive intact, `--fingerprint` pins a
 * server, an unknown server is refused without a terminal to ask on, a
 * server whose certificate changed is refused loudly, and a client and
 * server that disagree about TLS both say so clearly.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { download } from "../client/download.ts";
import { normalizeFingerprint } from "../client/host_trust.ts";
import { KnownHosts } from "../client/known_hosts.ts";
import type { Reporter } from "../client/reporter.ts";
import {
  TlsRequiredError,
  TlsUnavailableError,
  TransportOpener,
  UnknownHostError,
  UntrustedCertificateError,
} from "../client/tls_connect.ts";
import { parseTarget } from "../client/target.ts";
import { upload } from "../client/upload.ts";
import { UsageError } from "../cli/usage_error.ts";
import {
  type CertificateKeyPair,
  createSelfSignedCertificate,
} from "../server/certificate.ts";
import { coalescingWritable } from "../server/net/coalescing_writable.ts";
import { FtsServer } from "../server/server.ts";
import { randomBytes, runFts, startServe } from "./helpers/cli.ts";
import { startServer } from "./helpers/server.ts";

const quiet: Reporter = { info: () => {}, progress: () => null };
const OPTIONS = { resume: true, noClobber: false, verify: true };

/** A fresh configuration directory, removed by `using`. */
async function configDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "fts-config-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

let certificates: Promise<CertificateKeyPair[]> | undefined;
/** Two self-signed certificates, made once for the whole file. */
function twoCertificates(): Promise<CertificateKeyPair[]> {
  return certificates ??= Promise.all([
    createSelfSignedCertificate(),
    createSelfSignedCertificate(),
  ]);
}

Deno.test("a put and get of a few MiB over TLS arrive intact", async () => {
  const [cert] = await twoCertificates();
  const { root, port, cleanup } = await startServer({ tls: cert });
  await using config = await configDir();
  const work = await Deno.makeTempDir({ prefix: "fts-work-" });
  const connection = await Connection.open({ hostname: "127.0.0.1", port }, {
    transport: new TransportOpener({
      fingerprint: cert.fingerprint,
      knownHosts: new KnownHosts(join(config.path, "known_hosts")),
    }),
  });
  try {
    assert(connection.tls);
    assert(connection.welcome.tls);
    const data = randomBytes(5 * 1024 * 1024 + 12345);
    await Deno.writeFile(join(work, "in.bin"), data);
    await upload(connection, join(work, "in.bin"), "tls.bin", OPTIONS, quiet);
    assertEquals(await Deno.readFile(join(root, "tls.bin")), data);
    await download(
      connection,
      "tls.bin",
      join(work, "out.bin"),
      OPTIONS,
      quiet,
    );
    assertEquals(await Deno.readFile(join(work, "out.bin")), data);
  } finally {
    await connection.close();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("fts serve --tls prints its fingerprint; --fingerprint pins it", async () => {
  await using serverConfig = await configDir();
  await using clientConfig = await configDir();
  const root = await Deno.makeTempDir({ prefix: "fts-test-root-" });
  const server = await startServe(root, ["--tls"], {
    env: { FTS_CONFIG_DIR: serverConfig.path },
    lines: 2,
  });
  try {
    assertMatch(
      server.lines[1],
      /^fts tls fingerprint SHA256:[A-Za-z0-9+/]{43}$/,
    );
    const fingerprint = server.lines[1].split(" ")[3];
    const key = await Deno.stat(join(serverConfig.path, "key.pem"));
    assertEquals(key.mode! & 0o777, 0o600);
    const env = { FTS_CONFIG_DIR: clientConfig.path };

    const pinned = await runFts(
      [
        "connect",
        server.address,
        "mkdir",
        "pinned",
        "--fingerprint",
        fingerprint,
      ],
      { env },
    );
    assertEquals(pinned.code, 0, pinned.stderr);
    const knownHosts = await Deno.readTextFile(
      join(clientConfig.path, "known_hosts"),
    );
    assertStringIncludes(knownHosts, `${server.address} ${fingerprint} `);

    // Known now: TLS without any flag, no question asked.
    const again = await runFts(["connect", server.address, "ls"], { env });
    assertEquals(again.code, 0, again.stderr);
    assertStringIncludes(again.stdout, "pinned/");

    // A wrong --fingerprint is refused, naming both.
    const wrong = "SHA256:" + "A".repeat(43);
    const refused = await runFts(
      ["connect", server.address, "ls", "--fingerprint", wrong],
      { env },
    );
    assertEquals(refused.code, 1);
    assertStringIncludes(refused.stderr, wrong);
    assertStringIncludes(refused.stderr, fingerprint);
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a first connection without a terminal or --fingerprint is refused", async () => {
  const [cert] = await twoCertificates();
  const { port, cleanup } = await startServer({ tls: cert });
  await using config = await configDir();
  try {
    const result = await runFts(
      ["connect", `127.0.0.1:${port}`, "ls", "--tls"],
      { env: { FTS_CONFIG_DIR: config.path } },
    );
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr.trim(),
      `fts: cannot connect to 127.0.0.1:${port}: unknown host certificate ` +
        `${cert.fingerprint}; pass --fingerprint ${cert.fingerprint} to trust it`,
    );
    // Nothing was remembered.
    await assertRejects(() => Deno.stat(join(config.path, "known_hosts")));
    // In process, the same refusal is a typed error.
    await assertRejects(
      () =>
        Connection.open({ hostname: "127.0.0.1", port }, {
          transport: new TransportOpener({
            tls: true,
            knownHosts: new KnownHosts(join(config.path, "known_hosts")),
          }),
        }),
      UnknownHostError,
      cert.fingerprint,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("a pinned server that comes back with another certificate is refused loudly", async () => {
  const [first, second] = await twoCertificates();
  await using config = await configDir();
  const root = await Deno.makeTempDir({ prefix: "fts-test-root-" });
  const env = { FTS_CONFIG_DIR: config.path };
  let server = await FtsServer.start({
    root,
    hostname: "127.0.0.1",
    port: 0,
    log: null,
    tls: first,
  });
  const port = server.addr.port;
  try {
    const pinned = await runFts(
      [
        "connect",
        `127.0.0.1:${port}`,
        "ls",
        "--fingerprint",
        first.fingerprint,
      ],
      { env },
    );
    assertEquals(pinned.code, 0, pinned.stderr);
    await server.shutdown(0);
    server = await FtsServer.start({
      root,
      hostname: "127.0.0.1",
      port,
      log: null,
      tls: second,
    });
    await Deno.writeTextFile(join(root, "secret.txt"), "do not send me");
    for (const flags of [[], ["--tls"]]) {
      const result = await runFts(
        ["connect", `127.0.0.1:${port}`, "get", "secret.txt", "-", ...flags],
        { env },
      );
      assertEquals(result.code, 1);
      assertEquals(result.stdout, "");
      assertStringIncludes(
        result.stderr,
        "REMOTE HOST IDENTIFICATION HAS CHANGED",
      );
      assertStringIncludes(result.stderr, first.fingerprint);
      assertStringIncludes(result.stderr, second.fingerprint);
      assertStringIncludes(result.stderr, join(config.path, "known_hosts"));
    }
    // The remembered entry is untouched.
    const knownHosts = await Deno.readTextFile(
      join(config.path, "known_hosts"),
    );
    assertStringIncludes(knownHosts, first.fingerprint);
    assert(!knownHosts.includes(second.fingerprint));
  } finally {
    await server.shutdown(0);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a plain client at a TLS server is told to use --tls; the server logs it", async () => {
  const [cert] = await twoCertificates();
  const log: string[] = [];
  const { port, cleanup } = await startServer({
    tls: cert,
    log: (line) => void log.push(line),
  });
  await using config = await configDir();
  try {
    const result = await runFts(["connect", `127.0.0.1:${port}`, "ls"], {
      env: { FTS_CONFIG_DIR: config.path },
    });
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr.trim(),
      `fts: cannot connect to 127.0.0.1:${port}: the server requires TLS (use --tls)`,
    );
    await assertRejects(
      () => Connection.open({ hostname: "127.0.0.1", port }),
      TlsRequiredError,
    );
    assert(
      log.some((line) => line.endsWith("refused: not a TLS client")),
      log.join("\n"),
    );
  } finally {
    await cleanup();
  }
});

Deno.test("a TLS client at a plain server is told it does not speak TLS; the server logs it", async () => {
  const log: string[] = [];
  const { port, cleanup } = await startServer({
    log: (line) => void log.push(line),
  });
  await using config = await configDir();
  try {
    const env = { FTS_CONFIG_DIR: config.path };
    for (
      const flags of [["--tls"], ["--fingerprint", "SHA256:" + "B".repeat(43)]]
    ) {
      const result = await runFts(
        ["connect", `127.0.0.1:${port}`, "ls", ...flags],
        { env },
      );
      assertEquals(result.code, 1);
      assertEquals(
        result.stderr.trim(),
        `fts: cannot connect to 127.0.0.1:${port}: the server does not speak TLS`,
      );
    }
    await assertRejects(
      () =>
        Connection.open({ hostname: "127.0.0.1", port }, {
          transport: new TransportOpener({ tls: true, knownHosts: null }),
        }),
      TlsUnavailableError,
    );
    assert(
      log.some((line) =>
        line.endsWith("refused: a TLS client connected to a plaintext server")
      ),
      log.join("\n"),
    );
  } finally {
    await cleanup();
  }
});

// Whether small replies over TLS wait for delayed ACKs is a matter of
// speed, so it is measured by the benchmarks, not asserted here; that the
// server gathers a reply's small writes into one is proven below.
Deno.test("coalescingWritable gathers small writes, passes large ones, keeps order", async () => {
  const writes: Uint8Array[] = [];
  const inner = new WritableStream<Uint8Array>({
    write: (chunk) => void writes.push(chunk.slice()),
  });
  const { writable, flush } = coalescingWritable(inner, {
    limit: 8,
    delayMs: 10_000,
  });
  const writer = writable.getWriter();
  const reused = new Uint8Array([1, 2]);
  await writer.write(reused);
  reused.fill(9); // gathered chunks are copied
  await writer.write(new Uint8Array([3]));
  assertEquals(writes.length, 0);
  await writer.write(new Uint8Array(20).fill(4)); // large: flush, then it
  await writer.write(new Uint8Array([5, 6, 7, 8, 9, 10]));
  await writer.write(new Uint8Array([11, 12, 13])); // would overflow: flush first
  await flush();
  await writer.close();
  assertEquals(writes.map((w) => Array.from(w)), [
    [1, 2, 3],
    Array(20).fill(4),
    [5, 6, 7, 8, 9, 10],
    [11, 12, 13],
  ]);
});

Deno.test("a first connection asks, remembers the answer, and pins", async () => {
  const [cert] = await twoCertificates();
  const { port, cleanup } = await startServer({ tls: cert });
  await using config = await configDir();
  const knownHosts = new KnownHosts(join(config.path, "known_hosts"));
  const asked: string[] = [];
  const open = (answer: boolean) =>
    Connection.open({ hostname: "127.0.0.1", port }, {
      transport: new TransportOpener({
        tls: true,
        knownHosts,
        ask: (label, fingerprint) => {
          asked.push(`${label} ${fingerprint}`);
          return Promise.resolve(answer);
        },
      }),
    });
  try {
    await assertRejects(() => open(false), UntrustedCertificateError);
    assertEquals(await knownHosts.lookup(`127.0.0.1:${port}`), undefined);
    const accepted = await open(true);
    assert(accepted.tls);
    await accepted.close();
    assertEquals(
      (await knownHosts.lookup(`127.0.0.1:${port}`))?.fingerprint,
      cert.fingerprint,
    );
    const again = await open(false); // known now: not asked
    await again.close();
    assertEquals(asked, [
      `127.0.0.1:${port} ${cert.fingerprint}`,
      `127.0.0.1:${port} ${cert.fingerprint}`,
    ]);
  } finally {
    await cleanup();
  }
});

Deno.test("--ca verifies the server by name against that certificate authority", async () => {
  const [cert, other] = await twoCertificates();
  const { port, cleanup } = await startServer({ tls: cert });
  await using config = await configDir();
  const env = { FTS_CONFIG_DIR: config.path };
  try {
    const good = join(config.path, "good.pem");
    const bad = join(config.path, "bad.pem");
    await Deno.writeTextFile(good, cert.certPem);
    await Deno.writeTextFile(bad, other.certPem);
    // The certificate names 127.0.0.1 and localhost.
    for (const host of ["127.0.0.1", "localhost"]) {
      const ok = await runFts(
        ["connect", `${host}:${port}`, "ls", "--ca", good],
        { env },
      );
      assertEquals(ok.code, 0, ok.stderr);
    }
    const refused = await runFts(
      ["connect", `127.0.0.1:${port}`, "ls", "--ca", bad],
      { env },
    );
    assertEquals(refused.code, 1);
    assertStringIncludes(refused.stderr, "certificate is not trusted");
    // Nothing is pinned with --ca.
    await assertRejects(() => Deno.stat(join(config.path, "known_hosts")));
  } finally {
    await cleanup();
  }
});

Deno.test("parseTarget takes an optional user; fingerprints are normalized", () => {
  assertEquals(parseTarget("files.lan"), {
    hostname: "files.lan",
    port: 7373,
  });
  assertEquals(parseTarget("ann@files.lan:9000"), {
    hostname: "files.lan",
    port: 9000,
    user: "ann",
  });
  assertEquals(parseTarget("ann@example.com@[::1]"), {
    hostname: "::1",
    port: 7373,
    user: "ann@example.com",
  });
  assertThrows(() => parseTarget("@files.lan"), UsageError);
  assertThrows(() => parseTarget("ann@"), UsageError);

  const fingerprint = "SHA256:i8vBGTd2klHTjsvSc4tybnTDG05Tpadi1eN66pRNPW4";
  assertEquals(normalizeFingerprint(fingerprint), fingerprint);
  assertEquals(normalizeFingerprint(fingerprint.slice(7) + "="), fingerprint);
  assertEquals(
    normalizeFingerprint("sha256:" + fingerprint.slice(7)),
    fingerprint,
  );
  assertThrows(() => normalizeFingerprint("SHA256:abc"), UsageError);
  assertThrows(() => normalizeFingerprint("deadbeef"), UsageError);
});
