/**
 * What `fts serve` prints after its listening lines, for the person who
 * started it: the web page's URL and the exact `fts connect` line a client
 * types, with an address other machines can reach.
 *
 * @module
 */

import { DEFAULT_PORT } from "../protocol/mod.ts";

/** What the lines are made of. */
export interface StartLineFacts {
  /** The fts listener's address (`::` or `0.0.0.0`: every address). */
  fts: { hostname: string; port: number };
  /** The HTTP front-end's address, when started with `--http`. */
  http?: { hostname: string; port: number };
  /** The certificate's fingerprint, with TLS. */
  fingerprint?: string;
  /** Clients must log in (`--users`). */
  logins: boolean;
}

/**
 * `fts page http://192.0.2.2:8081/` (with --http) and
 * `fts connect with: fts connect USER@192.0.2.2 --fingerprint SHA256:...`.
 */
export function startLines(facts: StartLineFacts): string[] {
  const lines: string[] = [];
  if (facts.http) {
    const scheme = facts.fingerprint ? "https" : "http";
    lines.push(
      `fts page ${scheme}://${
        shownHost(reachable(facts.http.hostname))
      }:${facts.http.port}/`,
    );
  }
  const host = shownHost(reachable(facts.fts.hostname));
  const port = facts.fts.port === DEFAULT_PORT ? "" : `:${facts.fts.port}`;
  const user = facts.logins ? "USER@" : "";
  const pin = facts.fingerprint ? ` --fingerprint ${facts.fingerprint}` : "";
  lines.push(`fts connect with: fts connect ${user}${host}${port}${pin}`);
  return lines;
}

/**
 * An address of this machine that clients can use for a listener bound to
 * `hostname`: the address itself, or for every address (`::`, `0.0.0.0`)
 * the first one of a network interface that is not loopback, else the
 * machine's name.
 */
function reachable(hostname: string): string {
  if (hostname !== "::" && hostname !== "0.0.0.0") return hostname;
  try {
    const external = Deno.networkInterfaces().filter((face) =>
      !face.address.startsWith("127.") && face.address !== "::1" &&
      !face.address.toLowerCase().startsWith("fe80:") &&
      (hostname === "::" || face.family === "IPv4")
    );
    const v4 = external.find((face) => face.family === "IPv4");
    const chosen = v4 ?? external[0];
    if (chosen) return chosen.address;
  } catch {
    // No permission to list interfaces: the name will do.
  }
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/** `[::1]` for IPv6 addresses, so a port can follow. */
function shownHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
