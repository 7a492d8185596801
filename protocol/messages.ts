/**
 * The control messages of the fts protocol and their JSON encoding.
 *
 * A session is ordered request/response: the client sends one request and
 * reads its reply before the next. Messages whose `op` is in
 * {@linkcode BODY_OPS} are followed by a body (DATA frames closed by an END
 * frame). `notice` and `ping` may arrive at any time, also inside a body, and
 * never answer a request. Tree transfers (`tree-put`, `tree-want`) are the
 * exception to strict turn-taking: one request starts a stream of `file`
 * messages that the receiver acknowledges as it goes. See docs/protocol.md
 * for the flows.
 *
 * @module
 */

import { type ErrorCode, isErrorCode, ProtocolError } from "./errors.ts";

/** The TCP port fts servers listen on unless told otherwise. */
export const DEFAULT_PORT = 7373;

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** The oldest protocol version this build still accepts. */
export const MIN_PROTOCOL_VERSION = 1;

/**
 * The features this build announces in `hello` and `welcome`: resuming,
 * SHA-256 and XXH3-128 checksums, zstd-compressed frames, and delta
 * transfers (docs/delta.md). Each request
 * also names what it wants and each reply what was agreed (`checksum`,
 * `compress`), so an older peer that announces only `resume` and `sha256`
 * and ignores those fields keeps working unchanged. `delete` (the
 * `tree-delete` request of a mirror) and `watch` (the `watch` stream) are
 * asked for only from a server that announced them. `chmod`, `df`: the
 * server takes these requests (a client asks only a server that names
 * them).
 */
export const FEATURES: string[] = [
  "resume",
  "sha256",
  "xxh128",
  "zstd",
  "delta",
  "delete",
  "watch",
  "chmod",
  "df",
];

/** The login mechanism fts servers ask for in `welcome.auth`. */
export const AUTH_MECHANISM = "scram-sha-256";

/**
 * The end-to-end checksums a transfer can use. `xxh128` (XXH3-128) is the
 * default; `sha256` is what every peer speaks, so a peer that names no
 * checksum, or one this build does not know, gets `sha256`. Each digest
 * travels in a field named after its checksum (`sha256`, `xxh128`).
 */
export type Checksum = "sha256" | "xxh128";

/** Every {@linkcode Checksum}, best first. */
export const CHECKSUMS: readonly Checksum[] = ["xxh128", "sha256"];

/** The digest fields a trailer, `done` or an entry may carry. */
export interface Digests {
  /** Lower-case hex SHA-256. */
  sha256?: string;
  /** Lower-case hex XXH3-128. */
  xxh128?: string;
}

/** What a directory entry is. */
export type EntryType = "file" | "dir" | "symlink" | "other";

/** One file or folder as `ls` and `stat` describe it. */
export interface Entry {
  name: string;
  type: EntryType;
  /** Size in bytes. */
  size: number;
  /** Modification time in milliseconds since the epoch. */
  mtime: number;
  /** Permission bits (e.g. 0o644), when the file system has them. */
  mode: number | null;
  /** Lower-case hex SHA-256 of the content, when asked for. */
  sha256?: string;
  /** Lower-case hex XXH3-128 of the content, when asked for. */
  xxh128?: string;
}

/** First message of a connection, client to server. */
export interface Hello {
  op: "hello";
  version: number;
  agent: string;
  features: string[];
}
/** The server's answer to `hello`. */
export interface Welcome {
  op: "welcome";
  version: number;
  agent: string;
  features: string[];
  /** Set when the server itself is read-only; a login may make a user read-only too. */
  readOnly: boolean;
  /** Set when the server requires a login with this mechanism before any request. */
  auth?: typeof AUTH_MECHANISM;
  /** Whether the server sees this connection encrypted with TLS. */
  tls?: boolean;
}
/**
 * One step of a login, client to server: first the SCRAM client-first
 * message, then (after `auth-continue`) the client-final message.
 */
export interface AuthRequest {
  op: "auth";
  mechanism: string;
  data: string;
}
/** The server's SCRAM server-first message, answering the first `auth`. */
export interface AuthContinue {
  op: "auth-continue";
  data: string;
}
/**
 * The login succeeded: `data` is the SCRAM server-final message (the
 * server's signature, for the client to check) and `readOnly` whether this
 * session may only read.
 */
