/**
 * Known hosts: remembering a server's certificate, recognising it later,
 * refusing a changed one loudly, and where the file lives.
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
import { createSelfSignedCertificate } from "../server/certificate.ts";
import { configDir } from "../config/config_dir.ts";
import {
  HostKeyMismatchError,
  hostPortKey,
  KnownHosts,
  knownHostsFile,
} from "../client/known_hosts.ts";

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fts_known_hosts_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sets environment variables for `fn` and restores them afterwards. */
function withEnv(vars: Record<string, string | undefined>, fn: () => void) {
  const saved = Object.fromEntries(
    Object.keys(vars).map((name) => [name, Deno.env.get(name)]),
  );
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  apply(vars);
  try {
    fn();
  } finally {
    apply(saved);
  }
}

const pair = await createSelfSignedCertificate();
const other = await createSelfSignedCertificate();

Deno.test("known hosts knows nothing about a new server", async () => {
  await withTempDir(async (dir) => {
    const hosts = new KnownHosts(join(dir, "known_hosts"));
    assertEquals(await hosts.lookup("example.org:7000"), undefined);
    assertEquals(
      await hosts.check("example.org:7000", pair.certPem),
      "unknown",
    );
  });
});

Deno.test("known hosts remembers a certificate and trusts it afterwards", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "sub", "known_hosts");
    const hosts = new KnownHosts(file);
    await hosts.remember("example.org:7000", pair.certPem);
    const found = await new KnownHosts(file).lookup("example.org:7000");
    assertEquals(found, {
      fingerprint: pair.fingerprint,
      certPem: pair.certPem,
      line: 1,
    });
    assertEquals(
      await hosts.check("example.org:7000", pair.certPem),
      "trusted",
    );
    // Other ports of the same host are other servers.
    assertEquals(await hosts.lookup("example.org:7001"), undefined);
    const text = await Deno.readTextFile(file);
    assert(text.startsWith(`example.org:7000 ${pair.fingerprint} `));
    if (Deno.build.os !== "windows") {
      assertEquals((await Deno.stat(file)).mode! & 0o077, 0);
    }
  });
});

Deno.test("known hosts refuses a changed certificate naming both fingerprints and the line", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "known_hosts");
    await Deno.writeTextFile(file, "# my servers\n\n");
    const hosts = new KnownHosts(file);
    await hosts.remember("a.example:7000", other.certPem);
    await hosts.remember("b.example:7000", pair.certPem);
    const error = await assertRejects(
      () => hosts.check("b.example:7000", other.certPem),
      HostKeyMismatchError,
    );
    assertEquals(error.expected, pair.fingerprint);
    assertEquals(error.actual, other.fingerprint);
    assertEquals(error.file, file);
    assertEquals(error.line, 4);
    assert(
      error.message.startsWith(
        "cannot connect to b.example:7000: the server's certificate has changed",
      ),
    );
    assertStringIncludes(
      error.message,
      "REMOTE HOST IDENTIFICATION HAS CHANGED",
    );
    assertStringIncludes(error.message, pair.fingerprint);
    assertStringIncludes(error.message, other.fingerprint);
    assertStringIncludes(error.message, `${file}:4`);
    assertStringIncludes(error.message, `remove line 4 from ${file}`);
  });
});

Deno.test("known hosts replaces an entry when told to remember a new certificate", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "known_hosts");
    const hosts = new KnownHosts(file);
    await hosts.remember("a.example:7000", pair.certPem);
    await hosts.remember("b.example:7000", pair.certPem);
    await hosts.remember("a.example:7000", other.certPem);
    assertEquals(await hosts.check("a.example:7000", other.certPem), "trusted");
    assertEquals(await hosts.check("b.example:7000", pair.certPem), "trusted");
    assertEquals((await Deno.readTextFile(file)).trim().split("\n").length, 2);
  });
});

Deno.test("known hosts reports a malformed entry with its line", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "known_hosts");
    await Deno.writeTextFile(file, "# ok\nhost:1 SHA256:abc notbase64!\n");
    await assertRejects(
      () => new KnownHosts(file).lookup("host:1"),
      Error,
      `cannot read known hosts: malformed entry at ${file}:2`,
    );
  });
});

Deno.test("known hosts keys bracket IPv6 addresses and ignore case", () => {
  assertEquals(hostPortKey("Example.ORG", 7000), "example.org:7000");
  assertEquals(hostPortKey("127.0.0.1", 1), "127.0.0.1:1");
  assertEquals(hostPortKey("::1", 7000), "[::1]:7000");
  assertEquals(hostPortKey("[FE80::1]", 7000), "[fe80::1]:7000");
});

Deno.test("config dir follows FTS_CONFIG_DIR, then XDG_CONFIG_HOME, then HOME", () => {
  withEnv({
    FTS_CONFIG_DIR: "/tmp/fts-explicit",
    XDG_CONFIG_HOME: "/tmp/xdg",
  }, () => {
    assertEquals(configDir(), "/tmp/fts-explicit");
    assertEquals(knownHostsFile(), join("/tmp/fts-explicit", "known_hosts"));
  });
  if (Deno.build.os === "windows") return;
  withEnv({ FTS_CONFIG_DIR: undefined, XDG_CONFIG_HOME: "/tmp/xdg" }, () => {
    assertEquals(configDir(), "/tmp/xdg/fts");
  });
  withEnv({
    FTS_CONFIG_DIR: undefined,
    XDG_CONFIG_HOME: "",
    HOME: "/home/ann",
  }, () => {
    assertEquals(configDir(), "/home/ann/.config/fts");
  });
});
