/**
 * Password login on the server: the users file, re-read when it changes, and
 * the SCRAM-SHA-256 exchange of one session, slowed per address and user
 * after failures, one verdict at a time per address, by a
 * {@linkcode LoginThrottle}.
 *
 * ```text
 * client                                         server
 *   | auth {mechanism, data: client-first}    -->  |
 *   | <-- auth-continue {data: server-first}       |
 *   | auth {mechanism, data: client-final}    -->  |  (throttle: turn, wait)
 *   | <-- auth-ok {data: server-final, readOnly}   |
 *   |     or error {code: "auth"}                  |
 * ```
 *
 * An unknown user and a wrong password get the same answer after the same
 * work (see {@linkcode ScramServer}).
 *
 * @module
 */

import {
  AUTH_MECHANISM,
  type AuthRequest,
  BusyError,
  ConnectionError,
  type MessageReader,
  type MessageWriter,
  ProtocolError,
} from "../../protocol/mod.ts";
import {
  AuthenticationError,
  ScramProtocolError,
  ScramServer,
  unescapeUsername,
} from "../../protocol/scram.ts";
import { LoginThrottle } from "./login_throttle.ts";
import type { ServerLog } from "../server_log.ts";
import { loadUsers, type UserStore } from "./users.ts";

/** The reason every failed login gets, whatever went wrong. */
export const LOGIN_FAILED = "wrong user name or password";

/** A user who logged in. */
export interface LoggedIn {
  name: string;
  readOnly: boolean;
}

/** What {@linkcode serveLogin} needs from its session. */
export interface LoginIo {
  reader: MessageReader;
  writer: MessageWriter;
  log: ServerLog;
  /** The client's address, `host:port`, for the log. */
  peer: string;
  /** The client's host alone, for the throttle. */
  peerHost: string;
  /** Aborts when the connection closes, to stop a throttle wait. */
  signal?: AbortSignal;
}

/** A users file as read: its users, and the version they were read at. */
interface Loaded {
  store: UserStore;
  version: string;
}

/**
 * The users a server accepts, from a users file that is read again when it
 * changes, so `fts user add` takes effect without a
 * restart.
 */
export class Logins {
  /** The users file. */
  readonly file: string;
  /** Slows down guessing per address. */
  readonly throttle: LoginThrottle;
  #store: UserStore;
  #version: string;
  #listeners: ((before: UserStore, after: UserStore) => void)[] = [];

  private constructor(file: string, users: Loaded, throttle: LoginThrottle) {
    this.file = file;
    this.#store = users.store;
    this.#version = users.version;
    this.throttle = throttle;
  }

  /**
   * Loads the users file.
   *
   * @throws {Error} "cannot load users: ..." when it is missing, unreadable
   * or malformed.
   */
  static async open(
    file: string,
    throttle: LoginThrottle = new LoginThrottle(),
  ): Promise<Logins> {
    const version = await fileVersion(file).catch((error) => {
      throw new Error(
        error instanceof Deno.errors.NotFound
          ? `cannot load users: ${file} does not exist (create it with "fts user add NAME --users ${file}")`
          : `cannot load users: cannot read ${file}: ${error.message}`,
      );
    });
    const store = await loadUsers(file);
    return new Logins(file, { store, version }, throttle);
  }

  /**
   * The current users: the file is read again if it changed. If it cannot be
   * read now, the last good version stays in use.
   */
  async store(): Promise<UserStore> {
    await this.changed();
    return this.#store;
  }