export interface AuthOk {
  op: "auth-ok";
  data: string;
  readOnly: boolean;
}
/** A failed request. */
export interface ErrorMessage {
  op: "error";
  code: ErrorCode;
  reason: string;
}
/** Something the server tells the user unprompted. */
export interface Notice {
  op: "notice";
  message: string;
  /** Set when the server is shutting down and will close the connection. */
  shutdown?: boolean;
}
/** A keepalive; ignored by the receiver. */
export interface Ping {
  op: "ping";
}
/** A request succeeded and has nothing to return. */
export interface Ok {
  op: "ok";
  /**
   * Something the user should know about how it was done (a folder moved
   * object by object on S3); clients show it as one line.
   */
  notice?: string;
}
/** Lists a folder; answered by `listing`. */
export interface ListRequest {
  op: "ls";
  path: string;
  hash?: boolean;
  /** Which digest `hash` asks for; `sha256` when absent. */
  checksum?: string;
}
/** A folder's entries as a body of JSON lines, one {@linkcode Entry} each. */
export interface Listing {
  op: "listing";
  path: string;
}
/** Describes one path; answered by `entry`. */
export interface StatRequest {
  op: "stat";
  path: string;
  hash?: boolean;
  /** Which digest `hash` asks for; `sha256` when absent. */
  checksum?: string;
}
/** One entry. */
export interface EntryMessage {
  op: "entry";
  entry: Entry;
}
/** Starts an upload; answered by `ready`, then the client sends `data`. */
export interface PutRequest {
  op: "put";
  path: string;
  /** Size in bytes, or `null` when unknown (a pipe); such uploads never resume. */
  size: number | null;
  mtime: number;
  mode: number | null;
  /** Continue a partial upload of the same source if there is one. */
  resume: boolean;
  /** Refuse to replace an existing file. */
  noClobber: boolean;
  /** Hash the bytes and compare with the sender's checksum. */
  verify: boolean;
  /** The checksum the client would like; older servers ignore it. */
  checksum?: string;
  /** The client would like to send zstd frames; older servers ignore it. */
  compress?: boolean;
  /**
   * The client can send its zstd frames as one stream per body
   * (`CompressedStream`); older servers ignore it.
   */
  compressStream?: boolean;
  /**
   * The client would like to send a delta against the version the server
   * holds; older servers ignore it.
   */
  delta?: boolean;
  /**
   * The client reads the server's summary in pieces (`summary` messages with
   * `more`), so it can give up on a hopeless match before the last one.
   */
  summaryPieces?: boolean;
}
/** The server is ready for an upload's bytes from `offset` on. */
export interface Ready {
  op: "ready";
  offset: number;
  /** SHA-256 of the first `offset` bytes the server already holds. */
  prefixSha256?: string;
  /** XXH3-128 of those bytes, when the checksum is `xxh128`. */
  prefixXxh128?: string;
  /** The checksum of this upload; `sha256` when absent (an older server). */
  checksum?: Checksum;
  /** The server accepts zstd frames in this upload's body. */
  compress?: boolean;
  /** The server accepts them as one stream per body (`CompressedStream`). */
  compressStream?: boolean;
  /**
   * The server holds another version of the target: a `summary` of its
   * chunks follows, and the body may be a delta against it.
   */
  delta?: boolean;
}
/**
 * The chunks of the version the receiver holds, as a body of 6-byte chunk
 * hashes (docs/delta.md). Sent by the server after `ready` with `delta`, and
 * by the client right after a `get` with `delta`.
 */
export interface SummaryMessage {
  op: "summary";
  /** The boundary rule the chunks were cut with; another rule means no delta. */
  chunking: string;
  /** How many chunks (the body holds 6 bytes for each). */
  chunks: number;
  /** In a tree upload: the file, relative to the tree, it summarises. */
  path?: string;
  /**
   * Another piece follows (to a `put` that asked for `summaryPieces`): the
   * chunks go on in the next `summary`; the last piece has no `more`.
   */
  more?: boolean;
}
/**
 * File bytes follow as a body, starting at `offset`. Sent by the client to
 * upload and by the server to answer `get`.
 */
