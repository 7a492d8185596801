/**
 * The tools fts is compared with: `nc` (netcat-openbsd) file to file, `scp`
 * and `rsync -a` over a throwaway local `sshd`, and `tar c | nc` into
 * `tar x` for trees.
 *
 * The sshd runs from a temp dir with its own `sshd_config`, a throwaway host
 * key and a throwaway client key (`AuthorizedKeysFile` in the temp dir,
 * `StrictModes no`), on a free high port of 127.0.0.1 only. Every peer run is
 * bounded by a timeout and every process it starts is tracked for clean-up.
 *
 * Each transfer function returns the wall time in seconds and throws when the
 * transfer fails; the caller checks the data arrived intact.
 *
 * @module
 */

import { join } from "@std/path";
import {
  type Background,
  freePort,
  makeTempDir,
  run,
  type RunResult,
  runShell,
  startBackground,
  startShell,
  waitForListen,
  which,
} from "./process.ts";

/** Paths of the peer tools found on this machine (null when missing). */
export interface PeerTools {
  /** OpenBSD netcat (must support `-N`). */
  nc: string | null;
  /** OpenSSH client. */
  ssh: string | null;
  /** OpenSSH scp. */
  scp: string | null;
  /** OpenSSH server (absolute path, sshd refuses to re-exec otherwise). */
  sshd: string | null;
  /** Key generator for the throwaway keys. */
  sshKeygen: string | null;
  /** rsync (needed on both ends; both are this machine). */
  rsync: string | null;
  /** tar, for `tar c | nc`. */
  tar: string | null;
  /** curl, the HTTP client of the HTTP cases (for fts too). */
  curl: string | null;
  /** nginx, the HTTP peer (absolute path: it is in sbin). */
  nginx: string | null;
}

/** Debian package that provides each tool. */
export const DEBIAN_PACKAGES: Record<keyof PeerTools, string> = {
  nc: "netcat-openbsd",
  ssh: "openssh-client",
  scp: "openssh-client",
  sshd: "openssh-server",
  sshKeygen: "openssh-client",
  rsync: "rsync",
  tar: "tar",
  curl: "curl",
  nginx: "nginx-light",
};

/** Finds the peer tools; `nc` only counts when it is OpenBSD netcat (it needs `-N`). */
export async function findPeerTools(): Promise<PeerTools> {
  let nc = which("nc");
  if (nc) {
    const help = await run(nc, ["-h"], {
      timeoutMs: 5000,
      captureStdout: true,
    }).catch(() => null);
    const text = `${help?.stdout ?? ""}${help?.stderr ?? ""}`;
    if (!/OpenBSD netcat/i.test(text)) nc = null;
  }
  return {
    nc,
    ssh: which("ssh"),
    scp: which("scp"),
    sshd: which("/usr/sbin/sshd") ?? which("sshd"),
    sshKeygen: which("ssh-keygen"),
    rsync: which("rsync"),
    tar: which("tar"),
    curl: which("curl"),
    nginx: which("/usr/sbin/nginx") ?? which("nginx"),
  };
}

/**
 * Returns null when all `needed` tools exist, else a note naming the missing
 * tools and the Debian packages to install.
 */
export function missingNote(
  tools: PeerTools,
  needed: (keyof PeerTools)[],
): string | null {
  const missing = needed.filter((name) => tools[name] === null);
  if (missing.length === 0) return null;
  const packages = [...new Set(missing.map((name) => DEBIAN_PACKAGES[name]))];
  const names = missing.map((name) =>
    name === "sshKeygen" ? "ssh-keygen" : name
  );
  return `${names.join(", ")} not installed (apt-get install ${
    packages.join(" ")
  })`;
}

function check(result: RunResult, what: string): void {
  if (result.timedOut) throw new Error(`${what} timed out`);
  if (!result.success) {
    throw new Error(
      `${what} exited ${result.code}: ${result.stderr.trim().slice(0, 500)}`,
    );
  }
}

