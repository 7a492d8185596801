/**
 * SCRAM-SHA-256 password login (RFC 5802, RFC 7677) as pure message
 * functions: {@linkcode ScramClient} and {@linkcode ScramServer} turn one
 * message string into the next and never touch a socket.
 *
 * ```
 * client-first  n,,n=<user>,r=<client nonce>
 * server-first  r=<client nonce + server nonce>,s=<salt>,i=<iterations>
 * client-final  c=biws,r=<nonce>,p=<proof>
 * server-final  v=<server signature>
 * ```
 *
 * The server keeps only a verifier ({@linkcode createVerifier}), never the
 * password. It answers an unknown user with a made-up salt that stays the same
 * for that name and with the same work as for a real user, so that an unknown
 * user and a wrong password look alike. The client checks the server's
 * signature, which proves the server knows the verifier.
 *
 * Channel binding is not used (`n,,`): the TLS connection is pinned instead.
 * SASLprep is approximated by Unicode NFKC normalisation of the password.
 *
 * @module
 */

import { timingSafeEqual } from "@std/crypto/timing-safe-equal";
import { AuthError } from "./errors.ts";

/** What the server stores per user: everything needed to check a proof, nothing that gives the password. */
export interface ScramVerifier {
  /** Salt, base64. */
  salt: string;
  /** PBKDF2 iteration count. */
  iterations: number;
  /** H(ClientKey), base64. */
  storedKey: string;
  /** HMAC(SaltedPassword, "Server Key"), base64. */
  serverKey: string;
}

/** The user name or password was wrong; the message is the same for both. */
export class AuthenticationError extends AuthError {
  /** Creates the error; the default reason is the one users see. */
  constructor(reason = "wrong user name or password") {
    super(reason, { action: "log in" });
  }
}

/** A SCRAM message is malformed or out of order. */
export class ScramProtocolError extends AuthError {
  /** Creates the error for the action "log in". */
  constructor(reason: string) {
    super(reason, { action: "log in" });
  }
}

/** Iterations used by {@linkcode createVerifier} (OWASP 2023 for PBKDF2-HMAC-SHA-256). */
export const DEFAULT_ITERATIONS = 600_000;
/** The least iteration count a client accepts (RFC 7677 asks for at least 4096). */
export const MIN_ITERATIONS = 4096;
/** The most iterations a client computes, so a server cannot make it spin for minutes. */
export const MAX_ITERATIONS = 10_000_000;

const GS2_HEADER = "n,,";
const CHANNEL_BINDING = btoa(GS2_HEADER); // "biws"
const NONCE_BYTES = 18;
const SALT_BYTES = 16;
const encoder = new TextEncoder();

/**
 * Makes the verifier for a password with a fresh random salt.
 *
 * @param iterations PBKDF2 iteration count, at least {@linkcode MIN_ITERATIONS}.
 */
export async function createVerifier(
  password: string,
  iterations: number = DEFAULT_ITERATIONS,
): Promise<ScramVerifier> {
  if (!iterationsInRange(iterations)) {
    throw new RangeError(
      `cannot create verifier: iteration count ${iterations} is outside ` +
        `${MIN_ITERATIONS}..${MAX_ITERATIONS}`,
    );
  }
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const keys = await deriveKeys(password, salt, iterations);
  return {
    salt: salt.toBase64(),
    iterations,
    storedKey: keys.storedKey.toBase64(),
    serverKey: keys.serverKey.toBase64(),
  };
}

