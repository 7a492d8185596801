/**
 * Closes a TLS connection whose handshake has not ended, and really frees
 * its socket.
 *
 * In Deno 2.9.6 a `TlsConn` from `Deno.listenTls` starts its handshake at
 * accept, and the task running it owns the socket: `conn.close()` drops the
 * resource, but the descriptor stays open until that task's read returns,
 * that is until the peer sends something or leaves. A TCP connection that
 * never sends a ClientHello would hold a descriptor for as long as its peer
 * likes, however early the server "closed" it; enough of them use up the
 * descriptor limit. (Closing after the handshake frees at once; a server-side
 * `Deno.startTls` does not exist, so accepting plain TCP and upgrading later
 * is no way out, and relaying through a plain TCP front would cost a copy of
 * every byte.)
 *
 * So, on Linux with libc reachable by FFI, the socket is found among the
 * process's descriptors by its two addresses (`getsockname`, `getpeername`)
 * and shut down (`shutdown(SHUT_RDWR)`): the handshake's read returns at
 * once, the handshake fails and Deno frees the descriptor. That costs a
 * scan of `/proc/self/fd` for such connections (those that missed their
 * handshake deadline, or were refused at the connection limit), and nothing
 * on the hot path, also when no descriptor is left to list them with. Without libc (not Linux, no `--allow-ffi`) or `/proc` the
 * connection is only closed, and its descriptor stays until the peer goes.
 *
 * @module
 */

import {
  descriptorLimit,
  type InetAddress,
  shutdownSocket,
  socketAddress,
} from "./socket_libc.ts";
import { haveLibc } from "../../transfer/libc.ts";

/**
 * Closes `conn`. With `handshaking` (its TLS handshake may not have ended)
 * also shuts its socket down, so that Deno frees the descriptor now rather
 * than when the peer leaves (see the module doc). Never throws.
 */
export function closeConnection(conn: Deno.Conn, handshaking: boolean): void {
  if (handshaking && haveLibc()) queueShutdown(conn);
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Sockets to shut down at the next scan, by `peer local` address keys. */
const pending = new Set<string>();
let scanning: ReturnType<typeof setTimeout> | undefined;

// The descriptor outlives close() (that is the bug), so it can be found a
// moment later; connections closed together (a burst of silent ones
// reaching their deadline) then cost one scan of /proc/self/fd, not one
// each (a scan takes about 1.6 ms with 500 descriptors open).
function queueShutdown(conn: Deno.Conn): void {
  const local = inetAddress(conn.localAddr);
  const peer = inetAddress(conn.remoteAddr);
  if (local === null || peer === null) return;
  pending.add(`${key(peer)} ${key(local)}`);
  scanning ??= setTimeout(scan, 0);
}

function scan(): void {
  scanning = undefined;
  const wanted = new Set(pending);
  pending.clear();
  const peers = new Set([...wanted].map((both) => both.split(" ")[0]));
  for (const fd of descriptors()) {
    if (wanted.size === 0) return;
    // The peer first: it tells apart the listener and most other sockets.
    const peer = socketAddress(fd, "peer");
    if (peer === null || !peers.has(key(peer))) continue;
    const local = socketAddress(fd, "local");
    const both = local === null ? "" : `${key(peer)} ${key(local)}`;
    if (!wanted.delete(both)) continue;
    try {
      shutdownSocket(fd);
    } catch {
      // Gone meanwhile: freed already.
    }
  }
}

/**
 * The numbers of the open descriptors, from `/proc/self/fd`. Listing that
 * needs a descriptor itself, and the case that matters most is the one
 * where none is left (silent connections used them up): then every number
 * below the descriptor limit is tried, which at that point are about as
 * many as there are open ones.
 */
export function* descriptors(): Generator<number> {
  let names: Deno.DirEntry[] | undefined;
  try {
    names = [...Deno.readDirSync("/proc/self/fd")];
  } catch (error) {
    // No /proc, or not allowed to read it: nothing to be done.
    if (!outOfDescriptors(error)) return;
  }
  if (names !== undefined) {
    for (const { name } of names) yield Number(name);
    return;
  }
  let limit = 0;
  try {
    limit = descriptorLimit();
  } catch {
    return; // Closed is all that can be done.
  }
  // Capped at Linux's default most (fs.nr_open) for an unlimited setting.
  for (let fd = 0; fd < Math.min(limit, 1 << 20); fd++) yield fd;
}

function outOfDescriptors(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "EMFILE" ||
    /os error 24\b/.test(String(error));
}

/** A socket address as a string, to compare and look up. */
export function key({ address, port }: InetAddress): string {
  return `${address.join(".")}/${port}`;
}

/** A TCP address as the kernel gives it (IPv4 mapped into IPv6), or null. */
export function inetAddress(addr: Deno.Addr): InetAddress | null {
  if (addr.transport !== "tcp") return null;
  const address = ipBytes(addr.hostname);
  return address === null ? null : { address, port: addr.port };
}

/**
 * The 16 bytes of an IPv6 address, or of an IPv4 one in its IPv4-mapped
 * form (`::ffff:a.b.c.d`), or null when `text` is neither.
 */
export function ipBytes(text: string): Uint8Array | null {
  const host = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const bytes = new Uint8Array(16);
  const v4 = parseIpv4(host);
  if (v4 !== null) {
    bytes[10] = bytes[11] = 0xff;
    bytes.set(v4, 12);
    return bytes;
  }
  const halves = host.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string) => half === "" ? [] : half.split(":");
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // A dotted IPv4 tail stands for the last two groups.
  const last = (tail.length > 0 ? tail : head).at(-1);
  const dotted = last === undefined ? null : parseIpv4(last);
  if (dotted !== null) {
    (tail.length > 0 ? tail : head).pop();
  }
  const words = [...head, ...tail].map((group) =>
    /^[0-9a-f]{1,4}$/i.test(group) ? parseInt(group, 16) : NaN
  );
  const wanted = dotted === null ? 8 : 6;
  if (words.some(Number.isNaN)) return null;
  if (halves.length === 1 ? words.length !== wanted : words.length >= wanted) {
    return null;
  }
  const put = (word: number, at: number) => {
    bytes[at * 2] = word >> 8;
    bytes[at * 2 + 1] = word & 0xff;
  };
  head.forEach((_, i) => put(words[i], i));
  tail.forEach((_, i) => put(words[head.length + i], wanted - tail.length + i));
  if (dotted !== null) bytes.set(dotted, 12);
  return bytes;
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const octets = parts.map((part) =>
    /^\d{1,3}$/.test(part) ? Number(part) : NaN
  );
  return octets.every((octet) => octet <= 255) ? octets : null;
}
