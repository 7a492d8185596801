/**
 * The checksums: XXH3-128 against the reference implementation's digests,
 * running hashes that interleave, and the rule that a peer naming no
 * checksum gets SHA-256.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { createHash } from "node:crypto";
import {
  agreeChecksum,
  digestFields,
  digestIn,
  digestOf,
  prefixFields,
  prefixIn,
  repliedChecksum,
  startHash,
} from "../transfer/hash/checksum.ts";
import { BufferPool } from "../protocol/buffer_pool.ts";
import { createHasher } from "../transfer/hash/hasher.ts";
import {
  hashableBuffer,
  releaseHashable,
  Xxh128,
  XXH128_ENGINE,
} from "../transfer/hash/xxh128.ts";
import xxhash128 from "hash-wasm/xxhash128";

const text = (value: string) => new TextEncoder().encode(value);

/** 300,000 bytes of (i * 31 + 7) mod 251, as the vectors below were made. */
function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) % 251;
  return bytes;
}

// Digests printed by `xxhsum -H2` (xxHash 0.8.1, the reference C code).
const VECTORS: [string, Uint8Array, string][] = [
  ["empty", new Uint8Array(0), "99aa06d3014798d86001c324468d497f"],
  ["abc", text("abc"), "06b05ab6733a618578af5f94892f3950"],
  ["100,000 a", text("a".repeat(100_000)), "819d5302938c790308f809ef04c54838"],
  ["300,000 pattern", pattern(300_000), "e064c65f8982f7b5bd166ac77b8df711"],
];

Deno.test("xxh128 gives the reference digests, whole and in odd pieces", () => {
  for (const [name, bytes, digest] of VECTORS) {
    assertEquals(new Xxh128().update(bytes).hex(), digest, name);
    const pieces = new Xxh128();
    for (let at = 0; at < bytes.byteLength; at += 65_537) {
      pieces.update(bytes.subarray(at, at + 65_537));
    }
    assertEquals(pieces.hex(), digest, `${name} in pieces`);
  }
});

Deno.test("xxh128 gives hash-wasm's digests of megabytes, from plain buffers and from hashable ones, whole and split at odd places", async () => {
  const reference = await (xxhash128 as {
    createXXHash128(): Promise<{
      init(): void;
      update(bytes: Uint8Array): void;
      digest(format: "hex"): string;
    }>;
  }).createXXHash128();
  const data = pattern(5 * 1024 * 1024 + 4321);
  reference.init();
  reference.update(data);
  const expected = reference.digest("hex");
  assertEquals(new Xxh128().update(data).hex(), expected);
  const held = hashableBuffer(data.byteLength);
  try {
    held.set(data);
    assertEquals(new Xxh128().update(held).hex(), expected);
    const split = new Xxh128();
    for (
      const [from, to] of [[0, 1], [1, 1_048_583], [1_048_583, data.length]]
    ) {
      split.update(held.subarray(from, to));
    }
    assertEquals(split.hex(), expected);
  } finally {
    releaseHashable(held);
  }
});

Deno.test("xxh128 states save and load in hash-wasm's format both ways (a resume across versions)", async () => {
  const create = (xxhash128 as {
    createXXHash128(): Promise<{
      init(): void;
      update(bytes: Uint8Array): void;
      digest(format: "hex"): string;
      save(): Uint8Array;
      load(state: Uint8Array): void;
    }>;
  }).createXXHash128;
  const data = pattern(300_000);
  const theirs = await create();
  theirs.init();
  theirs.update(data.subarray(0, 100_000));
  const ours = Xxh128.load(theirs.save()).update(data.subarray(100_000));
  assertEquals(ours.hex(), VECTORS[3][2]);
  const back = await create();
  back.load(new Xxh128().update(data.subarray(0, 123_457)).save());
  back.update(data.subarray(123_457));
  assertEquals(back.digest("hex"), VECTORS[3][2]);
});

Deno.test("xxh128 hashes that take turns, and peeks between updates, do not disturb each other", () => {
  const data = pattern(300_000);
  const first = new Xxh128();
  const second = new Xxh128();
  for (let i = 0; i < 30; i++) {
    first.update(data.subarray(i * 10_000, (i + 1) * 10_000));
    first.hex();
    if (i < 25) second.update(text("a".repeat(4_000)));
  }
  assertEquals(second.hex(), VECTORS[2][2]);
  assertEquals(first.hex(), VECTORS[3][2]);
  assertEquals(first.hex(), VECTORS[3][2]);
  assertEquals(new Xxh128().hex(), VECTORS[0][2]);
});

