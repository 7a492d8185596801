/**
 * Ends the connections to a listener whose connections the server never
 * sees (the HTTP front-end: `Deno.serve` accepts them itself) once they have
 * gone a deadline without a request in flight: since they connected, or
 * since their last response ended. That closes silent connections,
 * slowloris (header lines trickled forever: `Deno.serve` only calls the
 * handler once the headers are complete, so such a connection never has a
 * request in flight), stalled TLS handshakes, and idle keep-alive
 * connections (like nginx's `keepalive_timeout`).
 *
 * `Deno.serve` in Deno 2.9.6 has no deadline for a connection's first byte,
 * its TLS handshake or its request headers: 20 TCP connections that sent
 * nothing were all still held 40 s later, one descriptor each, so enough of
 * them would use up the process's descriptors and stop the native port too.
 * The front-end tells this sweep when each request starts (the handler is
 * called) and when its response has been sent (`info.completed`), by the
 * peer's address; every so often the sweep looks through the process's
 * descriptors for sockets of that listener and shuts down
 * (`shutdown(SHUT_RDWR)`) those without a request in flight for the
 * deadline: `Deno.serve` then sees the end of the stream and frees the
 * descriptor. The cost per request is two map updates; the scan costs a
 * `/proc/self/fd` listing and two `getsockname`-like calls per descriptor,
 * once a second at most. Nothing touches the bytes, so there is no copy.
 * Linux with libc by FFI only; elsewhere it does nothing.
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
  /** Since when each connection (by peer address key) has had no request. */
  #idleSince = new Map<string, number>();
  /** Requests in flight per connection (several with HTTP/2). */
  #busy = new Map<string, number>();

  /**
   * Starts watching the connections to `listener`, ending those without a
   * request for `deadlineMs`, and logging how many each time.
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
      const { silent, slow } = this.#sweep(
        listener.port,
        anyAddress ? null : address,
        deadlineMs,
      );
      const seconds = Math.round(deadlineMs / 100) / 10;
      const plural = (n: number) => `${n} connection${n === 1 ? "" : "s"}`;
      if (silent > 0) {
        log.record({
          peer: "-",
          op: what,
          result: `closed ${plural(silent)} that sent nothing in ${seconds} s`,
        });
      }
      if (slow > 0) {
        log.record({
          peer: "-",
          op: what,
          result: `closed ${
            plural(slow)
          } that sent no complete request in ${seconds} s`,
        });
      }
    }, Math.max(Math.min(deadlineMs / 4, 1000), 50));
    Deno.unrefTimer(this.#timer);
  }

  /**
   * Marks a request of the connection from `peer` as in flight until the
   * returned function is called (when its response has been sent).
   */
  begin(peer: Deno.NetAddr): () => void {
    const address = ipBytes(peer.hostname);
    if (this.#timer === undefined || address === null) return () => {};
    const id = key({ address, port: peer.port });
    this.#busy.set(id, (this.#busy.get(id) ?? 0) + 1);
    return () => {
      const left = (this.#busy.get(id) ?? 1) - 1;
      if (left > 0) return void this.#busy.set(id, left);
      this.#busy.delete(id);
      this.#idleSince.set(id, performance.now());
    };
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(
    port: number,
    address: Uint8Array | null,
    deadlineMs: number,
  ): { silent: number; slow: number } {
    const now = performance.now();
    const seen = new Map<string, number>();
    let silent = 0;
    let slow = 0;
    for (const fd of descriptors()) {
      const local = socketAddress(fd, "local");
      if (local === null || local.port !== port) continue;
      if (address !== null && key(local) !== key({ address, port })) continue;
      const peer = socketAddress(fd, "peer");
      if (peer === null) continue;
      const id = key(peer);
      if (this.#busy.has(id)) continue;
      const since = this.#idleSince.get(id) ?? now;
      if (now - since < deadlineMs) {
        seen.set(id, since);
        continue;
      }
      const quiet = tcpBytesReceived(fd) === 0;
      try {
        shutdownSocket(fd);
        if (quiet) silent++;
        else slow++;
      } catch {
        // Gone meanwhile.
      }
    }
    // Forgets closed connections (the scan runs in one go: no request can
    // start or end during it).
    this.#idleSince = seen;
    return { silent, slow };
  }
}