export interface DataMessage {
  op: "data";
  offset: number;
  size: number | null;
  mtime?: number;
  mode?: number | null;
  /** The receiver's partial data could not be used; the body starts over. */
  restarted?: boolean;
  /** The checksum in the body's trailer; `sha256` when absent. */
  checksum?: Checksum;
  /**
   * The body is a delta against the receiver's `summary` rather than the
   * bytes themselves; the trailer still has the whole new file's checksum.
   */
  delta?: boolean;
}
/** An upload is complete and in place. */
export interface Done extends Digests {
  op: "done";
  /** Bytes received in this exchange. */
  bytes: number;
  /** Bytes of the new version taken from the old one (a delta). */
  reused?: number;
}
/** Starts a download; answered by `data` and a body. */
export interface GetRequest {
  op: "get";
  path: string;
  /** Bytes the client already holds. */
  offset: number;
  /** SHA-256 of those bytes, checked by the server before it skips them. */
  prefixSha256?: string;
  /** XXH3-128 of those bytes, when asking for `xxh128`. */
  prefixXxh128?: string;
  /** Size and mtime the partial was started from; a change restarts. */
  expect?: { size: number; mtime: number };
  verify: boolean;
  /** The checksum the client would like; older servers ignore it. */
  checksum?: string;
  /**
   * Send zstd frames where they shrink the data: on every piece, or when
   * the measured rate says so (`auto`); older servers ignore it.
   */
  compress?: "on" | "auto";
  /**
   * The client reads zstd frames sent as one stream per body
   * (`CompressedStream`); older servers ignore it.
   */
  compressStream?: boolean;
  /**
   * A `summary` of the client's own version follows this request, and the
   * server may answer with a delta against it. Sent only to servers that
   * announce the `delta` feature.
   */
  delta?: boolean;
}
/** Removes a file or (with `recursive`) a folder. */
export interface RmRequest {
  op: "rm";
  path: string;
  recursive: boolean;
}
/** Creates a folder and its parents. */
export interface MkdirRequest {
  op: "mkdir";
  path: string;
}
/** Asks for the free space where the files are (feature `df`). */
export interface DfRequest {
  op: "df";
}
/** The answer to `df`: bytes that may still be written, and the whole size. */
export interface SpaceMessage {
  op: "space";
  free: number;
  total: number;
}
/** Sets the permission bits of a file or folder (feature `chmod`). */
export interface ChmodRequest {
  op: "chmod";
  path: string;
  mode: number;
}
/** Renames or moves a path. */
export interface MvRequest {
  op: "mv";
  from: string;
  to: string;
}
/** Ends the session (logout). */
export interface Bye {
  op: "bye";
}

/**
 * One entry of a tree manifest: a body of JSON lines, one item each. Paths
 * are relative to the tree's root, `/`-separated, without `.` or `..`; the
 * root itself is the folder with path `""`.
 */
export interface TreeItem {
  path: string;
  type: EntryType;
  /** Size in bytes (0 for folders). */
  size: number;
  /** Modification time in milliseconds since the epoch. */
  mtime: number;
  mode: number | null;
  /**
   * Set in a tree listing on a folder the server could not read: it is
   * reported by name and its contents are missing; the rest of the tree
   * still comes.
   */
  error?: { code: ErrorCode; reason: string };
}
/**
 * Starts a tree upload into the folder `path` (created if missing). A
 * manifest of the files to come follows as a body; answered by `tree-need`.
 */
export interface TreePutRequest {
  op: "tree-put";
  path: string;
  /** Hash each file and compare with the sender's checksum. */
  verify: boolean;
  /** The checksum the client would like; older servers ignore it. */
  checksum?: string;
  /** The client would like to send zstd frames; older servers ignore it. */
  compress?: boolean;
  /**
   * The client would like to send deltas of changed files; older servers
   * ignore it.
   */
  delta?: boolean;
}
/**
 * Which manifest files the receiver lacks: a body of JSON lines, each a
 * `[start, end)` range of manifest indices. The others are up to date.
 */
