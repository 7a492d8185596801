/**
 * HTTP Basic logins checked against the SCRAM-SHA-256 verifiers of the users
 * file. The check runs one SCRAM exchange in-process (the client half with
 * the given password, the server half with the stored verifier), so the
 * verifier is used exactly as for a native login and unknown users cost the
 * same as known ones. A success is remembered for a short while under a hash
 * of the credentials, so a WebDAV client's many requests do not each pay
 * 600,000 PBKDF2 rounds. Failures go through the same per-address throttle
 * as native logins.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { AuthError } from "../../protocol/errors.ts";
import { ScramClient, ScramServer } from "../../protocol/scram.ts";
import type { Logins } from "../auth/login.ts";

/** A user who passed the check. */
export interface BasicUser {
  name: string;
  readOnly: boolean;
}

/** How long a successful check is remembered. */
export const BASIC_CACHE_MS = 60_000;
const MAX_CACHED = 1000;

/** Checks `Authorization: Basic` credentials. */
export class BasicAuth {
  #logins: Logins;
  #cache = new Map<string, { user: BasicUser; until: number }>();

  constructor(logins: Logins) {
    this.#logins = logins;
  }

  /**
   * The user named by an `Authorization` header, or null when it is missing,
   * malformed or wrong.
   */
  async check(
    header: string | null,
    peerHost: string,
  ): Promise<BasicUser | null> {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
    if (!match) return null;
    let decoded: string;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.fromBase64(match[1]),
      );
    } catch {
      return null;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return null;
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const store = await this.#logins.store();
    const record = store.users.get(name);
    // Keyed by the stored key too: a new password or a removed user is
    // never served from the cache.
    const key = createHash("sha256").update(
      `${decoded}\0${record?.verifier.storedKey ?? ""}`,
    ).digest("hex");
    const cached = this.#cache.get(key);
    if (record && cached && cached.until > Date.now()) {
      return { name, readOnly: record.readOnly };
    }
    const throttle = this.#logins.throttle;
    // One verdict at a time per address, after the wait its failures
    // earned for this user (the native login's throttle, shared).
    const next = await throttle.turn(peerHost, name);
    try {
      const server = new ScramServer(
        (user) => store.users.get(user)?.verifier,
        { secret: store.secret },
      );
      const client = new ScramClient(name, password);
      const serverFirst = await server.first(client.first());
      const serverFinal = await server.final(await client.final(serverFirst));
      client.verify(serverFinal);
    } catch (error) {
      if (!(error instanceof AuthError)) {
        next();
        throw error;
      }
      throttle.failed(peerHost, name);
      next();
      return null;
    }
    throttle.succeeded(peerHost, name);
    next();
    const user = { name, readOnly: record!.readOnly };
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(key, { user, until: Date.now() + BASIC_CACHE_MS });
    return user;
  }
}
