/**
 * The `Host` allow-list, against DNS rebinding: a web page on
 * `rebind.attacker.example` whose name the attacker then points at 127.0.0.1
 * can make the visitor's browser send requests to a server bound to
 * loopback, same-origin as far as the browser knows. Those requests still
 * carry the attacker's name in `Host`, so only names this server is known by
 * are accepted: the address it listens on, `localhost`, loopback literals
 * (127.0.0.0/8, `::1`), the machine's name and its interfaces' addresses,
 * and the names given with `--http-host` (what a reverse proxy passes on).
 *
 * @module
 */

import { ipBytes } from "../net/socket_release.ts";

/** The names and addresses a request's `Host` may carry. */
export class AllowedHosts {
  #names = new Set<string>();
  #addresses = new Set<string>();

  /**
   * Allows `listening` (the bound address), the loopback and local names
   * and addresses, and `extra` names (`--http-host`).
   */
  constructor(listening: string, extra: readonly string[] = []) {
    for (
      const name of [listening, "localhost", localHostname(), ...extra]
    ) this.#add(name);
    for (const address of interfaceAddresses()) this.#add(address);
  }

  #add(name: string | null): void {
    if (!name) return;
    const bytes = ipBytes(name);
    if (bytes !== null) this.#addresses.add(bytes.join("."));
    else this.#names.add(normalName(name));
  }

  /** Whether a `Host` header value (with or without port) is allowed. */
  allows(host: string | null): boolean {
    if (host === null) return false;
    const name = hostPart(host);
    if (name === null) return false;
    const bytes = ipBytes(name);
    if (bytes !== null) {
      return isLoopback(bytes) || this.#addresses.has(bytes.join("."));
    }
    const normal = normalName(name);
    return this.#names.has(normal) || normal.endsWith(".localhost");
  }
}

/** The host of a `Host` value (`name`, `name:port`, `[v6]:port`), or null. */
function hostPart(host: string): string | null {
  const bracketed = /^\[([^\]]+)\](?::\d*)?$/.exec(host);
  if (bracketed) return bracketed[1];
  const plain = /^([^:\[\]]+)(?::\d*)?$/.exec(host);
  return plain ? plain[1] : null;
}

function normalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** 127.0.0.0/8 (also IPv4-mapped) or ::1. */
function isLoopback(bytes: Uint8Array): boolean {
  const mapped = bytes.slice(0, 12).every((byte, i) =>
    byte === (i === 10 || i === 11 ? 0xff : 0)
  );
  if (mapped) return bytes[12] === 127;
  return bytes.slice(0, 15).every((byte) => byte === 0) && bytes[15] === 1;
}

function localHostname(): string | null {
  try {
    return Deno.hostname();
  } catch {
    return null; // Not allowed to ask (--allow-sys): names can be added.
  }
}

function interfaceAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((item) => item.address);
  } catch {
    return [];
  }
}
