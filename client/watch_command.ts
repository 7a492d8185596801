/**
 * `watch [PATH] [--json]`: stays connected and prints one line per change
 * under PATH as the server reports it (`created`, `modified` once complete,
 * `deleted`, `moved`), until Ctrl-C or the link is lost.
 *
 * @module
 */

import type { ChangeMessage, Watching } from "../protocol/mod.ts";
import { type Connection, unexpected } from "./connection.ts";
import { UnsupportedByServerError } from "./mirror_errors.ts";
import type { Reporter } from "./reporter.ts";
import { safeJson, safeText } from "./safe_text.ts";

/**
 * Starts a watch of `path` on `connection` (which it then holds for good)
 * and calls `onChange` for each change until the link ends, which throws.
 * `onWatching` is told how the server watches, once, first.
 *
 * @throws {UnsupportedByServerError} when the server cannot watch.
 */
export async function watchStream(
  connection: Connection,
  path: string,
  onWatching: (watching: Watching) => void,
  onChange: (change: ChangeMessage) => void | Promise<void>,
): Promise<never> {
  const action = `watch "${path || "/"}"`;
  if (!connection.welcome.features.includes("watch")) {
    throw new UnsupportedByServerError(
      "the server does not support watch (it is older than this client)",
      { action },
    );
  }
  const first = await connection.request({ op: "watch", path }, action);
  if (first.op !== "watching") throw unexpected(first, action);
  onWatching(first);
  while (true) {
    const message = await connection.reply(action);
    if (message.op !== "change") throw unexpected(message, action);
    await onChange(message);
  }
}

/** One change as `watch` prints it: `created  a/b.txt`, `moved    a -> b`. */
export function formatChange(change: ChangeMessage): string {
  const name = (path: string) =>
    change.type === "dir" ? `${safeText(path)}/` : safeText(path);
  const what = change.event.padEnd(8);
  return change.event === "moved" && change.to !== undefined
    ? `${what} ${name(change.path)} -> ${name(change.to)}`
    : `${what} ${name(change.path)}`;
}

/** Runs `watch` until the link ends (Ctrl-C ends the process). */
export async function watchCommand(
  connection: Connection,
  path: string,
  io: { json: boolean; print: (text: string) => void; reporter: Reporter },
): Promise<void> {
  await watchStream(
    connection,
    path,
    (watching) => {
      io.reporter.info(
        `watching "${path || "/"}" (${watching.how})${
          watching.note ? `: ${watching.note}` : ""
        }`,
      );
    },
    (change) => {
      const { op: _, ...fields } = change;
      io.print(io.json ? safeJson(fields, 0) : formatChange(change));
    },
  );
}