export interface TreeNeed {
  op: "tree-need";
  /** How many files are needed. */
  files: number;
  /**
   * The checksum of every file's trailer in this upload, when the client
   * named one; `sha256` when absent (an older server, or an older client).
   */
  checksum?: Checksum;
  /** The server accepts zstd frames in this upload's bodies. */
  compress?: boolean;
  /**
   * How many `summary` messages (each with its `path`) follow this
   * message's body: the needed files the server holds another version of.
   */
  summaries?: number;
}
/** One file of a tree; its bytes follow as a body whose trailer has the checksum. */
export interface FileMessage {
  op: "file";
  path: string;
  size: number;
  mtime: number;
  mode: number | null;
  /**
   * The checksum in the body's trailer; `sha256` when absent. A server
   * answering `tree-want` sets it when the client named one.
   */
  checksum?: Checksum;
  /** The body is a delta against the `summary` the server sent for `path`. */
  delta?: boolean;
}
/** One folder of a tree upload; created at once, its mtime and mode set at the end. */
export interface DirMessage {
  op: "dir";
  path: string;
  mtime: number;
  mode: number | null;
}
/** The sender of a tree has sent everything. */
export interface TreeEnd {
  op: "tree-end";
}
/** One file of a tree failed on the receiver (or could not be read). */
export interface TreeFailure {
  path: string;
  code: ErrorCode;
  reason: string;
}
/**
 * The receiver of a tree upload has settled the first `done` files it was
 * sent (in order): each is durable in place, or listed in `failed`.
 */
export interface TreeAck {
  op: "tree-ack";
  done: number;
  failed: TreeFailure[];
}
/** A tree upload is complete: every file has been acknowledged. */
export interface TreeDone {
  op: "tree-done";
  files: number;
  bytes: number;
  failed: number;
}
/** Lists a folder recursively; answered by `tree-list`. */
export interface TreeGetRequest {
  op: "tree-get";
  path: string;
}
/** A tree's manifest as a body of JSON lines, one {@linkcode TreeItem} each. */
export interface TreeList {
  op: "tree-list";
  path: string;
}
/**
 * Asks for files of the tree at `path`: a body of JSON lines, each a relative
 * path, follows. Answered by `file` (with body) or `tree-error` per file, in
 * order, then `tree-end`.
 */
export interface TreeWantRequest {
  op: "tree-want";
  path: string;
  verify: boolean;
  /** The checksum the client would like; older servers ignore it. */
  checksum?: string;
  /**
   * Compress the files' bodies (`on`) or decide by the link's speed
   * (`auto`); older servers ignore it and send every frame raw.
   */
  compress?: "on" | "auto";
  /**
   * How many `summary` messages (each with its `path`) follow the want
   * list: the client's own versions of wanted files, which the server may
   * answer with deltas. Sent only to servers that announce `delta`.
   */
  summaries?: number;
}
/** A file of a tree download could not be sent. */
export interface TreeError {
  op: "tree-error";
  path: string;
  code: ErrorCode;
  reason: string;
}

/**
 * Removes entries of the tree at `path` (a mirror's deletion step): a body
 * of JSON lines, each a relative path, follows. Folders go with everything
 * in them; links are removed, never followed; a path already gone counts
 * as removed. Answered by `tree-deleted`. Only to a server announcing
 * `delete`.
 */
export interface TreeDeleteRequest {
  op: "tree-delete";
  path: string;
}
/** What a `tree-delete` removed, and what it could not (at most 100 named). */
export interface TreeDeleted {
  op: "tree-deleted";
  deleted: number;
  failed: TreeFailure[];
  /** Failures beyond the ones named. */
  more?: number;
}
/**
 * Follows changes under folder `path` until the client closes the
 * connection or sends `bye`: answered by `watching`, then `change`
 * messages (and pings) as they happen. Only to a server announcing `watch`.
 */
export interface WatchRequest {
  op: "watch";
  path: string;
}
/** The watch is set up; `how` says how changes are seen. */
export interface Watching {
  op: "watching";
  path: string;
  /** `inotify` (every writer), `poll` (a periodic scan), `fts` (writes through this server only). */
  how: string;
  /** What this watch cannot see, or why it scans; shown once. */
  note?: string;
}
/** One change under a watched folder; paths are relative to it. */
export interface ChangeMessage {
  op: "change";
  event: "created" | "modified" | "deleted" | "moved";
  path: string;
  /** The new path of a `moved` entry. */
  to?: string;
  /** What the entry is, when known. */
  type?: EntryType;
  size?: number;
  mtime?: number;
}

