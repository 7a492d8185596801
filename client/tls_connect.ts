/**
 * Opens the byte stream under a client's session: plain TCP, or TLS with
 * the server's certificate checked the way the user chose.
 *
 * - **Pinned** (a server in known hosts, or `--fingerprint`): TCP, then
 *   `Deno.startTls` with the remembered certificate as the only extra trust
 *   root and `localhost` as the name to check. fts's self-signed
 *   certificates name `localhost`, and no public certificate authority may
 *   certify that name, so only the pinned certificate passes. (Passing the
 *   pinned certificate while turning hostname checks off would not do:
 *   `caCerts` adds to the system's roots, so any publicly certified server
 *   would pass too.)
 * - **Verified** (`--ca FILE`, or a server whose certificate the system
 *   trusts): normal TLS with hostname verification against the system roots
 *   plus the given certificate authority.
 * - **First contact** (`--tls` and an unknown server whose certificate the
 *   system does not trust): fetch the certificate (see `host_trust.ts`),
 *   ask the user (or refuse when there is no terminal), remember it, and
 *   connect pinned.
 *
 * TLS is used when asked for (`--tls`), when a fingerprint or CA is given,
 * and whenever the server is in known hosts. There is no fallback to plain
 * TCP.
 *
 * @module
 */

import { ConnectionError } from "../protocol/mod.ts";
import { certificateFingerprint } from "../config/pem.ts";
import { probeCertificate, ProbeError } from "./host_trust.ts";
import {
  HostKeyMismatchError,
  type KnownHost,
  KnownHosts,
} from "./known_hosts.ts";
import { hostPortKey } from "./known_hosts.ts";
import type { Target } from "./target.ts";

/** The server speaks TLS but the client connected without it. */
export class TlsRequiredError extends ConnectionError {}
/** The client asked for TLS but the server does not speak it. */
export class TlsUnavailableError extends ConnectionError {}
/** The server's certificate is not trusted: unknown issuer, wrong name, or refused by the user. */
export class UntrustedCertificateError extends ConnectionError {}
/** A first connection to a server without a terminal to ask whether to trust it. */
export class UnknownHostError extends ConnectionError {
  /** The fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
  /** Creates the error for the server `label` presenting `fingerprint`. */
  constructor(label: string, fingerprint: string) {
    super(
      `cannot connect to ${label}: unknown host certificate ${fingerprint}; ` +
        `pass --fingerprint ${fingerprint} to trust it`,
    );
    this.fingerprint = fingerprint;
  }
}
/** The server's certificate is not the one `--fingerprint` named. */
export class FingerprintMismatchError extends ConnectionError {
  /** Creates the error; both fingerprints are named. */
  constructor(label: string, expected: string, actual: string) {
    super(
      `cannot connect to ${label}: the server's certificate is ${actual}, ` +
        `not ${expected} as given with --fingerprint`,
    );
  }
}

/** How the client decides to trust servers. */
export interface TlsSettings {
  /** Use TLS even for a server not in known hosts (`--tls`). */
  tls?: boolean;
  /** Trust the server whose certificate has this fingerprint, `SHA256:...`. */
  fingerprint?: string;
  /** A PEM file of a certificate authority to verify the server with (`--ca`). */
  caFile?: string;
  /**
   * The known-hosts store. Default: `known_hosts` in the configuration
   * directory. `null`: consult none, so plain TCP unless TLS is asked for
   * (and no server can be pinned on first use).
   */
  knownHosts?: KnownHosts | null;
  /**
   * Asks the user whether to trust an unknown server's certificate. Absent
   * when there is no one to ask: an unknown server is then refused.
   */
  ask?: (label: string, fingerprint: string) => Promise<boolean>;
  /** Told when a certificate the user accepted was added to known hosts. */
  onRemembered?: (label: string, fingerprint: string, file: string) => void;
  /** Give up connecting (TCP and TLS handshake) after this long. Default 30 s. */
  timeoutMs?: number;
}

/** An open byte stream to a server. */
export interface Transport {
  conn: Deno.Conn;
  /** Whether `conn` is encrypted. */
  tls: boolean;
}

/**
 * Opens connections to one server as {@linkcode TlsSettings} say. Once a
 * certificate has been accepted, later connections of the same client (the
 * shell's reconnects, `-P N`) are pinned to it without asking again.
 *
 * @example
 * ```ts
 * const opener = new TransportOpener({ tls: true });
 * const { conn } = await opener.open({ hostname: "files.lan", port: 7373 }, "files.lan:7373");
 * ```
 */
