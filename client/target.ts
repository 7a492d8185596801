/**
 * Parses the `[USER@]HOST[:PORT]` a user names on the command line.
 *
 * @module
 */

import { DEFAULT_PORT } from "../protocol/mod.ts";
import { UsageError } from "../cli/usage_error.ts";

/** Where to connect. */
export interface Target {
  hostname: string;
  port: number;
  /** The user to log in as, when named (`USER@HOST`). */
  user?: string;
}

/**
 * Parses `host`, `host:port`, `[v6]:port` or `[v6]`, each optionally after
 * `user@` (the last `@` ends the user name).
 *
 * @example
 * ```ts
 * parseTarget("example.com:9000"); // { hostname: "example.com", port: 9000 }
 * parseTarget("[::1]");            // { hostname: "::1", port: 7373 }
 * parseTarget("ann@files.lan");    // { hostname: "files.lan", port: 7373, user: "ann" }
 * ```
 */
export function parseTarget(text: string): Target {
  const at = text.lastIndexOf("@");
  if (at < 0) return parseHostPort(text);
  const user = text.slice(0, at);
  if (user === "") throw new UsageError(`"${text}" has an empty user name`);
  return { ...parseHostPort(text.slice(at + 1)), user };
}

function parseHostPort(text: string): Target {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { hostname: bracketed[1], port: port(bracketed[2]) };
  const colons = text.split(":").length - 1;
  if (colons === 1) {
    const [hostname, portText] = text.split(":");
    if (hostname) return { hostname, port: port(portText) };
  } else if (text !== "") {
    return { hostname: text, port: DEFAULT_PORT };
  }
  throw new UsageError(`"${text}" is not a [USER@]HOST[:PORT]`);
}

function port(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 65535) {
    throw new UsageError(`"${text}" is not a port number`);
  }
  return value;
}