/** Every message. */
export type Message =
  | Hello
  | Welcome
  | AuthRequest
  | AuthContinue
  | AuthOk
  | ErrorMessage
  | Notice
  | Ping
  | Ok
  | ListRequest
  | Listing
  | StatRequest
  | EntryMessage
  | PutRequest
  | Ready
  | DataMessage
  | SummaryMessage
  | Done
  | GetRequest
  | RmRequest
  | MkdirRequest
  | ChmodRequest
  | DfRequest
  | SpaceMessage
  | MvRequest
  | Bye
  | TreePutRequest
  | TreeNeed
  | FileMessage
  | DirMessage
  | TreeEnd
  | TreeAck
  | TreeDone
  | TreeGetRequest
  | TreeList
  | TreeWantRequest
  | TreeError
  | TreeDeleteRequest
  | TreeDeleted
  | WatchRequest
  | Watching
  | ChangeMessage;

/** The trailer in an END frame. */
export interface Trailer extends Digests {
  /** Set when the sender gave up part-way (e.g. its disk failed). */
  error?: { code: ErrorCode; reason: string };
}

/** Operations whose message is followed by a body. */
export const BODY_OPS: ReadonlySet<string> = new Set([
  "data",
  "summary",
  "listing",
  "tree-put",
  "tree-need",
  "file",
  "tree-list",
  "tree-want",
  "tree-delete",
]);

type FieldKind =
  | "string"
  | "number"
  | "boolean"
  | "object"
  | "array"
  | "mode"
  | "size"
  | "code"
  | "checksum";

// Required fields per op; a trailing "?" marks an optional one.
const SCHEMA: Record<Message["op"], Record<string, FieldKind>> = {
  hello: { version: "number", agent: "string", features: "array" },
  welcome: {
    version: "number",
    agent: "string",
    features: "array",
    readOnly: "boolean",
    "auth?": "string",
    "tls?": "boolean",
  },
  auth: { mechanism: "string", data: "string" },
  "auth-continue": { data: "string" },
  "auth-ok": { data: "string", readOnly: "boolean" },
  error: { code: "code", reason: "string" },
  notice: { message: "string", "shutdown?": "boolean" },
  ping: {},
  ok: { "notice?": "string" },
  ls: { path: "string", "hash?": "boolean", "checksum?": "string" },
  listing: { path: "string" },
  stat: { path: "string", "hash?": "boolean", "checksum?": "string" },
  entry: { entry: "object" },
  put: {
    path: "string",
    size: "size",
    mtime: "number",
    mode: "mode",
    resume: "boolean",
    noClobber: "boolean",
    verify: "boolean",
    "checksum?": "string",
    "compress?": "boolean",
    "compressStream?": "boolean",
    "delta?": "boolean",
    "summaryPieces?": "boolean",
  },
  ready: {
    offset: "number",
    "prefixSha256?": "string",
    "prefixXxh128?": "string",
    "checksum?": "checksum",
    "compress?": "boolean",
    "compressStream?": "boolean",
    "delta?": "boolean",
  },
  summary: {
    chunking: "string",
    chunks: "number",
    "path?": "string",
    "more?": "boolean",
  },
  data: {
    offset: "number",
    size: "size",
    "mtime?": "number",
    "mode?": "mode",
    "restarted?": "boolean",
    "checksum?": "checksum",
    "delta?": "boolean",
  },
  done: {
    bytes: "number",
    "sha256?": "string",
    "xxh128?": "string",
    "reused?": "number",
  },
  get: {
    path: "string",
    offset: "number",
    "prefixSha256?": "string",
    "prefixXxh128?": "string",
    "expect?": "object",
    verify: "boolean",
    "checksum?": "string",
    "compress?": "string",
    "compressStream?": "boolean",
    "delta?": "boolean",
  },
  rm: { path: "string", recursive: "boolean" },
  mkdir: { path: "string" },
  chmod: { path: "string", mode: "mode" },
  df: {},
  space: { free: "number", total: "number" },
  mv: { from: "string", to: "string" },
  bye: {},
  "tree-put": {
    path: "string",
    verify: "boolean",
    "checksum?": "string",
    "compress?": "boolean",
    "delta?": "boolean",
  },
  "tree-need": {
    files: "number",
    "checksum?": "checksum",
    "compress?": "boolean",
    "summaries?": "number",
  },
  file: {
    path: "string",
    size: "number",
    mtime: "number",
    mode: "mode",
    "checksum?": "checksum",
    "delta?": "boolean",
  },
  dir: { path: "string", mtime: "number", mode: "mode" },
  "tree-end": {},
  "tree-ack": { done: "number", failed: "array" },
  "tree-done": { files: "number", bytes: "number", failed: "number" },
  "tree-get": { path: "string" },
  "tree-list": { path: "string" },
  "tree-want": {
    path: "string",
    verify: "boolean",
    "checksum?": "string",
    "compress?": "string",
    "summaries?": "number",
  },
  "tree-error": { path: "string", code: "code", reason: "string" },
  "tree-delete": { path: "string" },
  "tree-deleted": { deleted: "number", failed: "array", "more?": "number" },
  watch: { path: "string" },
  watching: { path: "string", how: "string", "note?": "string" },
  change: {
    event: "string",
    path: "string",
    "to?": "string",
    "type?": "string",
    "size?": "number",
    "mtime?": "number",
  },
};

