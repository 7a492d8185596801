/**
 * Where the client gets a password: the `FTS_PASSWORD` environment variable,
 * or a prompt on the terminal that does not echo what is typed. Never a
 * command-line flag, which other users could read in the process list.
 *
 * The prompt goes to stderr, so that `fts connect ... get FILE -` can still
 * write the file to stdout.
 *
 * @module
 */

import { AuthError } from "../protocol/mod.ts";
import { PASSWORD_ENV, passwordFromEnv } from "../config/password_env.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// The keys the reader acts on, in pairs: end the line, erase, give up.
const LF = 0x0a, CR = 0x0d;
const BACKSPACE = 0x08, DELETE = 0x7f;
const CTRL_C = 0x03, CTRL_D = 0x04;

/**
 * Shows `message` on stderr and reads one line from the terminal without
 * echoing it. Returns null when stdin is not a terminal, or when the user
 * pressed Ctrl-C or Ctrl-D.
 */
export function readHiddenLine(message: string): string | null {
  if (!Deno.stdin.isTerminal()) return null;
  Deno.stderr.writeSync(encoder.encode(message));
  // cbreak keeps Ctrl-C as a signal; Windows has no cbreak.
  Deno.stdin.setRaw(
    true,
    Deno.build.os === "windows" ? undefined : { cbreak: true },
  );
  const bytes: number[] = [];
  let cancelled = false;
  try {
    const byte = new Uint8Array(1);
    while (true) {
      const n = Deno.stdin.readSync(byte);
      if (n === null || n === 0 || byte[0] === CTRL_D || byte[0] === CTRL_C) {
        cancelled = true;
        break;
      }
      if (byte[0] === CR || byte[0] === LF) break;
      if (byte[0] === BACKSPACE || byte[0] === DELETE) {
        // Drop one whole UTF-8 character: its continuation bytes, then its lead.
        while (bytes.length > 0 && (bytes.at(-1)! & 0xc0) === 0x80) bytes.pop();
        bytes.pop();
      } else {
        bytes.push(byte[0]);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
  return cancelled ? null : decoder.decode(new Uint8Array(bytes));
}

/**
 * Returns the password of `user` on the server `label`: `$FTS_PASSWORD` when
 * set, else what the user types at `Password for USER@HOST:`.
 *
 * @throws {AuthError} when there is neither (stdin is not a terminal).
 */
export function askPassword(user: string, label: string): string {
  const fromEnv = passwordFromEnv();
  if (fromEnv !== undefined) return fromEnv;
  const typed = readHiddenLine(`Password for ${user}@${label}: `);
  if (typed === null) {
    throw new AuthError(
      Deno.stdin.isTerminal()
        ? "cannot log in: no password given"
        : `no password (set ${PASSWORD_ENV}, or run fts on a terminal to be asked)`,
      { action: "log in" },
    );
  }
  return typed;
}
