/**
 * Tests of the control messages (protocol/messages.ts): what `decodeMessage`
 * refuses and accepts, encode→decode round trips, trailers, and that 64-bit
 * file sizes above 4 GiB survive the JSON encoding exactly.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  BODY_OPS,
  decodeMessage,
  decodeTrailer,
  encodeMessage,
  encodeTrailer,
  type Message,
  MESSAGE_OPS,
  ProtocolError,
} from "../protocol/mod.ts";

const encoder = new TextEncoder();

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** One valid example of every message kind. */
const VALID: Message[] = [
  { op: "hello", version: 1, agent: "fts/test", features: ["resume"] },
  {
    op: "welcome",
    version: 1,
    agent: "fts/test",
    features: ["resume", "sha256"],
    readOnly: false,
  },
  { op: "error", code: "not_found", reason: "no such file on the server" },
  { op: "notice", message: "hello there" },
  { op: "notice", message: "bye", shutdown: true },
  { op: "ping" },
  { op: "ok" },
  { op: "ls", path: "" },
  { op: "ls", path: "docs", hash: true },
  { op: "listing", path: "docs" },
  { op: "stat", path: "a.txt" },
  { op: "stat", path: "a.txt", hash: false },
  {
    op: "entry",
    entry: { name: "a.txt", type: "file", size: 3, mtime: 1, mode: 0o644 },
  },
  {
    op: "put",
    path: "a.txt",
    size: 3,
    mtime: 1_700_000_000_000,
    mode: 0o644,
    resume: false,
    noClobber: false,
    verify: true,
  },
  {
    op: "put",
    path: "stdin.txt",
    size: null,
    mtime: 0,
    mode: null,
    resume: false,
    noClobber: true,
    verify: false,
  },
  { op: "ready", offset: 0 },
  { op: "ready", offset: 10, prefixSha256: "ab".repeat(32) },
  { op: "data", offset: 0, size: 3 },
  { op: "data", offset: 0, size: null },
  {
    op: "data",
    offset: 5,
    size: 10,
    mtime: 1,
    mode: null,
    restarted: true,
  },
  { op: "done", bytes: 3 },
  { op: "done", bytes: 3, reused: 1024 },
  { op: "done", bytes: 3, sha256: "cd".repeat(32) },
  { op: "get", path: "a.txt", offset: 0, verify: true },
  {
    op: "get",
    path: "a.txt",
    offset: 2,
    prefixSha256: "ef".repeat(32),
    expect: { size: 3, mtime: 1 },
    verify: true,
  },
  { op: "rm", path: "a.txt", recursive: false },
  { op: "mkdir", path: "a/b/c" },
  { op: "chmod", path: "a/b/c", mode: 0o750 },
  { op: "df" },
  { op: "space", free: 1 << 30, total: 8 << 30 },
  { op: "mv", from: "a", to: "b" },
  { op: "bye" },
  { op: "auth", mechanism: "scram-sha-256", data: "n,,n=ann,r=abc" },
  { op: "auth-continue", data: "r=abcdef,s=AAAA,i=4096" },
  { op: "auth-ok", data: "v=AAAA", readOnly: false },
  { op: "tree-put", path: "docs", verify: true },
  {
    op: "tree-put",
    path: "",
    verify: true,
    checksum: "xxh128",
    compress: true,
  },
  { op: "tree-need", files: 2 },
  { op: "tree-need", files: 0, checksum: "sha256", compress: false },
  { op: "file", path: "docs/a.txt", size: 3, mtime: 1, mode: 0o644 },
  { op: "dir", path: "docs", mtime: 1, mode: 0o755 },
  { op: "tree-end" },
  {
    op: "tree-ack",
    done: 2,
    failed: [{ path: "b.txt", code: "io", reason: "the disk said no" }],
  },
  { op: "tree-done", files: 2, bytes: 6, failed: 0 },
  { op: "tree-get", path: "docs" },
  { op: "tree-list", path: "docs" },
  { op: "tree-want", path: "", verify: true, checksum: "xxh128" },
  { op: "tree-error", path: "docs/x", code: "not_found", reason: "gone" },
  { op: "summary", chunking: "gear-16k", chunks: 3 },
  { op: "summary", chunking: "gear-16k", chunks: 0, path: "docs/a.txt" },
  { op: "tree-delete", path: "site" },
  { op: "tree-deleted", deleted: 3, failed: [] },
  {
    op: "tree-deleted",
    deleted: 0,
    failed: [{ path: "a", code: "io", reason: "busy" }],
    more: 2,
  },
  { op: "watch", path: "" },
  { op: "watching", path: "docs", how: "inotify" },
  { op: "watching", path: "", how: "fts", note: "only through fts" },
  { op: "change", event: "deleted", path: "a.txt" },
  {
    op: "change",
    event: "moved",
    path: "a",
    to: "b",
    type: "file",
    size: 3,
    mtime: 1,
  },
];

