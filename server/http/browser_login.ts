/**
 * Logins for the web page: the page runs SCRAM-SHA-256 in the browser with
 * Web Crypto against the same verifiers as native logins, so the password
 * never crosses the network, even over plain HTTP. A successful login gets a
 * session cookie (HttpOnly, SameSite=Strict, Secure over TLS, 12 h).
 *
 * CSRF: a request authenticated by the cookie may only write when it also
 * carries `X-Requested-With: fts`. Browsers never add that header to a
 * cross-site form or link, and a cross-site script cannot without a CORS
 * preflight this server does not grant.
 *
 * @module
 */

import { AuthError } from "../../protocol/errors.ts";
import { ScramServer } from "../../protocol/scram.ts";
import type { Logins } from "../auth/login.ts";
import type { UserStore } from "../auth/users.ts";
import { throttleKey } from "../auth/login_throttle.ts";
import { HttpError } from "./http_errors.ts";
import { readLimitedText } from "./request_body.ts";

/** Cookie name of a page session. */
export const SESSION_COOKIE = "fts_session";
/** How long a page session lasts. */
export const SESSION_MS = 12 * 3600_000;
/** The header the page sends with every request (see the CSRF note). */
export const CSRF_HEADER = "x-requested-with";
const PENDING_MS = 60_000;
/** Unfinished logins one address (an IPv6 /64) may have at once. */
export const MAX_PENDING_PER_ADDRESS = 16;
/** Unfinished logins in all; beyond it the oldest is dropped, not refused. */
const MAX_PENDING = 10_000;

/** A user logged in through the page. */
export interface PageUser {
  name: string;
  readOnly: boolean;
}

/** Page sessions and logins in progress. */
export class BrowserLogins {
  #logins: Logins;
  #tls: boolean;
  /** Sessions by token; `storedKey` is the password's they logged in with. */
  #sessions = new Map<
    string,
    PageUser & { until: number; storedKey: string }
  >();
  #pending = new Map<
    string,
    { scram: ScramServer; until: number; release: () => void }
  >();
  /** Unfinished logins per throttle key of their address. */
  #pendingPer = new Map<string, number>();

  #bodyDeadlineMs: number;

  /** `bodyDeadlineMs`: time a login step's body may take to arrive. */
  constructor(logins: Logins, tls: boolean, bodyDeadlineMs = 20_000) {
    this.#logins = logins;
    this.#tls = tls;
    this.#bodyDeadlineMs = bodyDeadlineMs;
  }

  /** The session user of a request's cookie, if any. */
  user(request: Request): PageUser | null {
    const token = sessionToken(request);
    if (!token) return null;
    const session = this.#sessions.get(token);
    if (!session || session.until <= Date.now()) {
      this.#sessions.delete(token);
      return null;
    }
    return { name: session.name, readOnly: session.readOnly };
  }

  /**
   * Applies a new users file: sessions of removed users and of users with a
   * new password end, the others take their user's current read-only flag.
   * Returns, per user, how many sessions ended or changed.
   */
  revoke(store: UserStore): Map<string, number> {
    const touched = new Map<string, number>();
    for (const [token, session] of this.#sessions) {
      const record = store.users.get(session.name);
      if (
        record === undefined ||
        record.verifier.storedKey !== session.storedKey
      ) {
        this.#sessions.delete(token);
      } else if (record.readOnly !== session.readOnly) {
        session.readOnly = record.readOnly;
      } else continue;
      touched.set(session.name, (touched.get(session.name) ?? 0) + 1);
    }
    return touched;
  }

  /**
   * `POST ?login` with `{step: "first", data}` then `{step: "final", id,
   * data}`; `POST ?logout` ends the session.
   */
  async handle(
    request: Request,
    url: URL,
    peerHost: string,
  ): Promise<Response> {
    if (request.method !== "POST") {
      throw new HttpError(405, "log in with POST", { allow: "POST" });
    }
    if (url.searchParams.has("logout")) return this.#logout(request);
    let body: { step?: string; id?: string; data?: string };
    try {
      body = JSON.parse(
        await readLimitedText(request, 4096, this.#bodyDeadlineMs),
      );
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, "the login body is not JSON");
    }
    if (typeof body.data !== "string") {
      throw new HttpError(400, "the login body needs data");
    }
    const now = Date.now();
    for (const [id, p] of this.#pending) {
      if (p.until <= now) this.#forget(id);
    }
    const store = await this.#logins.store();
    if (body.step === "first") {
      // Capped per address like the native throttle, so that one address
      // cannot lock everyone else out of the page.
      const address = throttleKey(peerHost);
      if ((this.#pendingPer.get(address) ?? 0) >= MAX_PENDING_PER_ADDRESS) {
        throw new HttpError(
          503,
          "too many logins at once from your address; try again",
          { "retry-after": "5" },
        );
      }
      if (this.#pending.size >= MAX_PENDING) {
        this.#forget(this.#pending.keys().next().value!);
      }
      // Counted before the first await, so concurrent steps see it.
      this.#pendingPer.set(address, (this.#pendingPer.get(address) ?? 0) + 1);
      const release = () => {
        const left = (this.#pendingPer.get(address) ?? 1) - 1;
        if (left > 0) this.#pendingPer.set(address, left);
        else this.#pendingPer.delete(address);
      };
      const scram = new ScramServer(
        (name) => store.users.get(name)?.verifier,
        { secret: store.secret },
      );
      const id = randomToken();
      const data = await scram.first(body.data).catch((error) => {
        release();
        throw new HttpError(
          400,
          error instanceof AuthError ? error.reason : "bad login",
        );
      });
      this.#pending.set(id, { scram, until: now + PENDING_MS, release });
      return Response.json({ id, data });
    }
    const pending = this.#pending.get(body.id ?? "");
    if (body.step !== "final" || !pending) {
      throw new HttpError(400, "no such login in progress");
    }
    this.#forget(body.id!);
    const throttle = this.#logins.throttle;
    const name = pending.scram.username ?? "";
    // The native login's throttle, shared: one verdict at a time per
    // address, after the wait its failures earned for this user.
    const next = await throttle.turn(peerHost, name);
    let data: string;
    try {
      data = await pending.scram.final(body.data);
    } catch (error) {
      if (error instanceof AuthError) throttle.failed(peerHost, name);
      next();
      if (!(error instanceof AuthError)) throw error;
      throw new HttpError(401, "wrong user name or password");
    }
    throttle.succeeded(peerHost, name);
    next();
    const user = store.users.get(pending.scram.username!)!;
    const token = randomToken();
    this.#sessions.set(token, {
      name: user.name,
      readOnly: user.readOnly,
      until: now + SESSION_MS,
      storedKey: user.verifier.storedKey,
    });
    return Response.json({ data, name: user.name, readOnly: user.readOnly }, {
      headers: { "set-cookie": this.#cookie(token, SESSION_MS / 1000) },
    });
  }

  /** Drops a pending login and its count. */
  #forget(id: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.release();
  }

  #logout(request: Request): Response {
    const token = sessionToken(request);
    if (token) this.#sessions.delete(token);
    return new Response(null, {
      status: 204,
      headers: { "set-cookie": this.#cookie("", 0) },
    });
  }

  #cookie(value: string, maxAge: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${
      this.#tls ? "; Secure" : ""
    }`;
  }
}

/** The session cookie's value in a request. */
function sessionToken(request: Request): string | undefined {
  return new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]+)`)
    .exec(request.headers.get("cookie") ?? "")?.[1];
}

function randomToken(): string {
  return crypto.getRandomValues(new Uint8Array(24)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}
