/**
 * What a live mirror's loop (`mirror_live.ts`) asks of its two directions:
 * `put -r --watch` follows the local folder, `get -r --watch` the server's
 * watch stream.
 *
 * @module
 */

import type { Connection } from "./connection.ts";
import type { MirrorContext } from "./mirror.ts";
import type { MirrorFlags } from "./mirror_command.ts";
import type { Reporter } from "./reporter.ts";

/** A mirror's context, plus a reporter that only shows errors. */
export interface LiveContext extends MirrorContext {
  mirror: MirrorFlags;
  /** For the transfers of each batch: errors only, no bars or summaries. */
  quiet: Reporter;
}

/** What one batch did, path by path (for `-v` and the summary). */
export interface Applied {
  /** Files sent or received. */
  moved: string[];
  /** Entries removed from the target. */
  deleted: string[];
}

/** One direction of a live mirror. */
export interface LiveSide {
  /** `"LOCAL" to "REMOTE"`, for messages. */
  readonly label: string;
  /** A whole mirror with the quick check: the first run, and after a reconnect. */
  catchUp(connection: Connection): Promise<unknown>;
  /**
   * Starts following the source, calling `onChange` with each changed path
   * (relative to the mirrored folder) and `onBroken` when following stops
   * because the link died. Called again after each reconnect.
   */
  follow(
    connection: Connection,
    onChange: (path: string) => void,
    onBroken: (error: unknown) => void,
  ): void | Promise<void>;
  /** Applies one batch of changed paths to the target. */
  apply(connection: Connection, batch: Set<string>): Promise<Applied>;
  /** Stops following. */
  close(): void;
}