/** A throwaway sshd on 127.0.0.1 and the client options to log into it. */
export class SshServer {
  /** Port sshd listens on. */
  readonly port: number;
  /** The temp dir with keys, config and log. */
  readonly dir: string;
  #proc: Background;
  #clientKey: string;

  private constructor(
    port: number,
    dir: string,
    proc: Background,
    clientKey: string,
  ) {
    this.port = port;
    this.dir = dir;
    this.#proc = proc;
    this.#clientKey = clientKey;
  }

  /**
   * Generates keys and a config in a temp dir, starts sshd in the foreground
   * (`-D`, bounded by `lifetimeMs`) and checks a login works. With `netns`
   * sshd runs in that network namespace (`ip netns exec`), and so must its
   * clients.
   */
  static async start(
    tools: PeerTools,
    lifetimeMs: number,
    netns?: string,
  ): Promise<SshServer> {
    // `ip netns exec` execs the command in place: the pid stays sshd's.
    const inNetns = (command: string, args: string[]): [string, string[]] =>
      netns ? ["ip", ["netns", "exec", netns, command, ...args]] : [
        command,
        args,
      ];
    const note = missingNote(tools, ["ssh", "sshd", "sshKeygen"]);
    if (note) throw new Error(note);
    const dir = await makeTempDir("fts-bench-sshd-");
    const hostKey = join(dir, "host_ed25519") as string;
    const clientKey = join(dir, "client_ed25519") as string;
    for (const key of [hostKey, clientKey]) {
      check(
        await run(tools.sshKeygen!, [
          "-q",
          "-t",
          "ed25519",
          "-N",
          "",
          "-C",
          "fts-bench",
          "-f",
          key,
        ], {
          timeoutMs: 10_000,
        }),
        "ssh-keygen",
      );
    }
    const authorized = join(dir, "authorized_keys") as string;
    await Deno.writeTextFile(
      authorized,
      await Deno.readTextFile(`${clientKey}.pub`),
    );
    await Deno.chmod(authorized, 0o600);
    const config = join(dir, "sshd_config") as string;
    await Deno.writeTextFile(
      config,
      [
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorized}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        "StrictModes no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "UseDNS no",
        "X11Forwarding no",
        "PrintMotd no",
        "Subsystem sftp internal-sftp",
        "",
      ].join("\n"),
    );
    // sshd insists on its privilege separation directory.
    try {
      await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    } catch { /* not root: sshd will say so below */ }

    let lastError = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = freePort();
      const proc = startBackground(
        ...inNetns(tools.sshd!, [
          "-D",
          "-f",
          config,
          "-E",
          join(dir, "sshd.log") as string,
          "-o",
          `Port=${port}`,
        ]),
        { timeoutMs: lifetimeMs },
      );
      try {
        await waitForListen(port, 10_000, proc, netns !== undefined);
      } catch (error) {
        await proc.stop();
        lastError = `${(error as Error).message} ${await readLog(dir)}`;
        continue;
      }
      const server = new SshServer(port, dir, proc, clientKey);
      const login = await run(
        ...inNetns(tools.ssh!, [...server.sshArgs(), "127.0.0.1", "true"]),
        { timeoutMs: 15_000 },
      );
      if (login.success) return server;
      lastError = `test login failed: ${login.stderr.trim()} ${await readLog(
        dir,
      )}`;
      await proc.stop();
    }
    throw new Error(`could not start a local sshd: ${lastError}`);
  }

  /** Options shared by ssh and scp: throwaway key, no host key checks, no prompts. */
  commonOptions(): string[] {
    return [
      "-i",
      this.#clientKey,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "IdentitiesOnly=yes",
    ];
  }

  /** Arguments for `ssh` (port given with `-p`). */
  sshArgs(): string[] {
    return ["-p", String(this.port), ...this.commonOptions()];
  }

  /** Arguments for `scp` (port given with `-P`). */
  scpArgs(): string[] {
    return ["-P", String(this.port), ...this.commonOptions()];
  }

  /** The `-e` value for rsync: one ssh command line (paths contain no spaces). */
  rsyncShell(ssh: string): string {
    return [ssh, ...this.sshArgs()].join(" ");
  }

  /** Stops sshd and all its sessions. Its temp dir goes at the global clean-up. */
  async stop(): Promise<void> {
    await this.#proc.stop();
  }
}

