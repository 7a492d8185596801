/**
 * What `fts serve` offers at start: it listens on IPv6 and IPv4 by default,
 * and prints the web page's URL and the exact `fts connect` line a client
 * types.
 */

import { assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { haveIpv6, runFts, startServe } from "./helpers/cli.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

async function withFolders(
  run: (root: string, config: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "fts-start-root-" });
  const config = await Deno.makeTempDir({ prefix: "fts-start-config-" });
  try {
    await run(root, config);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(config, { recursive: true });
  }
}

Deno.test({
  name:
    "by default serve listens on IPv6 and IPv4: fts connect ::1 and 127.0.0.1 both work (needs IPv6)",
  ignore: prerequisite("IPv6 on the loopback (::1)", haveIpv6()),
  fn: async () => {
    await withFolders(async (root, config) => {
      await Deno.writeTextFile(join(root, "both.txt"), "b");
      const serve = await startServe(root, [], {
        defaultHost: true,
        env: { FTS_CONFIG_DIR: config },
      });
      try {
        assertMatch(serve.lines[0], /^fts listening on \[::\]:\d+/);
        for (const host of [`[::1]:${serve.port}`, serve.address]) {
          const ls = await runFts(["connect", host, "ls"]);
          assertEquals(ls.code, 0, ls.stderr);
          assertMatch(ls.stdout, /both\.txt\n$/);
        }
        const { log } = await serve.stop();
        // IPv4 clients are logged as such, not as ::ffff:127.0.0.1.
        assertMatch(log, / 127\.0\.0\.1:\d+ ls /);
      } finally {
        await serve.stop();
      }
    });
  },
});

Deno.test("serve prints the page's URL and the fts connect line a client types, which works as printed", async () => {
  await withFolders(async (root, config) => {
    await Deno.writeTextFile(join(root, "seen.txt"), "s");
    const env = { FTS_CONFIG_DIR: config };
    const serve = await startServe(root, ["--tls", "--http", "0"], {
      env,
      lines: 5,
    });
    try {
      const [, fingerprint, http, page, connect] = serve.lines;
      const fp = fingerprint.replace("fts tls fingerprint ", "");
      const httpPort = /:(\d+)$/.exec(http)![1];
      assertEquals(page, `fts page https://127.0.0.1:${httpPort}/`);
      assertEquals(
        connect,
        `fts connect with: fts connect ${serve.address} --fingerprint ${fp}`,
      );
      const typed = connect.replace("fts connect with: fts ", "").split(" ");
      const ls = await runFts([...typed, "ls"], { env });
      assertEquals(ls.code, 0, ls.stderr);
      assertMatch(ls.stdout, /seen\.txt\n$/);
    } finally {
      await serve.stop();
    }
  });
});
