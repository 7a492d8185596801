/**
 * Test helper: starts a real, silent fts server on 127.0.0.1 with a free port,
 * serving a fresh temporary folder.
 *
 * @example
 * ```ts
 * const { port, root, cleanup } = await startServer();
 * try {
 *   const connection = await Connection.open({ hostname: "127.0.0.1", port });
 *   // ...
 * } finally {
 *   await cleanup();
 * }
 * ```
 *
 * @module
 */

import { Connection } from "../../client/connection.ts";
import { FtsServer, type ServerOptions } from "../../server/server.ts";

/** A server started by {@linkcode startServer}. */
export interface TestServer {
  server: FtsServer;
  /** The served folder (a new temporary folder). */
  root: string;
  /** The port the server listens on, on 127.0.0.1. */
  port: number;
  /** Shuts the server down (1 s grace) and removes `root`. Safe to call twice. */
  cleanup: () => Promise<void>;
}

/**
 * Starts a server on 127.0.0.1, port 0, with `log: null`, serving a new
 * temporary folder. `options` may override anything but `root`, `hostname`
 * and `port` (e.g. `maxConnections`, `idleTimeoutMs`, `readOnly`).
 */
export async function startServer(
  options: Partial<Omit<ServerOptions, "root" | "hostname" | "port">> = {},
): Promise<TestServer> {
  const root = await Deno.makeTempDir({ prefix: "fts-test-root-" });
  let server: FtsServer;
  try {
    server = await FtsServer.start({
      log: null,
      ...options,
      root,
      hostname: "127.0.0.1",
      port: 0,
    });
  } catch (error) {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw error;
  }
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    cleaned ??= (async () => {
      try {
        await server.shutdown(1000);
      } finally {
        await Deno.remove(root, { recursive: true }).catch(() => {});
      }
    })();
  return { server, root, port: server.addr.port, cleanup };
}

/** What {@linkcode withServerConnections} hands its test. */
export interface ConnectionsWorld {
  /** The served folder. */
  root: string;
  /** A local temporary folder, removed afterwards. */
  work: string;
  /** Opens one more connection to the server (all closed afterwards). */
  open: () => Promise<Connection>;
}

/**
 * Runs `fn` with a fresh server, a local work folder and a way to open
 * connections to the server; closes and removes everything afterwards.
 */
export async function withServerConnections(
  fn: (world: ConnectionsWorld) => Promise<void>,
): Promise<void> {
  const { root, port, cleanup } = await startServer();
  const work = await Deno.makeTempDir({ prefix: "fts-test-work-" });
  const opened: Connection[] = [];
  try {
    await fn({
      root,
      work,
      open: async () => {
        const c = await Connection.open({ hostname: "127.0.0.1", port });
        opened.push(c);
        return c;
      },
    });
  } finally {
    for (const c of opened) c.abort();
    await cleanup();
    await Deno.remove(work, { recursive: true });
  }
}