export class TransportOpener {
  #settings: TlsSettings;
  #timeoutMs: number;
  #knownHosts: KnownHosts | null | undefined;
  #ca: string | undefined;
  /** The certificate accepted by an earlier connection, and its entry. */
  #accepted: { certPem: string; known?: KnownHost } | undefined;

  /** Creates an opener with the user's choices. */
  constructor(settings: TlsSettings = {}) {
    this.#settings = settings;
    this.#knownHosts = settings.knownHosts;
    this.#timeoutMs = settings.timeoutMs ?? 30_000;
  }

  /**
   * Connects to `target` (named `label` in messages).
   *
   * @throws {HostKeyMismatchError} when a known server's certificate changed.
   * @throws {ConnectionError} (one of the subclasses above when it applies)
   * when no trusted connection could be made.
   */
  async open(target: Target, label: string): Promise<Transport> {
    const settings = this.#settings;
    if (this.#accepted) {
      const { certPem, known } = this.#accepted;
      return await this.#pinned(target, label, certPem, known);
    }
    if (settings.caFile !== undefined) {
      this.#ca ??= await readCa(settings.caFile, label);
      return await connectVerified(target, label, [this.#ca], this.#timeoutMs);
    }
    const wantsTls = settings.tls || settings.fingerprint !== undefined;
    const key = hostPortKey(target.hostname, target.port);
    const known = await this.#lookup(key, wantsTls);
    const fingerprint = settings.fingerprint;
    if (fingerprint !== undefined && known?.fingerprint !== fingerprint) {
      const certPem = await probe(target, label);
      const actual = await certificateFingerprint(certPem);
      if (actual !== fingerprint) {
        throw new FingerprintMismatchError(label, fingerprint, actual);
      }
      await this.#remember(key, certPem);
      return await this.#pinned(target, label, certPem, undefined);
    }
    if (known) return await this.#pinned(target, label, known.certPem, known);
    if (!wantsTls) return await connectPlain(target, label, this.#timeoutMs);
    // A certificate the system already trusts for this name needs no pin.
    try {
      return await connectVerified(target, label, undefined, this.#timeoutMs);
    } catch (error) {
      if (!(error instanceof UntrustedCertificateError)) throw error;
    }
    const certPem = await probe(target, label);
    const actual = await certificateFingerprint(certPem);
    if (settings.ask === undefined) throw new UnknownHostError(label, actual);
    if (!await settings.ask(label, actual)) {
      throw new UntrustedCertificateError(
        `the server's certificate was not accepted`,
        { action: `connect to ${label}` },
      );
    }
    await this.#remember(key, certPem);
    if (this.#knownHosts !== null) {
      settings.onRemembered?.(label, actual, this.#store().file);
    }
    return await this.#pinned(target, label, certPem, undefined);
  }

  #store(): KnownHosts {
    return this.#knownHosts ??= new KnownHosts();
  }

  /** Remembers an accepted certificate, unless known hosts are off. */
  async #remember(key: string, certPem: string): Promise<void> {
    if (this.#knownHosts !== null) await this.#store().remember(key, certPem);
  }

  async #lookup(
    key: string,
    wantsTls: boolean,
  ): Promise<KnownHost | undefined> {
    if (this.#knownHosts === null) return undefined;
    let store: KnownHosts;
    try {
      store = this.#store();
    } catch (error) {
      // No configuration directory: no server can be known. Pinning needs one.
      if (wantsTls) throw error;
      return undefined;
    }
    return await store.lookup(key);
  }

  async #pinned(
    target: Target,
    label: string,
    certPem: string,
    known: KnownHost | undefined,
  ): Promise<Transport> {
    try {
      const transport = await connectTls(
        target,
        label,
        "localhost",
        [certPem],
        this.#timeoutMs,
      );
      this.#accepted = { certPem, known };
      return transport;
    } catch (error) {
      if (!(error instanceof UntrustedCertificateError)) throw error;
      const expected = await certificateFingerprint(certPem);
      const actual = await certificateFingerprint(await probe(target, label));
      if (actual !== expected) {
        if (known === undefined) {
          throw new FingerprintMismatchError(label, expected, actual);
        }
        throw new HostKeyMismatchError(
          hostPortKey(target.hostname, target.port),
          expected,
          actual,
          this.#store().file,
          known.line,
        );
      }
      throw new UntrustedCertificateError(
        `cannot connect to ${label}: the certificate ${expected} cannot be ` +
          `pinned because it does not name localhost (${error.message}); ` +
          "connect with --ca and the certificate that issued it",
        { cause: error },
      );
    }
  }
}

/** Connects with TLS and normal verification: the system's roots plus `caCerts`. */
function connectVerified(
  target: Target,
  label: string,
  caCerts: string[] | undefined,
  timeoutMs: number,
): Promise<Transport> {
  return connectTls(target, label, target.hostname, caCerts, timeoutMs);
}

async function connectTls(
  target: Target,
  label: string,
  name: string,
  caCerts: string[] | undefined,
  timeoutMs: number,
): Promise<Transport> {
  const tcp = await connectTcp(target, label, timeoutMs);
  let conn: Deno.TlsConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    conn = await Deno.startTls(tcp, { hostname: name, caCerts });
    const tls = conn;
    // A server that accepts but never answers the handshake must not hang us.
    await Promise.race([
      tls.handshake(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(connectTimeout(label, timeoutMs)),
          timeoutMs,
        );
      }),
    ]);
    return { conn, tls: true };
  } catch (error) {
    try {
      (conn ?? tcp).close();
    } catch {
      // Already closed.
    }
    throw handshakeError(error, label);
  } finally {
    clearTimeout(timer);
  }
}

