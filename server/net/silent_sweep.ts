/**
 * Ends the connections to a listener whose connections the server never
 * sees (the HTTP front-end: `Deno.serve` accepts them itself) once they
 * have sent nothing at all for a deadline.
 *
 * `Deno.serve` in Deno 2.9.6 has no deadline for a connection's first byte
 * nor for its TLS handshake: 20 TCP connections that sent nothing, to plain
 * HTTP or to HTTPS, were all still held 40 s later, one descriptor each, so
 * enough of them would use up the process's descriptors and stop the native
 * port too. Every so often this looks through the process's descriptors for
 * sockets of that listener whose peer has sent no byte
 * (`getsockopt(TCP_INFO)`'s `tcpi_bytes_received`), and shuts down those
 * seen silent for the deadline (`shutdown(SHUT_RDWR)`): `Deno.serve` then
 * sees the end of the stream and frees the descriptor. A connection that has
 * sent anything is `Deno.serve`'s business and never touched. Linux with
 * libc by FFI only; elsewhere it does nothing.
 *
 * @module
 */

import {
  shutdownSocket,
  socketAddress,
  tcpBytesReceived,
} from "./socket_libc.ts";
import { haveLibc } from "../../transfer/libc.ts";
import { descriptors, ipBytes, key } from "./socket_release.ts";
import type { ServerLog } from "../server_log.ts";

/** Watches one listener's connections; see the module doc. */
export class SilentSweep {
  #timer: ReturnType<typeof setInterval> | undefined;
  /** When each silent connection (by its address keys) was first seen. */
  #seen = new Map<string, number>();

  /**
   * Starts watching the connections to `listener`, ending those silent for
   * `deadlineMs`, and logging how many each time.
   */
  constructor(
    listener: Deno.NetAddr,
    deadlineMs: number,
    log: ServerLog,
    what: string,
  ) {
    if (!haveLibc()) return;
    const address = ipBytes(listener.hostname);
    // Bound to every address: any local address will do.
    const anyAddress = address === null ||
      address.every((byte, i) => byte === (i === 10 || i === 11 ? 0xff : 0)) ||
      address.every((byte) => byte === 0);
    this.#timer = setInterval(() => {
      const ended = this.#sweep(
        listener.port,
        anyAddress ? null : address,
        deadlineMs,
      );
      if (ended > 0) {
        log.record({
          peer: "-",
          op: what,
          result: `closed ${ended} connection${
            ended === 1 ? "" : "s"
          } that sent nothing in ${Math.round(deadlineMs / 100) / 10} s`,
        });
      }
    }, Math.max(deadlineMs / 2, 50));
    Deno.unrefTimer(this.#timer);
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(
    port: number,
    address: Uint8Array | null,
    deadlineMs: number,
  ): number {
    const now = performance.now();
    const seen = new Map<string, number>();
    let ended = 0;
    for (const fd of descriptors()) {
      const local = socketAddress(fd, "local");
      if (local === null || local.port !== port) continue;
      if (address !== null && key(local) !== key({ address, port })) continue;
      const peer = socketAddress(fd, "peer");
      if (peer === null || tcpBytesReceived(fd) !== 0) continue;
      const both = `${key(peer)} ${key(local)}`;
      const since = this.#seen.get(both) ?? now;
      if (now - since < deadlineMs) {
        seen.set(both, since);
        continue;
      }
      try {
        shutdownSocket(fd);
        ended++;
      } catch {
        // Gone meanwhile.
      }
    }
    this.#seen = seen;
    return ended;
  }
}