async function readLog(dir: string): Promise<string> {
  try {
    return (await Deno.readTextFile(join(dir, "sshd.log") as string)).trim()
      .slice(-500);
  } catch {
    return "";
  }
}

/**
 * Times one transfer between a listener started first (not timed) and a
 * client: from just before the client starts until both have exited.
 *
 * Both scripts get `$1` = nc, `$2` = port, `$3` = their path and `$4` = tar.
 * The port comes from {@link freePort}; should another process take it
 * before the listener binds, the listener is retried on a new port.
 */
async function listenerPair(
  tools: PeerTools,
  listener: { script: string; path: string },
  client: { script: string; path: string },
  timeoutMs: number,
): Promise<number> {
  const params = (port: number, path: string) => [
    tools.nc!,
    String(port),
    path,
    tools.tar ?? "tar",
  ];
  let proc: Background | null = null;
  let port = 0;
  for (let attempt = 1; proc === null; attempt++) {
    port = freePort();
    const started = startShell(listener.script, params(port, listener.path), {
      timeoutMs,
    });
    try {
      await waitForListen(port, 10_000, started);
      proc = started;
    } catch (error) {
      await started.stop();
      if (attempt >= 3) throw error;
    }
  }
  try {
    const start = performance.now();
    const result = await runShell(client.script, params(port, client.path), {
      timeoutMs,
    });
    // A failed client leaves the listener waiting: stop it (in finally) now.
    check(result, "client side");
    const { status, killed } = await proc.wait(
      Math.max(timeoutMs - result.seconds * 1000, 1000),
    );
    const seconds = (performance.now() - start) / 1000;
    if (killed || !status.success) {
      throw new Error(
        `listener exited ${status.code}${
          killed ? " (timed out)" : ""
        }: ${proc.stderrText.trim()}`,
      );
    }
    return seconds;
  } finally {
    if (!proc.exited) await proc.stop();
  }
}

/** `nc -l > dst` on the receiving end, `nc -N < src` sending: a put. */
export function ncPut(
  tools: PeerTools,
  src: string,
  dst: string,
  timeoutMs: number,
): Promise<number> {
  return listenerPair(
    tools,
    { script: 'exec "$1" -l 127.0.0.1 "$2" > "$3"', path: dst },
    { script: 'exec "$1" -N 127.0.0.1 "$2" < "$3"', path: src },
    timeoutMs,
  );
}

/** `nc -N -l < src` serving, `nc -d > dst` fetching: a get. */
export function ncGet(
  tools: PeerTools,
  src: string,
  dst: string,
  timeoutMs: number,
): Promise<number> {
  return listenerPair(
    tools,
    { script: 'exec "$1" -N -l 127.0.0.1 "$2" < "$3"', path: src },
    { script: 'exec "$1" -d 127.0.0.1 "$2" > "$3"', path: dst },
    timeoutMs,
  );
}

/**
 * `ncPut` or `ncGet` whose receiving end then runs `sync FILE` (an fsync of
 * that file alone), so the time covers the data reaching the disk: the
 * durable peer fts is measured against on disk.
 */
export function ncSynced(
  tools: PeerTools,
  direction: "put" | "get",
  src: string,
  dst: string,
  timeoutMs: number,
): Promise<number> {
  const receive = '"$1" -l 127.0.0.1 "$2" > "$3" && exec sync "$3"';
  const fetch = '"$1" -d 127.0.0.1 "$2" > "$3" && exec sync "$3"';
  return direction === "put"
    ? listenerPair(
      tools,
      { script: receive, path: dst },
      { script: 'exec "$1" -N 127.0.0.1 "$2" < "$3"', path: src },
      timeoutMs,
    )
    : listenerPair(
      tools,
      { script: 'exec "$1" -N -l 127.0.0.1 "$2" < "$3"', path: src },
      { script: fetch, path: dst },
      timeoutMs,
    );
}

