/**
 * Typed errors shared by server and client, and their wire form.
 *
 * Each class is one kind of failure a user must be able to tell apart; its
 * `code` is what travels in an `error` message. Messages read
 * `cannot <action>: <reason>`.
 *
 * @module
 */

/** Wire codes of the error kinds. */
export type ErrorCode =
  | "not_found"
  | "exists"
  | "wrong_type"
  | "invalid_path"
  | "read_only"
  | "protocol"
  | "integrity"
  | "busy"
  | "auth"
  | "connection"
  | "no_space"
  | "permission"
  | "io";

/** Options of an {@linkcode FtsError}: the action that failed, and a cause. */
export interface FtsErrorOptions extends ErrorOptions {
  /** What the user asked for, worded to follow "cannot" (`get "a.txt"`). */
  action?: string;
}

/**
 * Base class of every error fts reports to a user. The reason says what went
 * wrong; the action, when known, says what could not be done. The message is
 * derived from both: `cannot <action>: <reason>`, or the reason alone while
 * the action is not known yet (deep in the server, say).
 */
export class FtsError extends Error {
  /** The wire code of this kind of error. */
  readonly code: ErrorCode = "io";
  /** What could not be done, or undefined while not known. */
  readonly action: string | undefined;
  /** Why it could not be done. */
  readonly reason: string;
  constructor(reason: string, options?: FtsErrorOptions) {
    super(
      options?.action ? `cannot ${options.action}: ${reason}` : reason,
      options,
    );
    this.name = new.target.name;
    this.action = options?.action;
    this.reason = reason;
  }

  /**
   * The same kind of error with `action` filled in. An error that names its
   * action already is returned as it is, so no message says "cannot" twice.
   */
  withAction(action: string): FtsError {
    if (this.action !== undefined) return this;
    const Class = this.constructor as new (
      reason: string,
      options?: FtsErrorOptions,
    ) => FtsError;
    return new Class(this.reason, { action, cause: this.cause });
  }
}

/**
 * The base of the error class of one wire code, so that each kind below is
 * one line; every kind stays its own class, which `instanceof` tells apart.
 */
function kind<C extends ErrorCode>(code: C) {
  return class extends FtsError {
    override readonly code: C = code;
  };
}

/** The path does not exist. */
export class NotFoundError extends kind("not_found") {}
/** The target exists and the operation must not replace it. */
export class AlreadyExistsError extends kind("exists") {}
/** A file was found where a folder was needed, or the other way round. */
export class WrongTypeError extends kind("wrong_type") {}
/** A path is malformed or leads outside the served root. */
export class InvalidPathError extends kind("invalid_path") {}
/** The peer broke the wire format (garbage, unknown message, oversized frame). */
export class ProtocolError extends kind("protocol") {}
/**
 * The peer began with a TLS record (an alert or a handshake) where fts frames
 * were expected: one end speaks TLS and the other does not.
 */
export class PeerSpeaksTlsError extends ProtocolError {}
/**
 * The peer's first bytes are no fts frame: another protocol answered (an
 * HTTP or SSH server on the port named, say).
 */
export class ForeignPeerError extends ProtocolError {
  /** The first bytes the peer sent (a frame header's worth). */
  readonly greeting: Uint8Array;
  constructor(
    reason: string,
    options?: FtsErrorOptions & { greeting?: Uint8Array },
  ) {
    super(reason, options);
    this.greeting = options?.greeting ?? new Uint8Array(0);
  }
}
/** The received bytes do not match the sender's checksum. */
export class IntegrityError extends kind("integrity") {}
/** The server refused the connection because it is at capacity. */
export class BusyError extends kind("busy") {}
/** Login failed or is required. */
export class AuthError extends kind("auth") {}
/** The connection could not be made or was lost. */
export class ConnectionError extends kind("connection") {}
/** The byte stream ended part-way through a frame (the link was cut). */
export class TruncatedFrameError extends ProtocolError {}
/** A write was refused because the server or the user is read-only. */
export class ReadOnlyError extends kind("read_only") {}
/** The disk (the server's or the local one) is full. */
export class DiskFullError extends kind("no_space") {}
/** The file system refused access (permission bits, ownership). */
export class PermissionError extends kind("permission") {}
/** Any other failure of the file system or the peer. */
export class IoError extends kind("io") {}

const CLASSES: Record<
  ErrorCode,
  new (reason: string, options?: FtsErrorOptions) => FtsError
> = {
  not_found: NotFoundError,
  exists: AlreadyExistsError,
  wrong_type: WrongTypeError,
  invalid_path: InvalidPathError,
  read_only: ReadOnlyError,
  protocol: ProtocolError,
  integrity: IntegrityError,
  busy: BusyError,
  auth: AuthError,
  connection: ConnectionError,
  no_space: DiskFullError,
  permission: PermissionError,
  io: IoError,
};

/** The wire form of an error: a code and a reason without the action. */
export interface WireError {
  code: ErrorCode;
  reason: string;
}

/**
 * Rebuilds a typed error from its wire form, naming the action that failed.
 *
 * @example
 * ```ts
 * const error = errorFromWire({ code: "not_found", reason: "no such file on the server" }, 'get "a.txt"');
 * // error.message === 'cannot get "a.txt": no such file on the server'
 * ```
 */
export function errorFromWire(wire: WireError, action: string): FtsError {
  return errorOfCode(wire.code, wire.reason, { action });
}

/** A new typed error of the kind `code` names (an unknown code: `IoError`). */
export function errorOfCode(
  code: ErrorCode,
  reason: string,
  options?: FtsErrorOptions,
): FtsError {
  const Class = CLASSES[code] ?? IoError;
  return new Class(reason, options);
}

/** Returns whether `code` is a known error code. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(CLASSES, code);
}
