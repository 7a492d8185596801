/**
 * The end of every upload, plain or delta: the body goes out, then the
 * server's `done` is read. A local failure while sending (a changed or
 * unreadable file) went to the server in the trailer, which discards the
 * upload; its reply is read all the same, so the session stays in step for
 * the next command.
 *
 * @module
 */

import { type Done, FtsError } from "../protocol/mod.ts";
import { type Connection, unexpected } from "./connection.ts";
import type { ProgressBar } from "./progress.ts";

/**
 * Runs `send` (the body) and reads the server's `done`; the progress bar is
 * cleared on a failure and finished once the reply came.
 */
export async function sendConfirmed<T>(
  connection: Connection,
  send: () => Promise<T>,
  how: { bar: ProgressBar | null; resume: boolean; action: string },
): Promise<{ sent: T; done: Done }> {
  const { bar, action } = how;
  let sent: T;
  try {
    sent = await send();
  } catch (error) {
    bar?.clear();
    const failure = connection.wrap(error, action, how.resume);
    if (!connection.closed) await connection.reply(action).catch(() => {});
    throw failure instanceof FtsError ? failure.withAction(action) : failure;
  }
  let done;
  try {
    done = await connection.reply(action);
  } finally {
    bar?.finish();
  }
  if (done.op !== "done") throw unexpected(done, action);
  return { sent, done };
}
