/**
 * A wrong port is named for what answered there: an HTTP server (fts's own
 * --http port), an SSH server (a real sshd), a TLS server when TLS was not
 * asked for. One line each. (A listener that never answers: in
 * client_timeout_test.ts.)
 */

import { assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { runFts, startServe } from "./helpers/cli.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

const SSHD = "/usr/sbin/sshd";
const haveSshd = (() => {
  try {
    return Deno.statSync(SSHD).isFile;
  } catch {
    return false;
  }
})();

async function withRoot(run: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "fts-test-port-" });
  try {
    await run(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("connect to fts's --http port says it answered like an HTTP server and names fts's own port", async () => {
  await withRoot(async (root) => {
    const serve = await startServe(root, ["--http", "127.0.0.1:0"], {
      lines: 2,
    });
    try {
      const http = /http listening on 127\.0\.0\.1:(\d+)/.exec(
        serve.lines.join("\n"),
      );
      const address = `127.0.0.1:${http![1]}`;
      const result = await runFts(["connect", address, "ls"]);
      assertEquals(result.code, 1);
      assertEquals(
        result.stderr,
        `fts: cannot connect to ${address}: it answered like an HTTP server; fts's own port is 7373 (is this the --http port?)\n`,
      );
    } finally {
      await serve.stop();
    }
  });
});

Deno.test({
  name:
    `connect to an sshd says it answered like an SSH server (needs ${SSHD})`,
  ignore: prerequisite(SSHD, haveSshd),
  fn: async () => {
    await withRoot(async (root) => {
      const key = join(root, "host_key");
      await new Deno.Command("ssh-keygen", {
        args: ["-q", "-t", "ed25519", "-N", "", "-f", key],
      }).output();
      await Deno.mkdir("/run/sshd", { recursive: true }).catch(() => {});
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = probe.addr.port;
      probe.close();
      const sshd = new Deno.Command(SSHD, {
        args: [
          ...["-D", "-e", "-f", "/dev/null", "-h", key, "-p", String(port)],
          ...["-o", "ListenAddress=127.0.0.1", "-o", "PidFile=none"],
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      try {
        // Wait for "Server listening on 127.0.0.1 port N."
        const reader = sshd.stderr.pipeThrough(new TextDecoderStream())
          .getReader();
        let log = "";
        while (!log.includes("Server listening")) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`sshd did not start: ${log}`);
          log += value;
        }
        reader.releaseLock();
        sshd.stderr.cancel().catch(() => {});
        const address = `127.0.0.1:${port}`;
        const result = await runFts(["connect", address, "ls"]);
        assertEquals(result.code, 1);
        assertEquals(
          result.stderr,
          `fts: cannot connect to ${address}: it answered like an SSH server; fts's own port is 7373\n`,
        );
      } finally {
        sshd.kill("SIGTERM");
        await sshd.status;
      }
    });
  },
});

Deno.test("connect without --tls to a TLS server says the server requires TLS", async () => {
  await withRoot(async (root) => {
    const config = join(root, "config");
    const serve = await startServe(join(root, "data"), ["--tls"], {
      env: { FTS_CONFIG_DIR: config },
      lines: 2,
    });
    try {
      const result = await runFts(["connect", serve.address, "ls"], {
        env: { FTS_CONFIG_DIR: config },
      });
      assertEquals(result.code, 1);
      assertMatch(
        result.stderr,
        /^fts: cannot connect to 127\.0\.0\.1:\d+: .*requires TLS \(use --tls\)\n$/,
      );
    } finally {
      await serve.stop();
    }
  });
});
