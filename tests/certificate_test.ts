/**
 * The server certificate: made once and reloaded unchanged, the key kept
 * private, CA:FALSE so rustls takes it as a server certificate, the
 * fingerprint in OpenSSH's form, and real TLS connections pinned to it.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
} from "@std/assert";
import { join } from "@std/path";
import * as x509 from "@peculiar/x509";
import {
  createSelfSignedCertificate,
  loadCertificate,
  loadOrCreateCertificate,
} from "../server/certificate.ts";
import { certificateFingerprint, derToPem, pemToDer } from "../config/pem.ts";

x509.cryptoProvider.set(crypto);

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fts_cert_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Serves `pair` with Deno.listenTls and runs `fn` with the port. */
async function withTlsServer(
  pair: { certPem: string; keyPem: string },
  fn: (port: number) => Promise<void>,
) {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pair.certPem,
    key: pair.keyPem,
  });
  const served = (async () => {
    for await (const conn of listener) {
      try {
        await conn.handshake();
        await conn.write(new TextEncoder().encode("hello"));
      } catch {
        // the client refused the certificate
      } finally {
        conn.close();
      }
    }
  })();
  try {
    await fn(listener.addr.port);
  } finally {
    listener.close();
    await served;
  }
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(64);
  let text = "";
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return text;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
}

Deno.test("certificate is created once and reloaded identical", async () => {
  await withTempDir(async (dir) => {
    const first = await loadOrCreateCertificate(dir);
    const certText = await Deno.readTextFile(join(dir, "cert.pem"));
    const keyText = await Deno.readTextFile(join(dir, "key.pem"));
    assertEquals(certText, first.certPem);
    assertEquals(keyText, first.keyPem);
    const second = await loadOrCreateCertificate(dir);
    assertEquals(second, first);
    assertEquals(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(),
      ["cert.pem", "key.pem"],
    );
  });
});

Deno.test({
  name: "certificate key file has mode 0600",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTempDir(async (dir) => {
      const certDir = join(dir, "fresh");
      await loadOrCreateCertificate(certDir);
      assertEquals(
        (await Deno.stat(join(certDir, "key.pem"))).mode! & 0o777,
        0o600,
      );
      assertEquals((await Deno.stat(certDir)).mode! & 0o077, 0);
    });
  },
});

Deno.test("certificate is an ECDSA P-256 server certificate with CA:FALSE", async () => {
  const pair = await createSelfSignedCertificate({ hostname: "box.example" });
  const cert = new x509.X509Certificate(pair.certPem);
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  assertEquals(constraints?.ca, false);
  assertEquals(constraints?.critical, true);
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  assertEquals(keyUsage?.usages, x509.KeyUsageFlags.digitalSignature);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  assertEquals([...eku?.usages ?? []], [x509.ExtendedKeyUsage.serverAuth]);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assertEquals(
    san?.names.toJSON().map((name) => `${name.type}:${name.value}`),
    ["dns:localhost", "ip:127.0.0.1", "ip:::1", "dns:box.example"],
  );
  assertEquals(cert.publicKey.algorithm.name, "ECDSA");
  assertEquals(
    (cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve,
    "P-256",
  );
  const years = (cert.notAfter.getTime() - cert.notBefore.getTime()) /
    (365.25 * 24 * 3600 * 1000);
  assert(years > 9.9 && years < 10.1, `valid for ${years} years`);
  assert(await cert.verify({ signatureOnly: true }), "self-signed");
});

Deno.test("certificate fingerprint is SHA256: and unpadded base64 of the DER digest", async () => {
  const pair = await createSelfSignedCertificate();
  assertMatch(pair.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  assertEquals(await certificateFingerprint(pair.certPem), pair.fingerprint);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", pemToDer(pair.certPem)),
  );
  assertEquals(
    pair.fingerprint,
    "SHA256:" + digest.toBase64().replace(/=+$/, ""),
  );
  assertEquals(derToPem(pemToDer(pair.certPem)), pair.certPem);
  const other = await createSelfSignedCertificate();
  assertNotEquals(other.fingerprint, pair.fingerprint);
});

Deno.test("certificate loads a user-provided certificate and key", async () => {
  await withTempDir(async (dir) => {
    const pair = await createSelfSignedCertificate();
    await Deno.writeTextFile(join(dir, "my.crt"), pair.certPem);
    await Deno.writeTextFile(join(dir, "my.key"), pair.keyPem);
    assertEquals(
      await loadCertificate(join(dir, "my.crt"), join(dir, "my.key")),
      pair,
    );
    await assertRejects(
      () => loadCertificate(join(dir, "my.key"), join(dir, "my.key")),
      Error,
      "cannot load certificate:",
    );
    await assertRejects(
      () => loadCertificate(join(dir, "my.crt"), join(dir, "my.crt")),
      Error,
      "holds no private key",
    );
    await assertRejects(
      () => loadCertificate(join(dir, "absent.crt"), join(dir, "my.key")),
      Error,
      "cannot load certificate: cannot read",
    );
  });
});

Deno.test("certificate refuses to reload a directory with only one of the two files", async () => {
  await withTempDir(async (dir) => {
    await loadOrCreateCertificate(dir);
    await Deno.remove(join(dir, "cert.pem"));
    await assertRejects(
      () => loadOrCreateCertificate(dir),
      Error,
      "cert.pem is missing",
    );
  });
});

Deno.test("certificate serves TLS that a client pinned with caCerts accepts", async () => {
  const pair = await createSelfSignedCertificate();
  await withTlsServer(pair, async (port) => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [pair.certPem],
    });
    assertEquals(await readAll(conn), "hello");
    conn.close();
    // The same over a plain connection upgraded with startTls, verifying
    // the name "localhost" (which public CAs never certify).
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    const upgraded = await Deno.startTls(plain, {
      hostname: "localhost",
      caCerts: [pair.certPem],
    });
    assertEquals(await readAll(upgraded), "hello");
    upgraded.close();
  });
});

Deno.test("certificate: a TLS client trusting one certificate by caCerts refuses a server with another (fts's own pinning: tls_test.ts)", async () => {
  const pair = await createSelfSignedCertificate();
  const other = await createSelfSignedCertificate();
  await withTlsServer(other, async (port) => {
    await assertRejects(
      async () => {
        const conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port,
          caCerts: [pair.certPem],
          unsafelyDisableHostnameVerification: true,
        });
        try {
          await conn.handshake();
        } finally {
          conn.close();
        }
      },
      Error,
      "invalid peer certificate",
    );
    await assertRejects(
      async () => {
        const plain = await Deno.connect({ hostname: "127.0.0.1", port });
        const conn = await Deno.startTls(plain, {
          hostname: "localhost",
          caCerts: [pair.certPem],
        });
        try {
          await conn.handshake();
        } finally {
          conn.close();
        }
      },
      Error,
      "invalid peer certificate",
    );
  });
});
