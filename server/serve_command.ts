/**
 * `fts serve`: runs a server in the foreground until SIGINT or SIGTERM.
 *
 * @module
 */

import { FtsServer, type ServerOptions } from "./server.ts";

/** Options of `fts serve`, already parsed. */
export interface ServeCommandOptions extends ServerOptions {
  /** How long running transfers may take to finish after a signal. */
  graceMs: number;
  /** Receives the `fts listening on ...` line. Default: stdout. */
  announce?: (line: string) => void;
}

/**
 * Parses a duration such as `90`, `90s`, `30m`, `24h` or `7d` into
 * milliseconds.
 *
 * @throws {TypeError} when `text` is not a duration.
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new TypeError(`"${text}" is not a duration (try 90s, 30m, 24h)`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[
    (match[2] ?? "s") as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(match[1]) * unit;
}

/** Serves until a signal arrives, then shuts down gracefully. */
export async function serveCommand(
  options: ServeCommandOptions,
): Promise<void> {
  const server = await FtsServer.start(options);
  const { hostname, port } = server.addr;
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  (options.announce ?? console.log)(`fts listening on ${shown}:${port}`);
  let signalled = 0;
  const onSignal = () => {
    signalled++;
    if (signalled === 1) {
      server.shutdown(options.graceMs);
    } else {
      // A second signal: stop waiting for transfers.
      server.shutdown(0);
    }
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  try {
    await server.finished;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}