Deno.test("decodeMessage accepts one valid message of every kind, unchanged", () => {
  const ops = new Set<string>();
  for (const message of VALID) {
    assertEquals(decodeMessage(json(message)), message);
    ops.add(message.op);
  }
  // Every op the protocol's schema knows is covered above: the list comes
  // from protocol/messages.ts, so a new op cannot be left out.
  assertEquals([...ops].sort(), [...MESSAGE_OPS].sort());
});

Deno.test("encodeMessage then decodeMessage round-trips every message kind", () => {
  for (const message of VALID) {
    const bytes = encodeMessage(message);
    assertEquals(decodeMessage(bytes), message);
    // The encoding is UTF-8 JSON.
    assertEquals(JSON.parse(new TextDecoder().decode(bytes)), message);
  }
});

Deno.test("encodeMessage round-trips non-ASCII paths", () => {
  const message: Message = { op: "stat", path: "Prüfung/日本語 ✓.txt" };
  assertEquals(decodeMessage(encodeMessage(message)), message);
});

Deno.test("decodeMessage keeps 64-bit sizes above 4 GiB exact, up to 2^53-1", () => {
  for (
    const size of [2 ** 32, 2 ** 32 + 1, 5 * 2 ** 30, 2 ** 53 - 1]
  ) {
    const put = decodeMessage(encodeMessage({
      op: "put",
      path: "big.bin",
      size,
      mtime: 1,
      mode: null,
      resume: true,
      noClobber: false,
      verify: true,
    }));
    assertEquals(put.op === "put" && put.size, size);
    const data = decodeMessage(
      encodeMessage({ op: "data", offset: size - 1, size }),
    );
    assertEquals(data.op === "data" && [data.offset, data.size], [
      size - 1,
      size,
    ]);
    const ready = decodeMessage(encodeMessage({ op: "ready", offset: size }));
    assertEquals(ready.op === "ready" && ready.offset, size);
    const done = decodeMessage(encodeMessage({ op: "done", bytes: size }));
    assertEquals(done.op === "done" && done.bytes, size);
    const get = decodeMessage(
      encodeMessage({ op: "get", path: "x", offset: size, verify: true }),
    );
    assertEquals(get.op === "get" && get.offset, size);
  }
});

Deno.test("decodeMessage rejects sizes beyond 2^53-1, which JSON cannot carry exactly", () => {
  assertThrows(
    () => decodeMessage(json({ op: "data", offset: 0, size: 2 ** 53 })),
    ProtocolError,
    'bad field "size"',
  );
});

