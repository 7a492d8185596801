/**
 * The client's known hosts: server certificates trusted on first use and
 * pinned afterwards, like ssh's `known_hosts`. One line per server:
 *
 * ```
 * # comment
 * <host>:<port> SHA256:<fingerprint> <certificate DER, base64>
 * ```
 *
 * IPv6 hosts are written in brackets (`[::1]:7000`). A server whose
 * certificate differs from the remembered one raises a
 * {@linkcode HostKeyMismatchError}.
 *
 * @module
 */

import { dirname, join } from "@std/path";
import { configDir } from "../config/config_dir.ts";
import { certificateFingerprint, derToPem, pemToDer } from "../config/pem.ts";

/** A remembered server certificate. */
export interface KnownHost {
  /** The fingerprint, `SHA256:...`. */
  fingerprint: string;
  /** The certificate in PEM, for `caCerts`. */
  certPem: string;
  /** The 1-based line of the entry in the known-hosts file. */
  line: number;
}

/** What {@linkcode KnownHosts.check} found. */
export type HostCheck = "trusted" | "unknown";

/**
 * The server's certificate is not the remembered one. Its message is meant to
 * be shown as is: it names both fingerprints and the line to remove.
 */
export class HostKeyMismatchError extends Error {
  /** The server, as `host:port`. */
  readonly hostPort: string;
  /** The remembered fingerprint. */
  readonly expected: string;
  /** The fingerprint the server presented. */
  readonly actual: string;
  /** The known-hosts file. */
  readonly file: string;
  /** The 1-based line of the remembered entry in {@linkcode file}. */
  readonly line: number;

  /** Creates the error for a server whose certificate changed. */
  constructor(
    hostPort: string,
    expected: string,
    actual: string,
    file: string,
    line: number,
  ) {
    const bar = "@".repeat(59);
    super(
      [
        `cannot connect to ${hostPort}: the server's certificate has changed`,
        bar,
        "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
        bar,
        "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
        "Someone could be eavesdropping on you right now (man-in-the-middle attack)!",
        "It is also possible that the server's certificate has just been changed.",
        `The certificate fingerprint sent by ${hostPort} is`,
        `    ${actual}`,
        "but the one you trusted is",
        `    ${expected}`,
        `Offending entry: ${file}:${line}`,
        `If the change is expected, accept the new certificate with`,
        `    fts connect --fingerprint ${actual} ...`,
        `or remove line ${line} from ${file} ("fts known-hosts remove ${hostPort}") and connect again.`,
      ].join("\n"),
    );
    this.name = "HostKeyMismatchError";
    this.hostPort = hostPort;
    this.expected = expected;
    this.actual = actual;
    this.file = file;
    this.line = line;
  }
}

/** Returns the default known-hosts file, `known_hosts` in {@linkcode configDir}. */
export function knownHostsFile(): string {
  return join(configDir(), "known_hosts") as string;
}

/**
 * Returns the known-hosts key of a server: `host:port`, the host lower-cased
 * and an IPv6 address in brackets.
 */
