/**
 * What to say when the port named is not an fts server's: an HTTP server
 * (often fts's own `--http` port), an SSH server, or a peer that says
 * nothing. One line that names the port fts uses by default.
 *
 * @module
 */

import { DEFAULT_PORT, ProtocolError } from "../protocol/mod.ts";
import { safeText } from "./safe_text.ts";

/** fts's own port, as the advice mentions it (none when it is this one). */
function ownPort(port: number): string {
  return port === DEFAULT_PORT ? "" : `; fts's own port is ${DEFAULT_PORT}`;
}

/**
 * The error for a peer that answered with `greeting` (its first bytes),
 * which are no fts frame.
 */
export function foreignPeerError(
  label: string,
  port: number,
  greeting: Uint8Array,
): ProtocolError {
  const text = new TextDecoder().decode(greeting);
  const action = `connect to ${label}`;
  if (text.startsWith("HTTP/")) {
    return new ProtocolError(
      `it answered like an HTTP server${
        ownPort(port)
      } (is this the --http port?)`,
      { action },
    );
  }
  if (text.startsWith("SSH-")) {
    return new ProtocolError(
      `it answered like an SSH server${ownPort(port)}`,
      { action },
    );
  }
  const shown = safeText(text.replace(/[^\x20-\x7e]/g, "."));
  return new ProtocolError(
    `it answered, but not as an fts server ("${shown}"...)${ownPort(port)}`,
    { action },
  );
}

/** The error for a peer that took the connection and never answered. */
export function silentPeerError(
  label: string,
  port: number,
  seconds: number,
): ProtocolError {
  const own = port === DEFAULT_PORT
    ? ""
    : `fts's own port is ${DEFAULT_PORT}; `;
  return new ProtocolError(
    `it took the connection but said nothing for ${seconds} s: is an fts server listening there? (${own}see --timeout)`,
    { action: `connect to ${label}` },
  );
}
