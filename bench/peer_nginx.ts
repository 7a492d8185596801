/**
 * nginx as the HTTP peer: a throwaway server on a free port of 127.0.0.1
 * serving one folder with `sendfile on` and the dav module's `PUT`, from a
 * config generated into a temp folder. One process (`master_process off`),
 * so its CPU seconds are that of the process the benchmark started. PUT
 * bodies are staged in a folder beside the served one (the same file
 * system, so nginx renames instead of copying).
 *
 * @module
 */

import { join } from "@std/path";
import { processCpuSeconds } from "./memory.ts";
import {
  type Background,
  freePort,
  makeTempDir,
  startBackground,
  waitForListen,
} from "./process.ts";

/** A running nginx. */
export class NginxServer {
  /** `HOST:PORT` for URLs. */
  readonly address: string;
  #proc: Background;

  private constructor(address: string, proc: Background) {
    this.address = address;
    this.#proc = proc;
  }

  /**
   * Starts `nginx` serving `root` (GET with sendfile, PUT into it), its
   * request bodies staged in `staging` (a folder on the same file system).
   */
  static async start(
    nginx: string,
    root: string,
    staging: string,
    lifetimeMs: number,
  ): Promise<NginxServer> {
    const dir = await makeTempDir("fts-bench-nginx-");
    await Deno.mkdir(staging, { recursive: true });
    const port = freePort();
    const conf = join(dir, "nginx.conf") as string;
    await Deno.writeTextFile(conf, config(dir, root, staging, port));
    const proc = startBackground(
      nginx,
      ["-p", dir, "-c", conf, "-e", join(dir, "error.log")],
      { timeoutMs: lifetimeMs },
    );
    try {
      await waitForListen(port, 10_000, proc);
    } catch (error) {
      await proc.stop();
      throw error;
    }
    return new NginxServer(`127.0.0.1:${port}`, proc);
  }

  /** CPU seconds nginx has used since it started (read before and after a run). */
  cpuSeconds(): Promise<number | null> {
    return processCpuSeconds(this.#proc.pid);
  }

  /** Stops nginx and waits for its exit. */
  async stop(): Promise<void> {
    await this.#proc.stop(2000);
  }
}

/** The config: nginx's defaults plus what the comparison names. */
function config(
  dir: string,
  root: string,
  staging: string,
  port: number,
): string {
  const temp = (name: string) =>
    `${name}_temp_path ${join(dir, name) as string};`;
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, "nginx.pid") as string};
error_log ${join(dir, "error.log") as string};
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${staging};
  ${temp("proxy")} ${temp("fastcgi")} ${temp("uwsgi")} ${temp("scgi")}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    client_max_body_size 0;
    location / { dav_methods PUT; }
  }
}
`;
}