export function hostPortKey(hostname: string, port: number): string {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A known-hosts file. Every call reads the file afresh, so several clients
 * may share it.
 */
export class KnownHosts {
  /** The file this store reads and writes. */
  readonly file: string;

  /** @param file the known-hosts file; default {@linkcode knownHostsFile}. */
  constructor(file: string = knownHostsFile()) {
    this.file = file;
  }

  /**
   * Returns the remembered certificate of `hostPort` (see
   * {@linkcode hostPortKey}), or undefined if there is none.
   *
   * @throws {Error} "cannot read known hosts: ..." when the file cannot be
   * read or has a malformed entry.
   */
  async lookup(hostPort: string): Promise<KnownHost | undefined> {
    const lines = await this.#readLines();
    for (let i = 0; i < lines.length; i++) {
      const entry = await this.#parse(lines[i], i + 1);
      if (entry?.hostPort === hostPort) return entry.host;
    }
    return undefined;
  }

  /**
   * Compares the certificate a server presented with the remembered one.
   * Returns "trusted" if they are the same, "unknown" if the server has no
   * entry yet (ask the user, then {@linkcode KnownHosts.remember}).
   *
   * @throws {HostKeyMismatchError} when the entry names another certificate.
   */
  async check(hostPort: string, certPem: string): Promise<HostCheck> {
    const known = await this.lookup(hostPort);
    if (known === undefined) return "unknown";
    const actual = await certificateFingerprint(certPem);
    if (actual === known.fingerprint) return "trusted";
    throw new HostKeyMismatchError(
      hostPort,
      known.fingerprint,
      actual,
      this.file,
      known.line,
    );
  }

  /**
   * Remembers `certPem` as the certificate of `hostPort`, replacing an entry
   * for the same server. Creates the file (and its directory) if needed.
   *
   * @throws {Error} "cannot remember host: ..." when the file cannot be
   * written.
   */
  async remember(hostPort: string, certPem: string): Promise<void> {
    if (/\s/.test(hostPort) || hostPort === "") {
      throw new Error(`cannot remember host: malformed host "${hostPort}"`);
    }
    const fingerprint = await certificateFingerprint(certPem);
    const entry = `${hostPort} ${fingerprint} ${pemToDer(certPem).toBase64()}`;
    const lines = await this.#readLines();
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    const index = lines.findIndex((line) => firstField(line) === hostPort);
    if (index >= 0) lines[index] = entry;
    else lines.push(entry);
    try {
      await Deno.mkdir(dirname(this.file) as string, {
        recursive: true,
        mode: 0o700,
      });
      await Deno.writeTextFile(this.file, lines.join("\n") + "\n", {
        mode: 0o600,
      });
    } catch (error) {
      throw new Error(
        `cannot remember host: cannot write ${this.file}: ${
          (error as Error).message
        }`,
      );
    }
  }

  /** Every remembered server, in file order. */
  async list(): Promise<{ hostPort: string; fingerprint: string }[]> {
    const lines = await this.#readLines();
    const hosts = [];
    for (let i = 0; i < lines.length; i++) {
      const entry = await this.#parse(lines[i], i + 1);
      if (entry) {
        hosts.push({
          hostPort: entry.hostPort,
          fingerprint: entry.host.fingerprint,
        });
      }
    }
    return hosts;
  }

  /**
   * Forgets `hostPort`; returns whether it was remembered.
   *
   * @throws {Error} "cannot forget host: ..." when the file cannot be written.
   */
  async remove(hostPort: string): Promise<boolean> {
    const lines = await this.#readLines();
    const kept = lines.filter((line) => firstField(line) !== hostPort);
    if (kept.length === lines.length) return false;
    try {
      await Deno.writeTextFile(this.file, kept.join("\n"), { mode: 0o600 });
    } catch (error) {
      throw new Error(
        `cannot forget host: cannot write ${this.file}: ${
          (error as Error).message
        }`,
      );
    }
    return true;
  }

  async #readLines(): Promise<string[]> {
    try {
      return (await Deno.readTextFile(this.file)).split(/\r?\n/);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw new Error(
        `cannot read known hosts: cannot read ${this.file}: ${
          (error as Error).message
        }`,
      );
    }
  }

  async #parse(
    text: string,
    line: number,
  ): Promise<{ hostPort: string; host: KnownHost } | undefined> {
    const trimmed = text.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return undefined;
    const fields = trimmed.split(/\s+/);
    const malformed = () =>
      new Error(
        `cannot read known hosts: malformed entry at ${this.file}:${line}`,
      );
    if (fields.length !== 3 || !fields[1].startsWith("SHA256:")) {
      throw malformed();
    }
    let certPem: string;
    try {
      certPem = derToPem(Uint8Array.fromBase64(fields[2]));
    } catch {
      throw malformed();
    }
    const fingerprint = await certificateFingerprint(certPem);
    if (fingerprint !== fields[1]) throw malformed();
    return { hostPort: fields[0], host: { fingerprint, certPem, line } };
  }
}

function firstField(line: string): string {
  return line.trim().split(/\s+/)[0];
}
