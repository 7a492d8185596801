/**
 * `copyBody` (server/http/upload_body.ts) gathers a request body into full
 * 1 MiB writes whether it comes as a byte stream (read with a BYOB reader,
 * as `Deno.serve` gives it) or as a stream of chunks, and checks the length.
 *
 * @module
 */

import { assertEquals, assertRejects } from "@std/assert";
import { concat } from "@std/bytes/concat";
import { createHash } from "node:crypto";
import { copyBody } from "../server/http/upload_body.ts";
import { BODY_CHUNK } from "../server/http/read_stream.ts";
import { HttpError } from "../server/http/http_errors.ts";
import { randomBytes } from "./helpers/cli.ts";

/** `data` in pieces of 1 to 200,000 bytes, as a byte stream or not. */
function streamOf(
  data: Uint8Array,
  bytes: boolean,
): ReadableStream<Uint8Array> {
  let at = 0;
  let step = 1;
  const next = () => {
    step = (step * 7919 + 13) % 200_000 + 1;
    const piece = data.slice(at, at + step);
    at += piece.byteLength;
    return piece;
  };
  return bytes
    ? new ReadableStream({
      type: "bytes",
      pull(controller) {
        if (at >= data.byteLength) {
          // A pending BYOB read ends only with a response of 0 bytes.
          controller.close();
          return controller.byobRequest?.respond(0);
        }
        controller.enqueue(next());
      },
    })
    : new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= data.byteLength) return controller.close();
        controller.enqueue(next());
      },
    });
}

for (const bytes of [true, false]) {
  const kind = bytes ? "a byte stream" : "a stream of chunks";
  Deno.test(`copyBody writes ${kind} in full 1 MiB pieces, the same bytes, with their SHA-256`, async () => {
    const data = randomBytes(3 * BODY_CHUNK + 12_345);
    const writes: Uint8Array[] = [];
    const result = await copyBody(
      streamOf(data, bytes),
      { write: (chunk) => Promise.resolve(void writes.push(chunk.slice())) },
      data.byteLength,
      true,
      10_000,
    );
    assertEquals(result.bytes, data.byteLength);
    assertEquals(writes.map((w) => w.byteLength), [
      BODY_CHUNK,
      BODY_CHUNK,
      BODY_CHUNK,
      12_345,
    ]);
    assertEquals(concat(writes), data);
    assertEquals(
      result.sha256!.toHex(),
      createHash("sha256").update(data).digest("hex"),
    );
  });

  Deno.test(`copyBody refuses ${kind} longer than its Content-Length before writing past it`, async () => {
    const data = randomBytes(BODY_CHUNK + 10);
    let written = 0;
    const error = await assertRejects(
      () =>
        copyBody(
          streamOf(data, bytes),
          {
            write: (chunk) =>
              Promise.resolve(void (written += chunk.byteLength)),
          },
          BODY_CHUNK - 100,
          false,
          10_000,
        ),
      HttpError,
    );
    assertEquals(error.status, 400);
    assertEquals(written, 0);
  });
}