/** Escapes a user name for a SCRAM message: `=` becomes `=3D`, `,` becomes `=2C`. */
export function escapeUsername(name: string): string {
  return name.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

/**
 * Reverses {@linkcode escapeUsername}.
 *
 * @throws {ScramProtocolError} on a `=` that starts neither escape.
 */
export function unescapeUsername(escaped: string): string {
  if (/=(?!2C|3D)/.test(escaped)) {
    throw new ScramProtocolError("malformed user name");
  }
  return escaped.replaceAll("=2C", ",").replaceAll("=3D", "=");
}

/**
 * The client side of one login. Call {@linkcode ScramClient.first},
 * {@linkcode ScramClient.final} and {@linkcode ScramClient.verify} in order.
 */
export class ScramClient {
  #username: string;
  #password: string;
  #nonce: string;
  #clientFirstBare: string;
  #expectedSignature: Uint8Array | undefined;

  /**
   * @param nonce the client nonce; random unless given (tests only).
   */
  constructor(username: string, password: string, nonce?: string) {
    this.#username = username;
    this.#password = password;
    this.#nonce = nonce ?? randomNonce();
    this.#clientFirstBare = `n=${escapeUsername(username)},r=${this.#nonce}`;
  }

  /** The user name this client logs in as. */
  get username(): string {
    return this.#username;
  }

  /** Returns the client-first message. */
  first(): string {
    return GS2_HEADER + this.#clientFirstBare;
  }

  /**
   * Computes the client-final message (with the proof) from the server-first
   * message. This runs PBKDF2 and so takes as long as the iteration count
   * says.
   *
   * @throws {ScramProtocolError} when the server's message is malformed, its
   * nonce does not extend ours or its iteration count is out of bounds.
   */
  async final(serverFirst: string): Promise<string> {
    const attrs = parseAttributes(serverFirst);
    const nonce = required(attrs, "r");
    const salt = decodeBase64(required(attrs, "s"), "salt");
    const iterations = parseIterations(required(attrs, "i"));
    if (!nonce.startsWith(this.#nonce) || nonce.length <= this.#nonce.length) {
      throw new ScramProtocolError("the server's nonce does not match");
    }
    if (!iterationsInRange(iterations)) {
      throw new ScramProtocolError(
        `the server asks for ${iterations} iterations, outside ` +
          `${MIN_ITERATIONS}..${MAX_ITERATIONS}`,
      );
    }
    const finalWithoutProof = `c=${CHANNEL_BINDING},r=${nonce}`;
    const authMessage = encoder.encode(
      `${this.#clientFirstBare},${serverFirst},${finalWithoutProof}`,
    );
    const keys = await deriveKeys(this.#password, salt, iterations);
    const clientSignature = await hmac(keys.storedKey, authMessage);
    const proof = xor(keys.clientKey, clientSignature);
    this.#expectedSignature = await hmac(keys.serverKey, authMessage);
    return `${finalWithoutProof},p=${proof.toBase64()}`;
  }

  /**
   * Checks the server-final message. Returns if the server proved that it
   * knows this user's verifier.
   *
   * @throws {AuthenticationError} when the server reports an error (`e=`) or
   * its signature is wrong.
   */
  verify(serverFinal: string): void {
    if (this.#expectedSignature === undefined) {
      throw new ScramProtocolError("server-final message before client-final");
    }
    const attrs = parseAttributes(serverFinal);
    if (attrs.has("e")) throw new AuthenticationError();
    const signature = decodeBase64(required(attrs, "v"), "server signature");
    // The length first: timingSafeEqual throws on buffers of other lengths,
    // and a signature of the wrong length is as wrong as any other.
    if (
      signature.length !== this.#expectedSignature.length ||
      !timingSafeEqual(signature, this.#expectedSignature)
    ) {
      throw new AuthenticationError(
        "cannot log in: the server did not prove that it knows the password " +
          "(wrong server signature)",
      );
    }
  }
}

/** Where a {@linkcode ScramServer} finds a user's verifier. */
export type VerifierLookup = (
  username: string,
) => ScramVerifier | undefined | Promise<ScramVerifier | undefined>;

/** Options for {@linkcode ScramServer}. */
export interface ScramServerOptions {
  /**
   * A secret kept by the server (at least 16 bytes) from which the made-up
   * salts of unknown users are derived. Keep it across restarts so that those
   * salts stay the same.
   */
  secret: Uint8Array;
  /** Iterations announced for unknown users. Default: {@linkcode DEFAULT_ITERATIONS}. */
  fakeIterations?: number;
  /** The server nonce; random unless given (tests only). */
  nonce?: string;
}

/**
 * The server side of one login. Call {@linkcode ScramServer.first}, then
 * {@linkcode ScramServer.final}; after `final` resolves, {@linkcode
 * ScramServer.username} is the authenticated user.
 */
export class ScramServer {
  #lookup: VerifierLookup;
  #secret: Uint8Array;
  #fakeIterations: number;
  #serverNonce: string;
  #state:
    | undefined
    | {
      username: string;
      verifier: ScramVerifier;
      clientFirstBare: string;
      serverFirst: string;
      nonce: string;
    };
  #authenticated: string | undefined;

  /** @param lookup returns the verifier of a user, or undefined if there is no such user. */
  constructor(lookup: VerifierLookup, options: ScramServerOptions) {
    if (options.secret.length < 16) {
      throw new RangeError("the SCRAM server secret needs at least 16 bytes");
    }
    this.#lookup = lookup;
    this.#secret = options.secret;
    this.#fakeIterations = options.fakeIterations ?? DEFAULT_ITERATIONS;
    this.#serverNonce = options.nonce ?? randomNonce();
  }

  /** The authenticated user name once {@linkcode ScramServer.final} succeeded. */
  get username(): string | undefined {
    return this.#authenticated;
  }

  /**
   * Answers the client-first message with the server-first message. For an
   * unknown user the salt is made up but stable, so the answer looks like one
   * for a real user.
   *
   * @throws {ScramProtocolError} when the message is malformed.
   */
  async first(clientFirst: string): Promise<string> {
    if (this.#state !== undefined) {
      throw new ScramProtocolError("client-first message sent twice");
    }
    if (!clientFirst.startsWith(GS2_HEADER)) {
      throw new ScramProtocolError(
        "unsupported SCRAM header (channel binding is not offered)",
      );
    }
    const clientFirstBare = clientFirst.slice(GS2_HEADER.length);
    const attrs = parseAttributes(clientFirstBare);
    if (attrs.has("m")) {
      throw new ScramProtocolError("unsupported SCRAM extension");
    }
    const username = unescapeUsername(required(attrs, "n"));
    const clientNonce = required(attrs, "r");
    // The made-up verifier is computed for every user, so that known and
    // unknown users cost the same.
    const fake = await this.#fakeVerifier(username);
    const verifier = (await this.#lookup(username)) ?? fake;
    const nonce = clientNonce + this.#serverNonce;
    const serverFirst =
      `r=${nonce},s=${verifier.salt},i=${verifier.iterations}`;
    this.#state = {
      username,
      verifier,
      clientFirstBare,
      serverFirst,
      nonce,
    };
    return serverFirst;
  }

  /**
   * Checks the client's proof and returns the server-final message carrying
   * the server's signature.
   *
   * @throws {AuthenticationError} when the proof is wrong or the user unknown
   * (the two are not told apart).
   * @throws {ScramProtocolError} when the message is malformed or out of order.
   */
  async final(clientFinal: string): Promise<string> {
    const state = this.#state;
    if (state === undefined) {
      throw new ScramProtocolError("client-final message before client-first");
    }
    this.#state = undefined; // one attempt per exchange
    const proofAt = clientFinal.lastIndexOf(",p=");
    if (proofAt < 0) throw new ScramProtocolError("missing client proof");
    const finalWithoutProof = clientFinal.slice(0, proofAt);
    const attrs = parseAttributes(finalWithoutProof);
    const proof = decodeBase64(clientFinal.slice(proofAt + 3), "client proof");
    if (required(attrs, "c") !== CHANNEL_BINDING) {
      throw new ScramProtocolError("channel binding does not match");
    }
    if (required(attrs, "r") !== state.nonce) {
      throw new ScramProtocolError("nonce does not match");
    }
    const authMessage = encoder.encode(
      `${state.clientFirstBare},${state.serverFirst},${finalWithoutProof}`,
    );
    const storedKey = Uint8Array.fromBase64(state.verifier.storedKey);
    const clientSignature = await hmac(storedKey, authMessage);
    // A proof of the wrong length is wrong, but costs the same work.
    const clientKey = xor(
      proof.length === clientSignature.length ? proof : clientSignature,
      clientSignature,
    );
    const candidate = new Uint8Array(
      await crypto.subtle.digest("SHA-256", clientKey),
    );
    const serverSignature = await hmac(
      Uint8Array.fromBase64(state.verifier.serverKey),
      authMessage,
    );
    if (
      !timingSafeEqual(candidate, storedKey) ||
      proof.length !== clientSignature.length
    ) {
      throw new AuthenticationError();
    }
    this.#authenticated = state.username;
    return `v=${serverSignature.toBase64()}`;
  }

  async #fakeVerifier(username: string): Promise<ScramVerifier> {
    const name = encoder.encode(username);
    const salt = await hmac(this.#secret, concat("fts salt\0", name));
    const storedKey = await hmac(this.#secret, concat("fts stored\0", name));
    const serverKey = await hmac(this.#secret, concat("fts server\0", name));
    return {
      salt: salt.subarray(0, SALT_BYTES).toBase64(),
      iterations: this.#fakeIterations,
      storedKey: storedKey.toBase64(),
      serverKey: serverKey.toBase64(),
    };
  }
}

interface DerivedKeys {
  clientKey: Uint8Array<ArrayBuffer>;
  storedKey: Uint8Array<ArrayBuffer>;
  serverKey: Uint8Array<ArrayBuffer>;
}

async function deriveKeys(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<DerivedKeys> {
  const baseKey = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password.normalize("NFKC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const saltedPassword = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations },
      baseKey,
      256,
    ),
  );
  const clientKey = await hmac(saltedPassword, encoder.encode("Client Key"));
  const storedKey = new Uint8Array(
    await crypto.subtle.digest("SHA-256", clientKey),
  );
  const serverKey = await hmac(saltedPassword, encoder.encode("Server Key"));
  return { clientKey, storedKey, serverKey };
}

async function hmac(
  key: Uint8Array,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data));
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function concat(label: string, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(label);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

function randomNonce(): string {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES)).toBase64();
}

/** Splits `a=1,b=2` into a map; values may contain `=`, never `,`. */
function parseAttributes(message: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of message.split(",")) {
    if (!/^[a-zA-Z]=/.test(part)) {
      throw new ScramProtocolError("malformed SCRAM message");
    }
    const key = part[0];
    if (attrs.has(key)) {
      throw new ScramProtocolError("malformed SCRAM message");
    }
    attrs.set(key, part.slice(2));
  }
  return attrs;
}

function required(attrs: Map<string, string>, key: string): string {
  const value = attrs.get(key);
  if (value === undefined || value === "") {
    throw new ScramProtocolError(`SCRAM message lacks "${key}="`);
  }
  return value;
}

function decodeBase64(text: string, what: string): Uint8Array<ArrayBuffer> {
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    throw new ScramProtocolError(`malformed ${what}`);
  }
}

function parseIterations(text: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) {
    throw new ScramProtocolError("malformed iteration count");
  }
  return Number(text);
}

function iterationsInRange(iterations: number): boolean {
  return Number.isInteger(iterations) && iterations >= MIN_ITERATIONS &&
    iterations <= MAX_ITERATIONS;
}