Deno.test("decodeMessage rejects a payload that is not JSON", () => {
  for (
    const text of ["", "{", "not json", '{"op":"ping"', "\u0000", "{op:'ping'}"]
  ) {
    assertThrows(
      () => decodeMessage(encoder.encode(text)),
      ProtocolError,
      "does not hold valid JSON",
    );
  }
  // Invalid UTF-8 is refused too.
  assertThrows(
    () => decodeMessage(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
    ProtocolError,
    "does not hold valid JSON",
  );
});

Deno.test("decodeMessage rejects JSON that is not an object", () => {
  for (const value of [null, 1, "ping", true, [], [{ op: "ping" }]]) {
    assertThrows(
      () => decodeMessage(json(value)),
      ProtocolError,
      "not a JSON object",
    );
  }
});

Deno.test("decodeMessage rejects an unknown or missing op", () => {
  for (
    const value of [
      {},
      { op: "launch" },
      { op: 1 },
      { op: null },
      { op: "PING" },
      { op: "toString" },
      { op: "__proto__" },
      { op: "constructor" },
    ]
  ) {
    assertThrows(
      () => decodeMessage(json(value)),
      ProtocolError,
      "unknown message type",
    );
  }
});

Deno.test("decodeMessage rejects a missing required field", () => {
  const cases: [unknown, string][] = [
    [{ op: "hello", version: 1, agent: "x" }, "features"],
    [{ op: "error", reason: "x" }, "code"],
    [{ op: "notice" }, "message"],
    [{ op: "ls" }, "path"],
    [{ op: "entry" }, "entry"],
    [{
      op: "put",
      path: "a",
      mtime: 1,
      mode: null,
      resume: false,
      noClobber: false,
      verify: true,
    }, "size"],
    [{ op: "ready" }, "offset"],
    [{ op: "data", offset: 0 }, "size"],
    [{ op: "done" }, "bytes"],
    [{ op: "get", path: "a", offset: 0 }, "verify"],
    [{ op: "rm", path: "a" }, "recursive"],
    [{ op: "mv", from: "a" }, "to"],
  ];
  for (const [value, field] of cases) {
    assertThrows(
      () => decodeMessage(json(value)),
      ProtocolError,
      `bad field "${field}"`,
    );
  }
});

Deno.test("decodeMessage rejects fields of the wrong type", () => {
  const cases: [unknown, string][] = [
    [{ op: "hello", version: "1", agent: "x", features: [] }, "version"],
    [{ op: "hello", version: 1, agent: 7, features: [] }, "agent"],
    [{ op: "hello", version: 1, agent: "x", features: "all" }, "features"],
    [{ op: "error", code: "oops", reason: "x" }, "code"],
    [{ op: "error", code: "toString", reason: "x" }, "code"],
    [{ op: "notice", message: "x", shutdown: "yes" }, "shutdown"],
    [{ op: "ls", path: null }, "path"],
    [{ op: "ls", path: "", hash: 1 }, "hash"],
    [{ op: "entry", entry: [] }, "entry"],
    [{ op: "entry", entry: null }, "entry"],
    [{ op: "rm", path: "a", recursive: "true" }, "recursive"],
    [{ op: "data", offset: 0, size: "3" }, "size"],
    [{ op: "data", offset: 0, size: 3, mode: "644" }, "mode"],
    [{ op: "ready", offset: 0, prefixSha256: 5 }, "prefixSha256"],
    [{ op: "get", path: "a", offset: 0, verify: true, expect: 3 }, "expect"],
  ];
  for (const [value, field] of cases) {
    assertThrows(
      () => decodeMessage(json(value)),
      ProtocolError,
      `bad field "${field}"`,
    );
  }
});

Deno.test("decodeMessage rejects negative, fractional and non-finite sizes and offsets", () => {
  const bad = [-1, -0.5, 0.5, 1.5, 2 ** 32 + 0.25, Number.MAX_VALUE];
  for (const value of bad) {
    assertThrows(
      () => decodeMessage(json({ op: "data", offset: 0, size: value })),
      ProtocolError,
      'bad field "size"',
      `size ${value}`,
    );
    assertThrows(
      () => decodeMessage(json({ op: "data", offset: value, size: 1 })),
      ProtocolError,
      'bad field "offset"',
      `offset ${value}`,
    );
    assertThrows(
      () => decodeMessage(json({ op: "ready", offset: value })),
      ProtocolError,
      'bad field "offset"',
    );
    assertThrows(
      () => decodeMessage(json({ op: "done", bytes: value })),
      ProtocolError,
      'bad field "bytes"',
    );
    assertThrows(
      () =>
        decodeMessage(json({
          op: "put",
          path: "a",
          size: value,
          mtime: 1,
          mode: null,
          resume: false,
          noClobber: false,
          verify: true,
        })),
      ProtocolError,
      'bad field "size"',
    );
    assertThrows(
      () =>
        decodeMessage(
          json({ op: "get", path: "a", offset: value, verify: true }),
        ),
      ProtocolError,
      'bad field "offset"',
    );
  }
  // Infinity and NaN become null in JSON; a raw 1e400 parses as Infinity.
  assertThrows(
    () => decodeMessage(encoder.encode('{"op":"ready","offset":1e400}')),
    ProtocolError,
    'bad field "offset"',
  );
});

Deno.test("decodeMessage ignores unknown extra fields (forward compatible)", () => {
  const message = decodeMessage(json({ op: "ok", future: { x: 1 } }));
  assertEquals(message.op, "ok");
});

Deno.test("BODY_OPS marks data and listing as followed by a body, and no request or reply without one", () => {
  assert(BODY_OPS.has("data"));
  assert(BODY_OPS.has("listing"));
  for (
    const op of [
      "hello",
      "welcome",
      "error",
      "notice",
      "ping",
      "ok",
      "ls",
      "stat",
      "entry",
      "put",
      "ready",
      "done",
      "get",
      "rm",
      "mkdir",
      "mv",
      "bye",
    ]
  ) {
    assert(!BODY_OPS.has(op), op);
  }
});

Deno.test("decodeTrailer round-trips checksums and errors and treats an empty payload as {}", () => {
  assertEquals(decodeTrailer(new Uint8Array(0)), {});
  assertEquals(decodeTrailer(encodeTrailer({})), {});
  const sha256 = "01".repeat(32);
  assertEquals(decodeTrailer(encodeTrailer({ sha256 })), { sha256 });
  const error = { code: "io" as const, reason: "the disk failed" };
  assertEquals(decodeTrailer(encodeTrailer({ error })), { error });
});

Deno.test("decodeTrailer rejects a malformed trailer", () => {
  assertThrows(
    () => decodeTrailer(encoder.encode("nope")),
    ProtocolError,
    "valid JSON",
  );
  assertThrows(() => decodeTrailer(json([])), ProtocolError, "JSON object");
  assertThrows(
    () => decodeTrailer(json({ sha256: 5 })),
    ProtocolError,
    "bad checksum",
  );
  for (
    const error of [
      null,
      "boom",
      { code: "nope", reason: "x" },
      { code: "io" },
      { code: "io", reason: 3 },
    ]
  ) {
    assertThrows(
      () => decodeTrailer(json({ error })),
      ProtocolError,
      "bad error",
    );
  }
});