/** `tar c -C srcDir . | nc` into `nc -l | tar x -C dstDir`: a tree put. `dstDir` must exist. */
export function tarNcPut(
  tools: PeerTools,
  srcDir: string,
  dstDir: string,
  timeoutMs: number,
): Promise<number> {
  return listenerPair(
    tools,
    { script: '"$1" -l 127.0.0.1 "$2" | "$4" x -C "$3"', path: dstDir },
    { script: '"$4" c -C "$3" . | "$1" -N 127.0.0.1 "$2"', path: srcDir },
    timeoutMs,
  );
}

/** `tar c | nc -N -l` serving, `nc -d | tar x` fetching: a tree get. `dstDir` must exist. */
export function tarNcGet(
  tools: PeerTools,
  srcDir: string,
  dstDir: string,
  timeoutMs: number,
): Promise<number> {
  return listenerPair(
    tools,
    { script: '"$4" c -C "$3" . | "$1" -N -l 127.0.0.1 "$2"', path: srcDir },
    { script: '"$1" -d 127.0.0.1 "$2" | "$4" x -C "$3"', path: dstDir },
    timeoutMs,
  );
}

/** `scp [-c cipher] src 127.0.0.1:dst` through the local sshd: a put. */
export function scpPut(
  tools: PeerTools,
  ssh: SshServer,
  src: string,
  dst: string,
  cipher: string | null,
  timeoutMs: number,
): Promise<number> {
  return scp(tools, ssh, src, `127.0.0.1:${dst}`, cipher, timeoutMs);
}

/** `scp [-c cipher] 127.0.0.1:src dst` through the local sshd: a get. */
export function scpGet(
  tools: PeerTools,
  ssh: SshServer,
  src: string,
  dst: string,
  cipher: string | null,
  timeoutMs: number,
): Promise<number> {
  return scp(tools, ssh, `127.0.0.1:${src}`, dst, cipher, timeoutMs);
}

async function scp(
  tools: PeerTools,
  ssh: SshServer,
  from: string,
  to: string,
  cipher: string | null,
  timeoutMs: number,
): Promise<number> {
  const args = [
    "-q",
    ...(cipher ? ["-c", cipher] : []),
    ...ssh.scpArgs(),
    from,
    to,
  ];
  const result = await run(tools.scp!, args, { timeoutMs });
  check(result, "scp");
  return result.seconds;
}

/**
 * `rsync -a -e "ssh ..." srcDir/ 127.0.0.1:dstDir/`: a tree put; `flags`
 * (`--fsync`, say) go after `-a`.
 */
export async function rsyncPut(
  tools: PeerTools,
  ssh: SshServer,
  srcDir: string,
  dstDir: string,
  timeoutMs: number,
  flags: string[] = [],
): Promise<number> {
  const args = [
    "-a",
    ...flags,
    "-e",
    ssh.rsyncShell(tools.ssh!),
    `${srcDir}/`,
    `127.0.0.1:${dstDir}/`,
  ];
  const result = await run(tools.rsync!, args, { timeoutMs });
  check(result, "rsync");
  return result.seconds;
}

/** `rsync -a -e "ssh ..." 127.0.0.1:srcDir/ dstDir/`: a tree get; `flags` go after `-a`. */
export async function rsyncGet(
  tools: PeerTools,
  ssh: SshServer,
  srcDir: string,
  dstDir: string,
  timeoutMs: number,
  flags: string[] = [],
): Promise<number> {
  const args = [
    "-a",
    ...flags,
    "-e",
    ssh.rsyncShell(tools.ssh!),
    `127.0.0.1:${srcDir}/`,
    `${dstDir}/`,
  ];
  const result = await run(tools.rsync!, args, { timeoutMs });
  check(result, "rsync");
  return result.seconds;
}
