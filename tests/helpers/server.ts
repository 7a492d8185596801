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
