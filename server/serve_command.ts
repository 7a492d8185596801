/**
 * `fts serve`: runs a server in the foreground until SIGINT or SIGTERM.
 *
 * @module
 */

import { resolve } from "@std/path";
import { FtsError, InvalidPathError, WrongTypeError } from "../protocol/mod.ts";
import { configDir } from "../config/config_dir.ts";
import {
  type CertificateKeyPair,
  loadCertificate,
  loadOrCreateCertificate,
} from "./certificate.ts";
import { FtsServer, type ServerOptions } from "./server.ts";
import { startLines } from "./start_lines.ts";
import { isFolderTarget } from "./storage/open.ts";

/** Options of `fts serve`, already parsed. */
export interface ServeCommandOptions
  extends Omit<ServerOptions, "tls" | "http"> {
  /**
   * Also serve HTTP on `port`; without a `hostname`, where the fts
   * listener is (every address by default).
   */
  http?: { hostname?: string; port: number; hosts?: string[] };
  /** How long running transfers may take to finish after a signal. */
  graceMs: number;
  /**
   * Encrypt connections with TLS: with `certFile` and `keyFile` if given,
   * else with the certificate made once and kept in the configuration
   * directory.
   */
  tls?: boolean;
  /** The certificate (or chain, leaf first), PEM. */
  certFile?: string;
  /** The certificate's private key, PEM. */
  keyFile?: string;
  /**
   * Receives the `fts listening on ...` line, then, with TLS, the
   * `fts tls fingerprint SHA256:...` line. Default: stdout.
   */
  announce?: (line: string) => void;
}

/**
 * Serves until a signal arrives, then shuts down gracefully, saying how long
 * it waits for how many transfers; a second signal stops it at once.
 */
export async function serveCommand(
  options: ServeCommandOptions,
): Promise<void> {
  const action = `serve "${options.root}"`;
  const folder = isFolderTarget(options.root);
  if (folder && /^[a-z][a-z0-9+.-]*:\/\//i.test(options.root)) {
    // Not a folder name: without this, "gs://b" would become ./gs:/b.
    throw new InvalidPathError(
      "only folders and s3://BUCKET[/PREFIX] can be served",
      { action },
    );
  }
  if (folder) {
    const info = await Deno.stat(options.root).catch(() => null);
    if (info && !info.isDirectory) {
      throw new WrongTypeError(`it exists and is not a folder`, { action });
    }
  }
  const certificate = await serverCertificate(options);
  let server: FtsServer;
  try {
    server = await startDualStack(options, certificate);
  } catch (error) {
    // The bucket's answer (no such bucket, a refused key) names no secret.
    throw !folder && error instanceof FtsError
      ? error.withAction(action)
      : error;
  }
  const { hostname, port } = server.addr;
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  const announce = options.announce ?? console.log;
  announce(
    `fts listening on ${shown}:${port}, serving ${
      folder ? resolve(options.root) : options.root
    }`,
  );
  if (certificate) announce(`fts tls fingerprint ${certificate.fingerprint}`);
  if (server.http) {
    const http = server.http.addr;
    const host = http.hostname.includes(":")
      ? `[${http.hostname}]`
      : http.hostname;
    announce(`fts http listening on ${host}:${http.port}`);
  }
  for (
    const line of startLines({
      fts: server.addr,
      http: server.http?.addr,
      fingerprint: certificate?.fingerprint,
      logins: options.users !== undefined,
    })
  ) announce(line);
  const say = options.log === undefined ? console.error : options.log;
  let signalled = false;
  const onSignal = () => {
    if (signalled) {
      // A second signal: stop waiting for transfers.
      server.shutdown(0);
      return;
    }
    signalled = true;
    const transfers = server.transfers;
    say?.(
      transfers === 0
        ? "shutting down"
        : `shutting down: waiting up to ${
          options.graceMs / 1000
        }s for ${transfers} transfer${
          transfers === 1 ? "" : "s"
        } (signal again to stop now)`,
    );
    server.shutdown(options.graceMs);
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

/**
 * Starts the server; without a `hostname`, on every IPv6 and IPv4 address
 * (`::`, which takes IPv4 too where the system allows), else, on a system
 * without IPv6, on every IPv4 address. The HTTP front-end without a host
 * of its own listens where the server does.
 */
async function startDualStack(
  options: ServeCommandOptions,
  tls: CertificateKeyPair | undefined,
): Promise<FtsServer> {
  const start = (hostname: string) =>
    FtsServer.start({
      ...options,
      tls,
      hostname,
      http: options.http && {
        ...options.http,
        hostname: options.http.hostname ?? hostname,
      },
    });
  if (options.hostname !== undefined) return await start(options.hostname);
  try {
    return await start("::");
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw error;
    return await start("0.0.0.0");
  }
}

/**
 * The certificate `fts serve` uses: none without TLS, the given files, or the
 * one kept in the configuration directory (made on first use).
 */
async function serverCertificate(
  options: ServeCommandOptions,
): Promise<CertificateKeyPair | undefined> {
  if (options.certFile !== undefined || options.keyFile !== undefined) {
    if (options.certFile === undefined || options.keyFile === undefined) {
      throw new Error(
        "cannot load certificate: --cert and --key go together",
      );
    }
    return await loadCertificate(options.certFile, options.keyFile);
  }
  if (!options.tls) return undefined;
  return await loadOrCreateCertificate(configDir());
}
