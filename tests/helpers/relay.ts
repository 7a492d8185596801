/**
 * Test helper: a TCP relay on 127.0.0.1 that records every byte both ways,
 * to check what a real client and server said to each other on the wire.
 *
 * @module
 */

const HOST = "127.0.0.1";

/** A relay that records what crosses it; disposing it closes everything. */
export interface Relay extends AsyncDisposable {
  /** Where to connect to be relayed. */
  port: number;
  /** Everything that crossed the relay, both ways, as Latin-1 text. */
  captured: () => string;
  /** Bytes that crossed the relay so far, both ways. */
  bytes: () => number;
  /** Resolves once every relayed connection has ended. */
  idle: () => Promise<void>;
}

/** `parts` joined. */
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * A TCP relay on 127.0.0.1 that forwards to `targetPort` and records every
 * byte; with `rate` (bytes per second) each direction of each connection
 * moves no faster than that: a slow link.
 */
export function startRelay(
  targetPort: number,
  options: { rate?: number } = {},
): Relay {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const chunks: Uint8Array[] = [];
  let total = 0;
  const pipes: Promise<void>[] = [];
  const conns = new Set<Deno.Conn>();
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    const started = performance.now();
    let moved = 0;
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        chunks.push(chunk);
        total += n;
        for (let at = 0; at < n;) at += await to.write(chunk.subarray(at));
        moved += n;
        if (options.rate) {
          // Pacing, not a wait for an event: the link's speed.
          const due = started + (moved / options.rate) * 1000;
          const ahead = due - performance.now();
          if (ahead > 0) await new Promise((ok) => setTimeout(ok, ahead));
        }
      }
    } catch {
      // One side went away.
    } finally {
      for (const conn of [from, to]) {
        if (conns.delete(conn)) conn.close();
      }
    }
  };
  const accepting = (async () => {
    for await (const inbound of listener) {
      const outbound = await Deno.connect({ hostname: HOST, port: targetPort });
      conns.add(inbound);
      conns.add(outbound);
      pipes.push(pump(inbound, outbound), pump(outbound, inbound));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    captured: () => new TextDecoder("latin1").decode(concat(chunks)),
    bytes: () => total,
    idle: async () => void await Promise.all(pipes),
    [Symbol.asyncDispose]: async () => {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of conns) conn.close();
      conns.clear();
      await Promise.all(pipes);
    },
  };
}