async function connectPlain(
  target: Target,
  label: string,
  timeoutMs: number,
): Promise<Transport> {
  return { conn: await connectTcp(target, label, timeoutMs), tls: false };
}

async function connectTcp(
  target: Target,
  label: string,
  timeoutMs: number,
): Promise<Deno.TcpConn> {
  let conn: Deno.TcpConn;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    conn = await Deno.connect({
      hostname: target.hostname,
      port: target.port,
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw connectTimeout(label, timeoutMs);
    throw new ConnectionError(`${reason(error)}`, {
      action: `connect to ${label}`,
      cause: error,
    });
  }
  // Frame headers are small writes; Nagle would hold them back.
  conn.setNoDelay(true);
  return conn;
}

async function probe(target: Target, label: string): Promise<string> {
  try {
    return await probeCertificate(target.hostname, target.port);
  } catch (error) {
    if (error instanceof ProbeError && error.kind === "not-tls") {
      throw new TlsUnavailableError(
        `the server does not speak TLS`,
        { action: `connect to ${label}`, cause: error },
      );
    }
    throw new ConnectionError(
      `${reason(error)}`,
      { action: `connect to ${label}`, cause: error },
    );
  }
}

async function readCa(file: string, label: string): Promise<string> {
  try {
    const pem = await Deno.readTextFile(file);
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new Error(`${file} holds no PEM certificate`);
    }
    return pem;
  } catch (error) {
    throw new UntrustedCertificateError(
      `cannot read --ca ${file}: ${reason(error)}`,
      { action: `connect to ${label}`, cause: error },
    );
  }
}

function connectTimeout(label: string, timeoutMs: number): ConnectionError {
  return new ConnectionError(
    `no answer within ${
      Math.round(timeoutMs / 1000)
    } s (the link may be down; see --timeout)`,
    { action: `connect to ${label}` },
  );
}

/** Turns a failed TLS handshake into the error a user can act on. */
function handshakeError(error: unknown, label: string): Error {
  if (error instanceof ConnectionError) return error;
  const message = reason(error);
  if (/certificate|UnknownIssuer|NotValidForName|BadSignature/i.test(message)) {
    return new UntrustedCertificateError(
      `the server's certificate is not trusted (${message})`,
      { action: `connect to ${label}`, cause: error },
    );
  }
  if (
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.ConnectionReset ||
    /corrupt message|InvalidContentType|end of file|close_notify/i.test(message)
  ) {
    return new TlsUnavailableError(
      `the server does not speak TLS`,
      { action: `connect to ${label}`, cause: error },
    );
  }
  return new ConnectionError(
    `the TLS handshake failed (${message})`,
    { action: `connect to ${label}`, cause: error },
  );
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "connection refused";
  }
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof Error) return error.message;
  return String(error);
}