Deno.test("digestOf gives the reference digests of whole parts without disturbing a running hash", () => {
  const running = new Xxh128();
  const data = pattern(300_000);
  for (const [name, bytes, digest] of VECTORS) {
    running.update(data.subarray(0, 100_000));
    assertEquals(digestOf("xxh128", [bytes]), digest, name);
    const cut = bytes.byteLength >> 1;
    assertEquals(
      digestOf("xxh128", [bytes.subarray(0, cut), bytes.subarray(cut)]),
      digest,
      `${name} in two parts`,
    );
    assertEquals(
      digestOf("sha256", [bytes.subarray(0, cut), bytes.subarray(cut)]),
      createHash("sha256").update(bytes).digest("hex"),
      `${name}, SHA-256`,
    );
  }
  running.update(data.subarray(0, 100_000)).update(new Uint8Array(0));
  const expected = new Xxh128();
  for (let i = 0; i < VECTORS.length + 1; i++) {
    expected.update(data.subarray(0, 100_000));
  }
  assertEquals(running.hex(), expected.hex());
});

Deno.test("a hasher resumed from a file prefix gives the whole file's digest", async () => {
  const data = pattern(300_000);
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, data);
    for (const checksum of ["xxh128", "sha256"] as const) {
      const pool = new BufferPool(64 * 1024);
      const hasher = await createHasher(pool, checksum, path, 123_456);
      hasher.update(data.slice(123_456));
      const whole = startHash(checksum);
      whole.update(data);
      assertEquals(hasher.hex(), whole.hex());
      assertEquals(hasher.digests(), digestFields(checksum, whole.hex()));
    }
    const hash = startHash("sha256");
    hash.update(data);
    assertEquals(hash.hex(), createHash("sha256").update(data).digest("hex"));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("a peer that names no checksum, or an unknown one, gets SHA-256", () => {
  assertEquals(agreeChecksum(undefined), "sha256");
  assertEquals(agreeChecksum("blake3"), "sha256");
  assertEquals(agreeChecksum("xxh128"), "xxh128");
  assertEquals(repliedChecksum({}), "sha256");
  assertEquals(repliedChecksum({ checksum: "xxh128" }), "xxh128");
  assertEquals(digestIn({ sha256: "a" }, "xxh128"), undefined);
  assertEquals(digestIn(digestFields("xxh128", "b"), "xxh128"), "b");
  assertEquals(prefixFields("sha256", "c"), { prefixSha256: "c" });
  assertEquals(prefixIn({ prefixSha256: "c" }, "xxh128"), undefined);
  assertEquals(prefixIn(prefixFields("xxh128", "d"), "xxh128"), "d");
});

Deno.test("xxh128 hashes with the SIMD engine here, and the hash-wasm fallback (FTS_XXH3_SCALAR=1) gives the same digests and states", async () => {
  assertEquals(XXH128_ENGINE, "wasm-simd");
  const script = `
    import { hashableBuffer, Xxh128, XXH128_ENGINE, xxh128Of } from ${
    JSON.stringify(new URL("../transfer/hash/xxh128.ts", import.meta.url).href)
  };
    const data = new Uint8Array(3_000_000).map((_, i) => (i * 31 + 7) % 251);
    const running = new Xxh128().update(data.subarray(0, 1_000_001));
    const resumed = Xxh128.load(running.save()).update(data.subarray(1_000_001));
    const held = hashableBuffer(10);
    console.log(JSON.stringify({
      engine: XXH128_ENGINE,
      whole: xxh128Of([data]),
      resumed: resumed.hex(),
      plain: held.buffer.byteLength === 10,
    }));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    env: { FTS_XXH3_SCALAR: "1" },
  }).output();
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  const fallback = JSON.parse(new TextDecoder().decode(output.stdout));
  const data = new Uint8Array(3_000_000).map((_, i) => (i * 31 + 7) % 251);
  const expected = new Xxh128().update(data).hex();
  assertEquals(fallback, {
    engine: "hash-wasm",
    whole: expected,
    resumed: expected,
    plain: true,
  });
});
