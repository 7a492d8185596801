/**
 * A large GET over plain HTTP/1.x answered with `sendfile(2)`: the file's
 * bytes go from the page cache to the socket without passing through
 * JavaScript, as nginx's `sendfile on` does (a 1 GiB GET cost the server
 * about 0.6-1.0 s of CPU through the response stream, about 0.15-0.2 s this
 * way, nginx's share).
 *
 * `Deno.serve` owns the connection and has no way to hand a file to the
 * socket, so the response is written past it: the socket is found by the
 * client's address and the listener's port (`findAcceptedSocket`), a `dup`
 * of it gets the status line, the headers (with `connection: close`) and
 * the body, and is then shut down. The handler's own response then finds
 * the socket closed and is dropped; the client has had a complete answer.
 * The connection is not kept alive, which costs a new connection after a
 * file of a mebibyte or more, nothing worth keeping it for.
 *
 * Taken only when nothing else can be on that connection: no TLS, the
 * request came over HTTP/1.x (it carries `Host`: `Deno.serve` takes that
 * header out of HTTP/2 requests, which may share a connection), and the
 * store's handle has a descriptor (the local store on Linux with libc).
 * `FTS_NO_SENDFILE=1` turns it off, as for the native protocol.
 *
 * @module
 */

import { closeFd } from "../../transfer/libc.ts";
import { sendFileRaw } from "../net/sendfile_body.ts";
import { shutdownSocket } from "../net/socket_libc.ts";
import { duplicate, findAcceptedSocket } from "../net/socket_descriptor.ts";
import type { ReadHandle } from "../storage/store.ts";
import type { HttpRequest } from "./context.ts";
import { BODY_CHUNK } from "./read_stream.ts";

/** Set `FTS_NO_SENDFILE=1` to compare with the response stream. */
const disabled = (() => {
  try {
    return Deno.env.get("FTS_NO_SENDFILE") === "1";
  } catch {
    return false; // No --allow-env: the default.
  }
})();

/** Bodies below this go through `Deno.serve` and keep their connection. */
export const SENDFILE_MIN = BODY_CHUNK;

const REASONS: Record<number, string> = { 200: "OK", 206: "Partial Content" };

/**
 * Sends `length` bytes of `handle` from `start` as the whole response
 * (`status`, `headers`) by `sendfile(2)` and closes `handle`; answers the
 * response for `Deno.serve` to drop, or null, having sent nothing and
 * left `handle` open, when this road is closed.
 */
export async function sendfileResponse(
  req: HttpRequest,
  handle: ReadHandle,
  status: number,
  headers: Headers,
  start: number,
  length: number,
): Promise<Response | null> {
  const { request, ctx } = req;
  if (
    disabled || ctx.tls || length < SENDFILE_MIN || ctx.port === undefined ||
    req.peerAddress === undefined || handle.descriptor === undefined ||
    request.headers.get("host") === null || !(status in REASONS)
  ) {
    return null;
  }
  const found = findAcceptedSocket(req.peerAddress, ctx.port);
  const socket = found === null ? null : duplicate(found);
  if (socket === null) return null;
  // A client that stops reading is cut off after the idle timeout, as the
  // response stream does: the send looks at the signal while it waits.
  const stalled = new AbortController();
  let timer = setTimeout(() => stalled.abort(), ctx.idleTimeoutMs);
  const progress = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stalled.abort(), ctx.idleTimeoutMs);
  };
  try {
    await sendFileRaw(
      socket,
      responseHead(status, headers),
      handle.descriptor,
      start,
      length,
      { signal: stalled.signal, onBytes: progress },
    );
  } catch {
    // The client went away or stopped reading: the shutdown below ends
    // the connection, as a failed response stream would.
  } finally {
    clearTimeout(timer);
    handle.close();
    try {
      shutdownSocket(socket);
    } catch { /* already gone */ }
    closeFd(socket);
  }
  return new Response(null, { status, headers });
}

/** The status line and headers, as `Deno.serve` would have written them. */
function responseHead(status: number, headers: Headers): Uint8Array {
  let head = `HTTP/1.1 ${status} ${REASONS[status]}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  head += `date: ${new Date().toUTCString()}\r\nconnection: close\r\n\r\n`;
  return new TextEncoder().encode(head);
}
