/**
 * The zero-copy road for a file body (see `../net/sendfile_body.ts`): taken
 * when the server need not see the bytes (no hash to compute, no
 * compression) on a plain TCP connection, with a store handle that has a
 * descriptor. Otherwise the caller sends the body the buffered way.
 *
 * @module
 */

import { DATA_CHUNK_SIZE } from "../../protocol/frame.ts";
import type { Trailer } from "../../protocol/messages.ts";
import { closeFd } from "../../transfer/libc.ts";
import { sendFileFrames } from "../net/sendfile_body.ts";
import type { ReadHandle } from "../storage/store.ts";
import type { RequestIo } from "./request_io.ts";

/** Set `FTS_NO_SENDFILE=1` to compare with the buffered road. */
const disabled = (() => {
  try {
    return Deno.env.get("FTS_NO_SENDFILE") === "1";
  } catch {
    return false; // No --allow-env: the default.
  }
})();

/** The largest DATA frame sent this way, whatever the client takes. */
export const MAX_SENDFILE_FRAME = 16 * 1024 * 1024;

/**
 * The DATA payload size for a client that takes frames of up to `maxData`
 * bytes (`get.maxData`): as large as it takes, up to
 * {@linkcode MAX_SENDFILE_FRAME}, so one header goes out per many
 * megabytes; 1 MiB for a client that did not say (its pool's size).
 */
function sendfileFrameSize(maxData: number | undefined): number {
  if (maxData === undefined || maxData < DATA_CHUNK_SIZE) {
    return DATA_CHUNK_SIZE;
  }
  return Math.min(maxData, MAX_SENDFILE_FRAME);
}

/**
 * Sends `handle`'s bytes from `offset` to its opened size as a body with
 * `sendfile(2)`, in DATA frames as large as the client takes (`maxData`,
 * see {@linkcode sendfileFrameSize}), the trailer from `trailer` after
 * them. Answers false, having sent nothing, when this road is closed; then
 * the caller sends.
 *
 * @throws when the connection fails.
 */
export async function sendBodyZeroCopy(
  io: RequestIo,
  handle: ReadHandle,
  offset: number,
  trailer: () => Trailer,
  maxData?: number,
): Promise<boolean> {
  const frameSize = sendfileFrameSize(maxData);
  if (disabled || io.socket === undefined || handle.descriptor === undefined) {
    return false;
  }
  const socket = io.socket.open();
  if (socket === null) return false;
  try {
    // Nothing of Deno's may still be on its way to the same socket.
    await io.writer.drain();
    const sent = await sendFileFrames(
      socket,
      handle.descriptor,
      offset,
      handle.entry.size - offset,
      { onBytes: io.socket.progress, signal: io.socket.signal, frameSize },
    );
    await io.writer.sendBody([], () =>
      sent.shortened
        ? {
          error: {
            code: "io",
            reason: "the file changed on the server while it was sent",
          },
        }
        : trailer());
  } finally {
    closeFd(socket);
  }
  return true;
}
