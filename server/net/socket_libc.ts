/**
 * The socket calls the listener needs and Deno does not offer: finding a
 * connection's socket by its addresses (`getsockname`/`getpeername`),
 * shutting it down, the descriptor limit, and how many bytes a peer has sent
 * (`TCP_INFO`). Used by `socket_release.ts` and `silent_sweep.ts`.
 *
 * Linux only; the binding (`Deno.dlopen`) is `transfer/libc.ts`.
 *
 * @module
 */

import { errno, LibcError, loadLibc } from "../../transfer/libc.ts";

/** `shutdown(fd, SHUT_RDWR)`. Throws {@linkcode LibcError}. */
export function shutdownSocket(fd: number): void {
  const lib = loadLibc()!;
  if (lib.shutdown(fd, 2 /* SHUT_RDWR */) < 0) {
    throw new LibcError("shutdown", errno(lib));
  }
}

/** An IPv4 or IPv6 socket address; IPv4 in its IPv4-mapped IPv6 form. */
export interface InetAddress {
  /** 16 bytes. */
  address: Uint8Array;
  port: number;
}

const AF_INET = 2;
const AF_INET6 = 10;
const addressBuffer = new Uint8Array(128);
const addressLength = new Uint32Array(1);
const addressLengthBytes = new Uint8Array(addressLength.buffer);

/**
 * The local (`getsockname`) or peer (`getpeername`) address of descriptor
 * `fd`, or null when it is no connected IPv4 or IPv6 socket.
 */
export function socketAddress(
  fd: number,
  side: "local" | "peer",
): InetAddress | null {
  const lib = loadLibc()!;
  addressLength[0] = addressBuffer.byteLength;
  const call = side === "local" ? lib.getsockname : lib.getpeername;
  if (call(fd, addressBuffer, addressLengthBytes) < 0) return null;
  const family = addressBuffer[0] | (addressBuffer[1] << 8);
  const port = (addressBuffer[2] << 8) | addressBuffer[3];
  const address = new Uint8Array(16);
  if (family === AF_INET) {
    address[10] = address[11] = 0xff;
    address.set(addressBuffer.subarray(4, 8), 12);
  } else if (family === AF_INET6) {
    address.set(addressBuffer.subarray(8, 24));
  } else return null;
  return { address, port };
}

/**
 * The soft limit on open descriptors (`getrlimit(RLIMIT_NOFILE)`): every
 * descriptor number is below it. Throws {@linkcode LibcError}.
 */
export function descriptorLimit(): number {
  const lib = loadLibc()!;
  const limits = new BigUint64Array(2);
  if (lib.getrlimit(7, /* RLIMIT_NOFILE */ new Uint8Array(limits.buffer)) < 0) {
    throw new LibcError("getrlimit", errno(lib));
  }
  return Number(limits[0]);
}

const tcpInfo = new Uint8Array(256);
const tcpInfoView = new DataView(tcpInfo.buffer);
const tcpInfoLength = new Uint32Array(1);
// struct tcp_info (linux/tcp.h): tcpi_bytes_received is the u64 at 128,
// there since Linux 4.1.
const BYTES_RECEIVED_OFFSET = 128;

/**
 * How many bytes the peer of TCP socket `fd` has sent so far
 * (`getsockopt(TCP_INFO)`), or null when `fd` is no TCP socket or the
 * kernel does not say.
 */
export function tcpBytesReceived(fd: number): number | null {
  const lib = loadLibc()!;
  tcpInfoLength[0] = tcpInfo.byteLength;
  const result = lib.getsockopt(
    fd,
    6, /* IPPROTO_TCP */
    11, /* TCP_INFO */
    tcpInfo,
    new Uint8Array(tcpInfoLength.buffer),
  );
  if (result < 0 || tcpInfoLength[0] < BYTES_RECEIVED_OFFSET + 8) return null;
  return Number(tcpInfoView.getBigUint64(BYTES_RECEIVED_OFFSET, true));
}