  /**
   * Reads the users file again if it changed; returns whether it did (and
   * could be read: a broken file keeps the last good version in use).
   */
  async changed(): Promise<boolean> {
    try {
      const version = await fileVersion(this.file);
      if (version === this.#version) return false;
      const loaded = await loadUsers(this.file);
      // Another caller may have loaded it meanwhile: tell the change once.
      if (version === this.#version) return false;
      const before = this.#store;
      this.#store = loaded;
      this.#version = version;
      for (const listener of this.#listeners) listener(before, loaded);
      return true;
    } catch {
      // Being replaced, or broken: keep what worked.
      return false;
    }
  }

  /**
   * Calls `listener` with the old and the new users each time the file is
   * read again after a change (the server polls it every 2 s), so that
   * front-ends can revoke what a removed or changed user still holds.
   */
  onChange(listener: (before: UserStore, after: UserStore) => void): void {
    this.#listeners.push(listener);
  }

  /** Whether `name` is a user, as of the last reading of the file. */
  has(name: string): boolean {
    return this.#store.users.has(name);
  }
}

/**
 * Runs one login from its first `auth` message to `auth-ok` or an `auth`
 * error. Returns the user, or null when the login failed (the error has
 * been sent and logged; the session may go on and try again).
 *
 * @throws {ProtocolError} when the client breaks the exchange.
 * @throws {ConnectionError} when the client leaves during it.
 */
export async function serveLogin(
  io: LoginIo,
  logins: Logins,
  first: AuthRequest,
): Promise<LoggedIn | null> {
  const { reader, writer, log, peer, peerHost } = io;
  if (first.mechanism !== AUTH_MECHANISM) {
    await sendAuthError(
      io,
      `the login mechanism "${first.mechanism}" is not supported (use ${AUTH_MECHANISM})`,
    );
    return null;
  }
  const store = await logins.store();
  const scram = new ScramServer(
    (name) => store.users.get(name)?.verifier,
    { secret: store.secret },
  );
  const name = attemptedUser(first.data);
  // The throttle's key: a malformed name is throttled as one more name.
  const throttled = name ?? "";
  let serverFinal: string;
  let next = () => {};
  try {
    await writer.send({
      op: "auth-continue",
      data: await scram.first(first.data),
    });
    const final = await reader.read();
    if (final === null) {
      throw new ConnectionError("the client left during the login");
    }
    if (final.op !== "auth") {
      throw new ProtocolError(`expected "auth", got "${final.op}"`);
    }
    // One verdict at a time per address, each after the wait its failures
    // have earned.
    next = await logins.throttle.turn(peerHost, throttled, io.signal);
    serverFinal = await scram.final(final.data);
  } catch (error) {
    if (error instanceof AuthenticationError) {
      logins.throttle.failed(peerHost, throttled);
      next();
      log.record({
        peer,
        op: "login",
        result: `failed for ${JSON.stringify(name ?? "?")}`,
      });
      await sendAuthError(io, LOGIN_FAILED);
      return null;
    }
    if (error instanceof ScramProtocolError) {
      logins.throttle.failed(peerHost, throttled);
      next();
      const reason = error.reason;
      log.record({ peer, op: "login", result: `refused: ${reason}` });
      await sendAuthError(io, reason);
      return null;
    }
    if (error instanceof BusyError) {
      log.record({ peer, op: "login", result: `refused: ${error.reason}` });
      await writer.send({ op: "error", code: "busy", reason: error.reason });
      return null;
    }
    next();
    throw error;
  }
  logins.throttle.succeeded(peerHost, throttled);
  next();
  const user = store.users.get(scram.username!)!;
  await writer.send({
    op: "auth-ok",
    data: serverFinal,
    readOnly: user.readOnly,
  });
  log.record({
    peer,
    op: "login",
    result: `logged in as ${JSON.stringify(user.name)}${
      user.readOnly ? " (read-only)" : ""
    }`,
  });
  return { name: user.name, readOnly: user.readOnly };
}

async function sendAuthError(io: LoginIo, reason: string): Promise<void> {
  await io.writer.send({
    op: "error",
    code: "auth",
    reason,
  });
}

/** The user name in a client-first message, for the log; undefined if malformed. */
function attemptedUser(clientFirst: string): string | undefined {
  const match = /^n,,(?:.*,)?n=([^,]*)/.exec(clientFirst);
  if (!match) return undefined;
  try {
    return unescapeUsername(match[1]);
  } catch {
    return undefined;
  }
}

/** Changes whenever the file is replaced (users.ts renames a new file over it) or written. */
async function fileVersion(file: string): Promise<string> {
  const info = await Deno.stat(file);
  return `${info.ino}:${info.mtime?.getTime()}:${info.size}`;
}
