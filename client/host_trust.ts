/**
 * Deciding to trust a server's certificate the first time, like ssh does with
 * host keys: fetch the certificate without checking it (a probe), show its
 * fingerprint and ask, or compare it with the one the user passed.
 *
 * The probe only shows the certificate; it never carries data. The
 * connection that follows is pinned to the accepted certificate, so a server
 * that swaps certificates between the probe and the connection is refused.
 *
 * @module
 */

import { concat } from "@std/bytes/concat";
import { derToPem } from "../config/pem.ts";
import { UsageError } from "../cli/usage_error.ts";

/** How long the probe waits for the server's certificate. */
export const PROBE_TIMEOUT_MS = 15_000;

/** Why a probe failed, so the caller can tell the user what to do. */
export type ProbeFailure = "not-tls" | "unreachable";

/** The certificate could not be fetched. */
export class ProbeError extends Error {
  /** What kind of failure. */
  readonly kind: ProbeFailure;
  /** Creates the error; `message` is the reason without the action. */
  constructor(kind: ProbeFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProbeError";
    this.kind = kind;
  }
}

/**
 * Turns a fingerprint as a user typed it into the `SHA256:<base64>` form fts
 * prints. The `SHA256:` prefix (any case) and base64 padding are optional.
 *
 * @throws {UsageError} when it is not the base64 of 32 bytes.
 */
export function normalizeFingerprint(text: string): string {
  const body = text.trim().replace(/^sha256:/i, "").replace(/=+$/, "");
  let bytes: Uint8Array | undefined;
  try {
    bytes = Uint8Array.fromBase64(body, { lastChunkHandling: "loose" });
  } catch {
    bytes = undefined;
  }
  if (bytes?.length !== 32 || !/^[A-Za-z0-9+/]+$/.test(body)) {
    throw new UsageError(
      `--fingerprint takes a certificate fingerprint as fts serve prints it (SHA256:...), not "${text}"`,
    );
  }
  return "SHA256:" + bytes.toBase64({ omitPadding: true });
}

/**
 * Fetches the server's certificate over TLS without checking it, closes the
 * connection and returns the certificate in PEM.
 *
 * @throws {ProbeError} "not-tls" when the server does not complete a TLS
 * handshake, "unreachable" when it cannot be reached.
 */
export async function probeCertificate(
  hostname: string,
  port: number,
  timeoutMs: number = PROBE_TIMEOUT_MS,
): Promise<string> {
  // Loaded here: only the first contact with a server needs it.
  const tls = await import("node:tls");
  const der = await new Promise<Uint8Array>((resolve, reject) => {
    const socket = tls.connect({
      host: hostname,
      port,
      // Only to read the certificate; nothing is sent over this connection.
      rejectUnauthorized: false,
      servername: isIpAddress(hostname) ? undefined : hostname,
    });
    const fail = (error: ProbeError) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(
      timeoutMs,
      () => fail(new ProbeError("unreachable", "timed out")),
    );
    socket.once("secureConnect", () => {
      const raw = socket.getPeerCertificate(true)?.raw as
        | Uint8Array
        | undefined;
      socket.end();
      socket.destroy();
      if (raw === undefined || raw.length === 0) {
        reject(new ProbeError("not-tls", "the server sent no certificate"));
      } else resolve(new Uint8Array(raw));
    });
    socket.once("error", (error: Error & { code?: string }) => {
      const refused = error.code === "ECONNREFUSED";
      const unreachable = refused || error.code === "ENOTFOUND" ||
        error.code === "EHOSTUNREACH" || error.code === "ETIMEDOUT";
      fail(
        new ProbeError(
          unreachable ? "unreachable" : "not-tls",
          refused ? "connection refused" : error.message,
          { cause: error },
        ),
      );
    });
  });
  return derToPem(der);
}

/**
 * Asks on the terminal whether to trust an unknown server, as ssh does, and
 * returns the answer. Only `yes` (or the fingerprint itself) trusts; `no`,
 * an empty line or the end of input does not.
 */
export async function askToTrust(
  label: string,
  fingerprint: string,
): Promise<boolean> {
  let question = `The authenticity of host '${label}' can't be established.\n` +
    `Certificate fingerprint is ${fingerprint}.\n` +
    "Are you sure you want to continue connecting (yes/no)? ";
  while (true) {
    const answer = await readTerminalLine(question);
    if (answer === null) return false;
    const word = answer.trim();
    if (word.toLowerCase() === "yes" || word === fingerprint) return true;
    if (word.toLowerCase() === "no" || word === "") return false;
    question = "Please type 'yes' or 'no': ";
  }
}

/**
 * Shows `question` on stderr and reads one line from stdin (which must be a
 * terminal, so a read returns one line). Returns null at the end of input.
 */
export async function readTerminalLine(
  question: string,
): Promise<string | null> {
  await Deno.stderr.write(new TextEncoder().encode(question));
  const bytes: Uint8Array[] = [];
  const buffer = new Uint8Array(1024);
  while (true) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) {
      return bytes.length === 0
        ? null
        : new TextDecoder().decode(concat(bytes));
    }
    bytes.push(buffer.slice(0, n));
    const newline = buffer.subarray(0, n).indexOf(0x0a);
    if (newline >= 0) {
      const text = new TextDecoder().decode(concat(bytes));
      return text.slice(0, text.indexOf("\n")).replace(/\r$/, "");
    }
  }
}

function isIpAddress(hostname: string): boolean {
  return hostname.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}
