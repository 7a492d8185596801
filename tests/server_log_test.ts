/**
 * The server's log cannot be forged: control characters a client sends (in
 * its agent name, say) are written escaped, one record per line, and a
 * session that never logged in is not logged as "logged out".
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { escapeControl, ServerLog } from "../server/server_log.ts";
import { messageBytes, RawPeer, waitFor } from "./helpers/raw_peer.ts";
import { startServer } from "./helpers/server.ts";

Deno.test("escapeControl writes control characters and line separators as \\u escapes", () => {
  assertEquals(
    escapeControl("a\nb\r\u001b[31m\u007f\u0085\u2028z"),
    "a\\u000ab\\u000d\\u001b[31m\\u007f\\u0085\\u2028z",
  );
  assertEquals(escapeControl("plain ünïcode"), "plain ünïcode");
});

Deno.test("a log record with a newline in it stays one line", () => {
  const lines: string[] = [];
  new ServerLog((line) => lines.push(line)).record({
    peer: "127.0.0.1:1",
    op: "connect",
    result: "x\n2026-01-01T00:00:00.000Z 10.0.0.1:2 login logged in as root",
  });
  assertEquals(lines.length, 1);
  assert(!lines[0].includes("\n"));
  assert(
    lines[0].endsWith(
      "x\\u000a2026-01-01T00:00:00.000Z 10.0.0.1:2 login logged in as root",
    ),
  );
});

Deno.test("a client agent with a forged log line is logged escaped, and a bye without a login is logged as left", async () => {
  const lines: string[] = [];
  const { server, port, cleanup } = await startServer({
    log: (line) => void lines.push(line),
  });
  const peer = await RawPeer.connect(port);
  try {
    const forged = "fts/1\n2026-01-01T00:00:00.000Z 10.0.0.1:2 login logged in";
    await peer.send(
      messageBytes({ op: "hello", version: 1, agent: forged, features: [] }),
    );
    assertEquals((await peer.message()).op, "welcome");
    await peer.send(messageBytes({ op: "bye" }));
    assertEquals((await peer.message()).op, "ok");
    await waitFor("the session to end", () => server.connections === 0);
    assert(
      lines.every((line) => escapeControl(line) === line),
      lines.join("|"),
    );
    assert(
      lines.some((line) =>
        line.endsWith(
          "connect fts/1\\u000a2026-01-01T00:00:00.000Z 10.0.0.1:2 login logged in",
        )
      ),
      lines.join("\n"),
    );
    const last = lines.at(-1)!;
    assert(/ disconnect \d+\.\d{3}s left$/.test(last), last);
  } finally {
    peer.close();
    await cleanup();
  }
});