/** Every operation the protocol knows, in the schema's order. */
export const MESSAGE_OPS: readonly Message["op"][] = Object.keys(
  SCHEMA,
) as Message["op"][];

function fits(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case "number":
      return typeof value === "number" && Number.isSafeInteger(value) &&
        value >= 0;
    case "object":
      return typeof value === "object" && value !== null &&
        !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "size":
      return value === null || fits(value, "number");
    case "mode":
      return value === null ||
        (typeof value === "number" && Number.isInteger(value));
    case "code":
      return isErrorCode(value);
    case "checksum":
      return isChecksum(value);
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
  }
}

/** Returns whether `value` names a checksum this build speaks. */
export function isChecksum(value: unknown): value is Checksum {
  return CHECKSUMS.includes(value as Checksum);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a message as the payload of a MESSAGE frame. */
export function encodeMessage(message: Message): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/**
 * Decodes and validates the payload of a MESSAGE frame.
 *
 * @throws {ProtocolError} when the payload is not JSON, names an unknown `op`,
 * or lacks a field its `op` requires.
 */
export function decodeMessage(payload: Uint8Array): Message {
  const value = parseJson(payload);
  const op = (value as { op?: unknown }).op;
  if (typeof op !== "string" || !Object.hasOwn(SCHEMA, op)) {
    throw new ProtocolError(`unknown message type ${JSON.stringify(op)}`);
  }
  for (const [key, kind] of Object.entries(SCHEMA[op as Message["op"]])) {
    const optional = key.endsWith("?");
    const name = optional ? key.slice(0, -1) : key;
    const field = (value as Record<string, unknown>)[name];
    if (field === undefined && optional) continue;
    if (!fits(field, kind)) {
      throw new ProtocolError(`message "${op}" has a bad field "${name}"`);
    }
  }
  return value as Message;
}

/** Encodes an END frame's trailer. */
export function encodeTrailer(trailer: Trailer): Uint8Array {
  return encoder.encode(JSON.stringify(trailer));
}

/** Decodes an END frame's trailer. */
export function decodeTrailer(payload: Uint8Array): Trailer {
  if (payload.byteLength === 0) return {};
  const value = parseJson(payload) as Trailer;
  for (const checksum of CHECKSUMS) {
    if (value[checksum] !== undefined && typeof value[checksum] !== "string") {
      throw new ProtocolError("trailer has a bad checksum");
    }
  }
  if (
    value.error !== undefined &&
    !(isErrorCode(value.error?.code) && typeof value.error.reason === "string")
  ) {
    throw new ProtocolError("trailer has a bad error");
  }
  return value;
}

function parseJson(payload: Uint8Array): object {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch {
    throw new ProtocolError("frame does not hold valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("message is not a JSON object");
  }
  return value;
}
