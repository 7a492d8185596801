/**
 * Test helper for the storage-core tests: a temporary folder holding the
 * served `root/` and, next to it, an `outside/` folder an attacker wants to
 * reach (a secret file, a canary folder, and names that mirror those the
 * tests use inside the root), plus a fingerprint of everything outside the
 * root, so a test can prove that not one byte, mode or time changed there.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { createHash } from "node:crypto";
import { Connection } from "../../client/connection.ts";
import { FtsServer, type ServerOptions } from "../../server/server.ts";

/** Content of every file outside the root; never to be seen by a client. */
export const SECRET = "outside-secret-do-not-serve-7f3a9c";

/** A served root with an `outside/` folder beside it. */
export interface Jail {
  /** The temporary folder holding `root/` and `outside/`. */
  base: string;
  /** The folder to serve. */
  root: string;
  /** The attacker's target, a sibling of `root`. */
  outside: string;
  /** A scratch folder for the client's own files (not fingerprinted). */
  local: string;
  /** The fingerprint of everything but `root/`, taken at creation. */
  before: string[];
  /** Fails unless everything but `root/` is exactly as it was. */
  assertOutsideUntouched(what?: string): Promise<void>;
  /** Removes the whole temporary folder (even unreadable parts). */
  cleanup(): Promise<void>;
}

/**
 * Names created under `outside/`, each file holding {@linkcode SECRET}. They
 * mirror the names the tests use inside the root (`file.txt`, `sub/`,
 * `evil.txt`'s folder …), so an escape overwrites or reads them.
 */
const OUTSIDE_FILES = [
  "secret.txt",
  "file.txt",
  "a.txt",
  "sub/keep.txt",
  "sub/x/keep.txt",
  "canary/keep.txt",
  "canary/deeper/keep.txt",
];

/**
 * Makes `base/root/` (empty) and `base/outside/` (see above), with `extra`
 * more files (paths under `outside/`) holding {@linkcode SECRET}.
 */
export async function makeJail(extra: string[] = []): Promise<Jail> {
  const base = await Deno.makeTempDir({ prefix: "fts-jail-" });
  const root = join(base, "root");
  const outside = join(base, "outside");
  const local = join(base, "local");
  await Deno.mkdir(root);
  await Deno.mkdir(local);
  for (const path of [...OUTSIDE_FILES, ...extra]) {
    await Deno.mkdir(join(outside, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(outside, path), SECRET);
  }
  // Distinct modes and old times, so a chmod or utime through a link shows.
  await Deno.chmod(join(outside, "canary"), 0o751);
  await Deno.chmod(join(outside, "sub"), 0o750);
  await Deno.chmod(join(outside, "secret.txt"), 0o640);
  const old = new Date("2001-02-03T04:05:06Z");
  for (const path of ["canary/deeper", "canary", "sub/x", "sub", ""]) {
    await Deno.utime(join(outside, path), old, old);
  }
  const before = await fingerprint(base);
  return {
    base,
    root,
    outside,
    local,
    before,
    async assertOutsideUntouched(what = "outside the root") {
      assertEquals(await fingerprint(base), before, what);
    },
    async cleanup() {
      await makeReadable(base);
      await Deno.remove(base, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * One line per entry of `base` except `root/` and `local/`: path, type, mode, mtime,
 * ctime (so a chmod to the same mode, or a rename in and out, shows) and
 * the content's hash or the link's target.
 */
async function fingerprint(base: string): Promise<string[]> {
  const lines: string[] = [];
  const visit = async (relative: string) => {
    const host = relative === "" ? base : join(base, relative);
    const info = await Deno.lstat(host);
    let what = "";
    if (info.isFile) {
      what = createHash("sha256").update(await Deno.readFile(host))
        .digest("hex");
    } else if (info.isSymlink) what = `-> ${await Deno.readLink(host)}`;
    const type = info.isDirectory ? "dir" : info.isFile ? "file" : "other";
    // The base itself changes when the root changes; only its names count.
    const times = relative === ""
      ? ""
      : `${info.mtime?.getTime()} ${info.ctime?.getTime()}`;
    lines.push(
      `${relative || "."} ${type} ${
        (info.mode! & 0o7777).toString(8)
      } ${times} ${what}`,
    );
    if (!info.isDirectory) return;
    const names: string[] = [];
    for await (const entry of Deno.readDir(host)) {
      if (relative === "" && ["root", "local"].includes(entry.name)) continue;
      names.push(entry.name);
    }
    for (const name of names.sort()) {
      await visit(relative === "" ? name : `${relative}/${name}`);
    }
  };
  await visit("");
  return lines;
}

/** Gives every folder under `path` its owner's rwx back, for removal. */
async function makeReadable(path: string): Promise<void> {
  const info = await Deno.lstat(path).catch(() => null);
  if (!info?.isDirectory) return;
  await Deno.chmod(path, 0o700).catch(() => {});
  for await (const entry of Deno.readDir(path)) {
    await makeReadable(join(path, entry.name));
  }
}

/** A real server on 127.0.0.1 serving a {@linkcode Jail}'s root. */
export interface JailServer {
  server: FtsServer;
  port: number;
  /** Opens one more client connection (closed by `close`). */
  connect(): Promise<Connection>;
  /** Closes every connection opened here and shuts the server down. */
  close(): Promise<void>;
}

/** Starts an in-process server on 127.0.0.1, port 0, serving `jail.root`. */
export async function serveJail(
  jail: Jail,
  options: Partial<Omit<ServerOptions, "root" | "hostname" | "port">> = {},
): Promise<JailServer> {
  const server = await FtsServer.start({
    log: null,
    ...options,
    root: jail.root,
    hostname: "127.0.0.1",
    port: 0,
  });
  const port = server.addr.port;
  const opened: Connection[] = [];
  return {
    server,
    port,
    async connect() {
      const connection = await Connection.open({ hostname: "127.0.0.1", port });
      opened.push(connection);
      return connection;
    },
    async close() {
      for (const connection of opened) connection.abort();
      await server.shutdown(1000);
    },
  };
}

/** Runs `test` with a fresh jail, cleaned up afterwards whatever happens. */
export async function withJail(
  test: (jail: Jail) => Promise<void>,
  extraOutside: string[] = [],
): Promise<void> {
  const jail = await makeJail(extraOutside);
  try {
    await test(jail);
  } finally {
    await jail.cleanup();
  }
}

/** Polls `condition` every 5 ms for up to `ms`; fails if it never holds. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Total bytes of the regular files directly in `dir` (0 when missing). */
export async function bytesIn(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const info = await Deno.lstat(join(dir, entry.name)).catch(() => null);
      if (info?.isFile) total += info.size;
      if (info?.isDirectory) total += await bytesIn(join(dir, entry.name));
    }
  } catch {
    // Not there (yet, or any more).
  }
  return total;
}

/** Every regular file under `dir` whose content holds {@linkcode SECRET}. */
export async function filesWithSecret(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (path: string) => {
    const info = await Deno.lstat(path).catch(() => null);
    if (info?.isFile) {
      if ((await Deno.readTextFile(path)).includes(SECRET)) found.push(path);
    } else if (info?.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        await visit(join(path, entry.name));
      }
    }
  };
  await visit(dir);
  return found;
}
