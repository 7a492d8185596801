/**
 * Both ends name an OS failure with the same typed error: the server's
 * storage core (`fsError`) and the client's local files (`localError`) read
 * one vocabulary (`transfer/os_errors.ts`), each with its own words.
 */

import { assertEquals, assertInstanceOf } from "@std/assert";
import {
  DiskFullError,
  IoError,
  NotFoundError,
  PermissionError,
} from "../protocol/errors.ts";
import { fsError } from "../server/storage/fs_errors.ts";
import { localError, localReason } from "../client/local_errors.ts";

/** An error as the local store's libc calls give it: only a code. */
function coded(code: string): Error {
  return Object.assign(new Error(code), { code });
}

Deno.test("a permission error is a PermissionError on the server and on the client", () => {
  for (
    const error of [new Deno.errors.PermissionDenied("x"), coded("EACCES")]
  ) {
    const server = fsError(error, "a/b");
    assertInstanceOf(server, PermissionError);
    assertEquals(
      server.reason,
      `the server's file system does not allow access to "a/b"`,
    );
    const client = localError(error, 'put "b"');
    assertInstanceOf(client, PermissionError);
    assertEquals(client.message, 'cannot put "b": permission denied');
    assertEquals(localReason(error).code, "permission");
  }
});

Deno.test("a full disk is a DiskFullError on both ends, however the OS says it", () => {
  for (const error of [coded("ENOSPC"), new Error("write (os error 28)")]) {
    assertInstanceOf(fsError(error, "f"), DiskFullError);
    assertInstanceOf(localError(error, 'get "f"'), DiskFullError);
  }
});

Deno.test("an unknown OS error keeps its code but never the OS message with host paths", () => {
  const error = coded("EIO");
  error.message = "EIO: /home/someone/secret/file";
  const client = localError(error, 'put "f"');
  assertInstanceOf(client, IoError);
  assertEquals(client.reason, "local error EIO");
  const server = fsError(error, "f");
  assertEquals(server.reason, `the server could not access "f"`);
  assertEquals(server.cause, error);
  assertInstanceOf(fsError(new Deno.errors.NotFound("x"), "f"), NotFoundError);
});
