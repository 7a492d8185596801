/**
 * A descriptor of a connection's own socket, for the zero-copy send
 * (`sendfile_body.ts`). Deno does not expose it: the socket is found among
 * the process's descriptors by its two addresses, as `socket_release.ts`
 * does, and duplicated, so the caller holds a descriptor of its own that a
 * close of the connection cannot hand to another socket meanwhile.
 *
 * Linux with libc reachable by FFI only; elsewhere the answer is null.
 *
 * @module
 */

import { haveLibc, loadLibc } from "../../transfer/libc.ts";
import { socketAddress } from "./socket_libc.ts";
import { descriptors, inetAddress, key } from "./socket_release.ts";

/**
 * The number of `conn`'s socket descriptor (Deno's own: valid only while
 * `conn` is open), or null when `conn` is no TCP connection, libc is out of
 * reach, or it is not found.
 */
export function findSocket(conn: Deno.Conn): number | null {
  if (!haveLibc()) return null;
  const local = inetAddress(conn.localAddr);
  const peer = inetAddress(conn.remoteAddr);
  if (local === null || peer === null) return null;
  const wantedPeer = key(peer);
  const wantedLocal = key(local);
  for (const fd of descriptors()) {
    // The peer first: it tells apart the listener and most other sockets.
    const peerOf = socketAddress(fd, "peer");
    if (peerOf === null || key(peerOf) !== wantedPeer) continue;
    const localOf = socketAddress(fd, "local");
    if (localOf !== null && key(localOf) === wantedLocal) return fd;
  }
  return null;
}

/** `dup(fd)`: a descriptor of the caller's own, or null. */
export function duplicate(fd: number): number | null {
  const copy = loadLibc()!.dup(fd);
  return copy < 0 ? null : copy;
}

/**
 * The number of the socket a listener on `localPort` accepted from `peer`
 * (for `Deno.serve`, which shows neither its connections nor the address
 * a client reached when it listens on every address), or null as for
 * {@linkcode findSocket}. Deno's own descriptor: `duplicate` it.
 */
export function findAcceptedSocket(
  peer: Deno.NetAddr,
  localPort: number,
): number | null {
  if (!haveLibc()) return null;
  const address = inetAddress(peer);
  if (address === null) return null;
  const wanted = key(address);
  for (const fd of descriptors()) {
    const peerOf = socketAddress(fd, "peer");
    if (peerOf === null || key(peerOf) !== wanted) continue;
    if (socketAddress(fd, "local")?.port === localPort) return fd;
  }
  return null;
}
