/**
 * The server's TLS certificate: a self-signed ECDSA P-256 certificate made on
 * first start and kept in the configuration directory, or one the user gives
 * with `--cert` and `--key`. Clients pin it by its fingerprint, like ssh host
 * keys.
 *
 * The X.509 library is loaded only when a certificate is made or checked; the
 * PEM helpers both ends need live in `transfer/pem.ts`.
 *
 * @module
 */

import { join } from "@std/path";
import {
  certificateFingerprint,
  derToPem,
  pemToDer,
  toPem,
} from "../config/pem.ts";

/** A certificate with its private key, both PEM, and the certificate's fingerprint. */
export interface CertificateKeyPair {
  /** The certificate (or chain, leaf first) in PEM. */
  certPem: string;
  /** The private key in PEM (PKCS #8 for generated keys). */
  keyPem: string;
  /** The leaf certificate's fingerprint, see {@linkcode certificateFingerprint}. */
  fingerprint: string;
}

/** Options for {@linkcode createSelfSignedCertificate}. */
export interface CreateCertificateOptions {
  /** Extra DNS name for the subjectAltName, usually the machine's host name. */
  hostname?: string;
  /** Days the certificate is valid for. Default: 3650 (about ten years). */
  validDays?: number;
}

/** File name of the generated certificate inside the certificate directory. */
export const CERT_FILE = "cert.pem";
/** File name of the generated private key inside the certificate directory. */
export const KEY_FILE = "key.pem";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Loads `cert.pem` and `key.pem` from `dir`, or, if neither exists yet, makes
 * a self-signed certificate, stores it there (the key with mode 0600, the
 * directory with mode 0700) and returns it. Later calls return the same
 * certificate.
 *
 * @throws {Error} "cannot load certificate: ..." when only one of the two
 * files exists or they cannot be read or parsed.
 */
export async function loadOrCreateCertificate(
  dir: string,
): Promise<CertificateKeyPair> {
  const certFile = join(dir, CERT_FILE) as string;
  const keyFile = join(dir, KEY_FILE) as string;
  const [haveCert, haveKey] = await Promise.all([
    exists(certFile),
    exists(keyFile),
  ]);
  if (haveCert && haveKey) return await loadCertificate(certFile, keyFile);
  if (haveCert || haveKey) {
    const [present, missing] = haveCert
      ? [certFile, keyFile]
      : [keyFile, certFile];
    throw new Error(
      `cannot load certificate: ${missing} is missing; ` +
        `remove ${present} to make a new certificate`,
    );
  }
  const pair = await createSelfSignedCertificate({ hostname: localHostname() });
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // Key first: a certificate file never exists without its key.
  await writeFileAtomically(keyFile, pair.keyPem, 0o600);
  await writeFileAtomically(certFile, pair.certPem, 0o644);
  return pair;
}

/**
 * Loads a user-provided certificate (or chain, leaf first) and private key,
 * both PEM.
 *
 * @throws {Error} "cannot load certificate: ..." when a file cannot be read or
 * does not hold what it should.
 */
export async function loadCertificate(
  certFile: string,
  keyFile: string,
): Promise<CertificateKeyPair> {
  const certPem = await readText(certFile);
  const keyPem = await readText(keyFile);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    throw new Error(`cannot load certificate: ${keyFile} holds no private key`);
  }
  let fingerprint: string;
  try {
    const x509 = await loadX509();
    // Parsing proves the leaf is a well-formed certificate.
    new x509.X509Certificate(pemToDer(certPem));
    fingerprint = await certificateFingerprint(certPem);
  } catch (error) {
    throw new Error(
      `cannot load certificate: ${certFile} holds no valid certificate ` +
        `(${(error as Error).message})`,
    );
  }
  return { certPem, keyPem, fingerprint };
}

/**
 * Makes a new self-signed ECDSA P-256 certificate that rustls (and so Deno)
 * accepts as a server certificate: CA:FALSE (critical), subjectAltName
 * `localhost`, `127.0.0.1`, `::1` and the given host name, key usage
 * digitalSignature, extended key usage serverAuth.
 */
export async function createSelfSignedCertificate(
  options: CreateCertificateOptions = {},
): Promise<CertificateKeyPair> {
  const x509 = await loadX509();
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  );
  const names: { type: "dns" | "ip"; value: string }[] = [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "ip", value: "::1" },
  ];
  const hostname = options.hostname?.toLowerCase();
  const usableHostname = hostname !== undefined && hostname !== "localhost" &&
    /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(hostname);
  if (usableHostname) names.push({ type: "dns", value: hostname });
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // a positive INTEGER
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toHex(),
    name: usableHostname ? `CN=fts ${hostname}` : "CN=fts",
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + (options.validDays ?? 3650) * DAY_MS),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = derToPem(new Uint8Array(cert.rawData));
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const keyPem = toPem(new Uint8Array(pkcs8), "PRIVATE KEY");
  return {
    certPem,
    keyPem,
    fingerprint: await certificateFingerprint(certPem),
  };
}

async function loadX509(): Promise<typeof import("@peculiar/x509")> {
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(crypto);
  return x509;
}

function localHostname(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined; // no --allow-sys: the certificate just lacks the name
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    throw new Error(
      `cannot load certificate: cannot read ${file}: ${
        (error as Error).message
      }`,
    );
  }
}

async function writeFileAtomically(
  file: string,
  text: string,
  mode: number,
): Promise<void> {
  const temp = `${file}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode, createNew: true });
    await Deno.rename(temp, file);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(
      `cannot store certificate: cannot write ${file}: ${
        (error as Error).message
      }`,
    );
  }
}
