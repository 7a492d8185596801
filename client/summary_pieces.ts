/**
 * The client's reading of a server's chunk summary for a delta `put`: in
 * pieces, while its head start chunks the local file, so that a hopeless
 * match (content unrelated to the server's version) is given up as soon as
 * it shows (transfer/delta/early_give_up.ts) rather than after the server
 * read its whole old version. The pieces still on their way are then read
 * and dropped while the file goes.
 *
 * @module
 */

import { concat } from "@std/bytes/concat";
import { EarlyJudge } from "../transfer/delta/early_give_up.ts";
import type { HeadStart } from "../transfer/delta/head_start.ts";
import { ChunkIndex } from "../transfer/delta/summary.ts";
import { readSummaryPiece } from "../transfer/delta/summary_exchange.ts";
import type { Connection } from "./connection.ts";

/** What the summary allows. */
export interface ServerSummary {
  /**
   * The server's chunks; empty when the match was given up (everything
   * goes as new bytes); null when they were cut with another rule.
   */
  index: ChunkIndex | null;
  /** Settles once the pieces still coming were read (after a give-up). */
  drained?: Promise<void>;
}

/**
 * Reads the server's summary, judging the match after each piece against
 * what `start` (the head start, if any) listed so far.
 */
export async function readServerSummary(
  connection: Connection,
  action: string,
  start: HeadStart | null,
): Promise<ServerSummary> {
  const parts: Uint8Array[] = [];
  let ours = true;
  const judge = start ? new EarlyJudge() : null;
  while (true) {
    const piece = await readPiece(connection, action);
    ours &&= piece.ours;
    parts.push(piece.hashes);
    if (!piece.more) {
      return { index: ours ? ChunkIndex.fromWire(concat(parts)) : null };
    }
    if (!judge || !ours) continue;
    judge.addOld(piece.hashes);
    const verdict = judge.verdict(start!.listedBytes, () => start!.peek());
    if (verdict) {
      const drained = drain(connection, action);
      drained.catch(() => {}); // Thrown where it is awaited.
      return { index: new ChunkIndex(0), drained };
    }
  }
}

async function readPiece(connection: Connection, action: string) {
  return await readSummaryPiece(
    await connection.reply(action),
    () => connection.body(),
  ).catch((error) => {
    throw connection.wrap(error, action);
  });
}

/** Reads and drops the pieces up to the last. */
async function drain(connection: Connection, action: string): Promise<void> {
  while ((await readPiece(connection, action)).more) { /* dropped */ }
}
