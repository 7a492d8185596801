/**
 * Zero-copy sends: a file's bytes go from the page cache to the socket with
 * `sendfile(2)`, framed as ordinary DATA frames (the 5-byte headers are
 * written with `send(MSG_MORE)` so each leaves with its payload), so the
 * receiver sees the same bytes as from the buffered path and nothing is
 * negotiated. Used for plain TCP without compression when the server need
 * not read the bytes itself (a `get` answered from a recorded digest, or
 * unverified): the server's CPU per GiB drops from a read and a write of
 * every byte to a few thousand system calls.
 *
 * Deno's connection owns the socket and keeps it nonblocking: the caller
 * flushes Deno's writer first (writes through Deno and through the
 * descriptor must not interleave), and a full socket (`EAGAIN`) is waited
 * for with `poll(2)` on a thread of Deno's pool, never on the event loop.
 * The descriptor used is a `dup` of Deno's ({@linkcode findSocket}), so a
 * session closed meanwhile cannot leave us writing to a reused number.
 *
 * @module
 */

import {
  DATA_CHUNK_SIZE,
  frameHeader,
  FrameType,
} from "../../protocol/frame.ts";
import { errno, LibcError, loadLibc } from "../../transfer/libc.ts";

const EINTR = 4;
const EAGAIN = 11;
const MSG_NOSIGNAL = 0x4000;
const MSG_MORE = 0x8000;
const POLLOUT = 4;
/** How long one wait for room lasts before `signal` is looked at again. */
const POLL_MS = 250;

/** Options for {@linkcode sendFileFrames}. */
export interface SendfileOptions {
  /** Called with the bytes of file data each `sendfile` moved. */
  onBytes?: (bytes: number) => void;
  /** Stops the send (the session closed): throws at the next wait. */
  signal?: AbortSignal;
  /** Payload size of each DATA frame; the receivers' pools hold 1 MiB. */
  frameSize?: number;
}

/** What {@linkcode sendFileFrames} moved. */
export interface SendfileResult {
  /** File bytes sent. */
  bytes: number;
  /**
   * The file ended before `length` bytes: the last frame was filled up with
   * zeros (so the connection stays in step), and the body must end with an
   * error trailer.
   */
  shortened: boolean;
}

/**
 * Sends `length` bytes of the file open as descriptor `file`, from
 * `offset`, to socket descriptor `socket` as DATA frames. The file's own
 * position does not move.
 *
 * @throws {LibcError} when the socket fails (the connection is lost), or
 * an `AbortError` when `signal` is aborted.
 */
export async function sendFileFrames(
  socket: number,
  file: number,
  offset: number,
  length: number,
  options: SendfileOptions = {},
): Promise<SendfileResult> {
  const frameSize = options.frameSize ?? DATA_CHUNK_SIZE;
  const range = new FileRange(socket, file, offset, options);
  while (range.sent < length) {
    const size = Math.min(frameSize, length - range.sent);
    await writeAll(socket, frameHeader(FrameType.Data, size), options);
    const left = await range.send(size);
    if (left > 0) {
      // The file shrank under us: keep the frame whole, then say so.
      await writeAll(socket, new Uint8Array(left), options);
      return { bytes: range.sent, shortened: true };
    }
  }
  return { bytes: range.sent, shortened: false };
}

/**
 * Sends `head`, then `length` bytes of the file open as descriptor `file`
 * from `offset`, to socket descriptor `socket`, unframed: an HTTP response,
 * `head` being its status line and headers (sent with `MSG_MORE`, so they
 * leave with the body's first bytes). The file's own position does not
 * move. When the file ends early the send stops there (`shortened`): the
 * receiver then sees fewer bytes than it was promised.
 *
 * @throws {LibcError} when the socket fails (the connection is lost), or
 * an `AbortError` when `signal` is aborted.
 */
export async function sendFileRaw(
  socket: number,
  head: Uint8Array,
  file: number,
  offset: number,
  length: number,
  options: SendfileOptions = {},
): Promise<SendfileResult> {
  await writeAll(socket, head, options);
  const range = new FileRange(socket, file, offset, options);
  const left = await range.send(length);
  return { bytes: range.sent, shortened: left > 0 };
}

/**
 * A file's bytes from `offset` on, sent to a socket by `sendfile(2)` with
 * the file's own position left alone; `sent` counts what went.
 */
class FileRange {
  #lib = loadLibc()!;
  #position: Uint8Array;
  /** File bytes sent so far. */
  sent = 0;

  constructor(
    readonly socket: number,
    readonly file: number,
    offset: number,
    readonly options: SendfileOptions,
  ) {
    this.#position = new Uint8Array(
      new BigInt64Array([BigInt(offset)]).buffer,
    );
  }

  /**
   * Sends the next `length` bytes, each call moving what the socket's
   * buffer takes (a few MiB); answers how many were left unsent because
   * the file ended first (0 when all went).
   */
  async send(length: number): Promise<number> {
    let left = length;
    while (left > 0) {
      const n = Number(
        this.#lib.sendfile(
          this.socket,
          this.file,
          this.#position,
          BigInt(left),
        ),
      );
      if (n > 0) {
        left -= n;
        this.sent += n;
        this.options.onBytes?.(n);
      } else if (n === 0) {
        return left;
      } else {
        await retry(this.#lib, this.socket, "sendfile", this.options.signal);
      }
    }
    return 0;
  }
}

/** Writes all of `bytes` to the socket (headers and padding: small). */
async function writeAll(
  socket: number,
  bytes: Uint8Array,
  options: SendfileOptions,
): Promise<void> {
  const lib = loadLibc()!;
  let at = 0;
  while (at < bytes.byteLength) {
    const view = bytes.subarray(at);
    const n = Number(
      lib.send(socket, view, BigInt(view.byteLength), MSG_NOSIGNAL | MSG_MORE),
    );
    if (n >= 0) at += n;
    else await retry(lib, socket, "send", options.signal);
  }
}

/**
 * After a failed call: waits for room when the socket is full, returns at
 * once after an interrupt, and throws for anything else.
 */
async function retry(
  lib: NonNullable<ReturnType<typeof loadLibc>>,
  socket: number,
  call: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const code = errno(lib);
  if (code === EINTR) return;
  if (code !== EAGAIN) throw new LibcError(call, code);
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, socket, true);
  view.setInt16(4, POLLOUT, true);
  for (;;) {
    signal?.throwIfAborted();
    const ready = await lib.poll(pollfd, 1n, POLL_MS);
    // Readiness, an error or a hang-up: the next call says which.
    if (ready !== 0) return;
  }
}
