/**
 * TCP connections that never send a ClientHello to a TLS server: at the
 * login deadline their sessions end and their descriptors are really freed
 * while the silent peers still hold their ends (Deno alone would keep each
 * until its peer leaves, see server/socket_release.ts), so do those refused
 * at the connection limit, and a TLS client is served meanwhile and after;
 * `fts serve --tls` under a low descriptor limit outlasts more silent
 * connections than it has descriptors; and the HTTP front-end, plain or
 * TLS, closes connections that send nothing at the same deadline.
 * The silent peers run in a child process, so that the sockets counted here
 * on the server's port are the server's ends only.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import { KnownHosts } from "../client/known_hosts.ts";
import { TransportOpener } from "../client/tls_connect.ts";
import { createSelfSignedCertificate } from "../server/certificate.ts";
import { FtsServer } from "../server/server.ts";
import { ipBytes } from "../server/net/socket_release.ts";
import { connectionsOn } from "./helpers/descriptors.ts";
import { haveIpv6, MAIN, runFts } from "./helpers/cli.ts";
import { HOST, waitFor } from "./helpers/raw_peer.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

/**
 * Opens `count` TCP connections to `hostname:port` once told to on stdin,
 * says `connected` and holds them, sending nothing, until stdin closes.
 */
const SILENT_PEERS = `
const [hostname, port, count] = Deno.args;
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
await lines.read();
const held = [];
for (let i = 0; i < Number(count); i++) {
  held.push(await Deno.connect({ hostname, port: Number(port) }));
}
await Deno.stdout.write(new TextEncoder().encode("connected\\n"));
while (!(await lines.read()).done);
`;

/** The silent peers of {@linkcode SILENT_PEERS} in a child process. */
interface SilentPeers {
  /** Has them connect. */
  connect(): Promise<void>;
  /** Has them leave and waits for the child to end. */
  leave(): Promise<void>;
}

function silentPeers(
  hostname: string,
  port: number,
  count: number,
): SilentPeers {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", SILENT_PEERS, hostname, String(port), String(count)],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  return {
    async connect() {
      await stdin.write(new TextEncoder().encode("go\n"));
      assertEquals((await stdout.read()).value, "connected\n");
    },
    async leave() {
      await stdin.close().catch(() => {});
      await child.status;
      await stdout.cancel().catch(() => {});
    },
  };
}

/** Whether this machine has an IPv6 loopback. */
for (const hostname of ["127.0.0.1", "::1"]) {
  Deno.test({
    name:
      `silent TCP connections to a TLS server on ${hostname} give back their descriptors at the handshake deadline while the peers hold them, also beyond the connection limit; a TLS client is served`,
    ignore: hostname === "::1" &&
      prerequisite("an IPv6 loopback (::1)", haveIpv6()),
    async fn() {
      const cert = await createSelfSignedCertificate();
      const root = await Deno.makeTempDir({ prefix: "fts-root-" });
      const config = await Deno.makeTempDir({ prefix: "fts-config-" });
      const limit = 10;
      const server = await FtsServer.start({
        root,
        hostname,
        port: 0,
        log: null,
        tls: cert,
        // Long enough that a loaded machine sees all the peers before the
        // deadline closes them, short enough to wait for.
        loginTimeoutMs: 2000,
        maxConnections: limit,
      });
      const port = server.addr.port;
      const peers = silentPeers(hostname, port, 2 * limit);
      const tlsClient = async () => {
        const connection = await Connection.open({ hostname, port }, {
          transport: new TransportOpener({
            fingerprint: cert.fingerprint,
            knownHosts: new KnownHosts(join(config, "known_hosts")),
          }),
        });
        assertEquals(await connection.list(""), []);
        await connection.close();
      };
      try {
        await peers.connect();
        // Half of them hold sessions, the other half are refused as busy
        // (and held for a while to be told so).
        await waitFor(
          "the refused connections to be held",
          () => connectionsOn(port) >= limit,
        );
        await waitFor(
          "no server-side socket left with the peers still connected",
          () => connectionsOn(port) === 0,
          30_000,
        );
        assertEquals(server.connections, 0);
        // The peers only leave when their stdin closes.
        await tlsClient();
      } finally {
        await peers.leave();
        await server.shutdown(1000);
        await Deno.remove(root, { recursive: true });
        await Deno.remove(config, { recursive: true });
      }
    },
  });
}

for (const tls of [false, true]) {
  const scheme = tls ? "https" : "http";
  Deno.test(`TCP connections that send nothing to the ${scheme} front-end are closed at the login deadline while the peers hold them; a browser request is served`, async () => {
    const cert = tls ? await createSelfSignedCertificate() : undefined;
    const root = await Deno.makeTempDir({ prefix: "fts-root-" });
    const server = await FtsServer.start({
      root,
      hostname: HOST,
      port: 0,
      log: null,
      tls: cert,
      // Long enough that a loaded machine sees all 20 before the deadline
      // closes them.
      loginTimeoutMs: 2000,
      http: { hostname: HOST, port: 0 },
    });
    const port = server.http!.addr.port;
    const peers = silentPeers(HOST, port, 20);
    const client = cert
      ? Deno.createHttpClient({ caCerts: [cert.certPem] })
      : undefined;
    try {
      await peers.connect();
      await waitFor(
        "the connections to be accepted",
        () => connectionsOn(port) === 20,
      );
      await waitFor(
        "no server-side socket left with the peers still connected",
        () => connectionsOn(port) === 0,
        30_000,
      );
      const response = await fetch(`${scheme}://${HOST}:${port}/`, { client });
      await response.body?.cancel();
      assertEquals(response.status, 200);
    } finally {
      client?.close();
      await peers.leave();
      await server.shutdown(1000);
      await Deno.remove(root, { recursive: true });
    }
  });
}

/** How many descriptors process `pid` has open, counted by `ls`. */
async function descriptorsOf(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ls", {
    args: [`/proc/${pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter(Boolean).length;
}

Deno.test("fts serve --tls under ulimit -n 64 outlasts 100 silent connections held open: its descriptors come back and a TLS client is served", async () => {
  const root = await Deno.makeTempDir({ prefix: "fts-root-" });
  const serverConfig = await Deno.makeTempDir({ prefix: "fts-config-" });
  const clientConfig = await Deno.makeTempDir({ prefix: "fts-config-" });
  const command =
    `ulimit -n 64 && exec "$0" run -A "$1" serve "$2" --host ${HOST} --port 0 --tls --login-timeout 1`;
  const child = new Deno.Command("sh", {
    args: ["-c", command, Deno.execPath(), MAIN, root],
    env: { FTS_CONFIG_DIR: serverConfig },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const log: string[] = [];
  const logDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void log.push(text) }),
  );
  const silent: Deno.TcpConn[] = [];
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let banner = "";
    while (!/fingerprint \S+\n/.test(banner)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`fts serve did not start: ${banner}`);
      banner += value;
    }
    reader.releaseLock();
    const port = Number(/listening on [\d.]+:(\d+)/.exec(banner)?.[1]);
    const fingerprint = /fingerprint (\S+)/.exec(banner)![1];
    const baseline = await descriptorsOf(child.pid);
    // More than the limit: the later ones wait in the backlog meanwhile.
    for (let i = 0; i < 100; i++) {
      silent.push(await Deno.connect({ hostname: HOST, port }));
    }
    await waitFor(
      "every silent session to end at the deadline",
      () => log.join("").split("closed: no login in time").length > 100,
      30_000,
    );
    // Two of slack: the server may open a descriptor of its own meanwhile
    // (its staging sweep, a runtime thread's event fd); the 100 sessions'
    // descriptors coming back is what this proves.
    await waitFor(
      "the server's descriptors back to the baseline",
      async () => await descriptorsOf(child.pid) <= baseline + 2,
    );
    // The silent peers still hold all their ends.
    assertEquals(silent.length, 100);
    const listed = await runFts(
      ["connect", `${HOST}:${port}`, "ls", "--fingerprint", fingerprint],
      { env: { FTS_CONFIG_DIR: clientConfig }, timeoutMs: 20_000 },
    );
    assertEquals(listed.code, 0, listed.stderr);
  } finally {
    for (const conn of silent) conn.close();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await logDone.catch(() => {});
    for (const dir of [root, serverConfig, clientConfig]) {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("ipBytes reads IPv4, IPv6 and IPv4-mapped addresses as the kernel stores them", () => {
  const hex = (text: string) => {
    const bytes = ipBytes(text);
    return bytes === null ? null : Array.from(
      bytes,
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  };
  const mapped = "00000000000000000000ffff7f000001";
  assertEquals(hex("127.0.0.1"), mapped);
  assertEquals(hex("::ffff:127.0.0.1"), mapped);
  assertEquals(hex("::ffff:7f00:1"), mapped);
  assertEquals(hex("::1"), "00000000000000000000000000000001");
  assertEquals(hex("::"), "0".repeat(32));
  assertEquals(
    hex("[fe80::1:2%eth0]"),
    "fe800000000000000000000000010002",
  );
  assertEquals(
    hex("2001:db8:0:1:2:3:4:5"),
    "20010db8000000010002000300040005",
  );
  for (const bad of ["1.2.3", "256.0.0.1", "1::2::3", "1:2:3", "host", ""]) {
    assertEquals(hex(bad), null, bad);
  }
});
