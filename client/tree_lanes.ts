/**
 * The lanes of a tree transfer, shared by uploads and downloads: extra
 * connections beside the main one (`-P`), and the split of a tree's files
 * into runs of about the same cost, one per lane.
 *
 * @module
 */

import type { Connection } from "./connection.ts";
import type { Reporter } from "./reporter.ts";

/** Opens one more connection to the same server, for `-P`. */
export type OpenConnection = () => Promise<Connection>;

/**
 * Opens up to `count` more connections and prepares each with `prepare`;
 * one that cannot be opened is reported and done without.
 */
export async function openExtras(
  openExtra: OpenConnection | undefined,
  count: number,
  prepare: (connection: Connection) => Promise<void>,
  reporter: Reporter,
): Promise<Connection[]> {
  if (!openExtra || count <= 0) return [];
  const opened = await Promise.allSettled(
    Array.from({ length: count }, async () => {
      const extra = await openExtra();
      try {
        await prepare(extra);
      } catch (error) {
        extra.abort();
        throw error;
      }
      return extra;
    }),
  );
  const extras: Connection[] = [];
  for (const result of opened) {
    if (result.status === "fulfilled") extras.push(result.value);
    else {
      reporter.info(
        `using fewer connections: ${
          result.reason instanceof Error ? result.reason.message : result.reason
        }`,
      );
    }
  }
  return extras;
}

/**
 * Splits `files` into at most `parts` runs of consecutive files with about
 * the same cost each (bytes, plus a fixed cost per file).
 */
export function partition<T extends { size: number }>(
  files: T[],
  parts: number,
): T[][] {
  if (parts <= 1 || files.length <= 1) return [files];
  const cost = (file: T) => file.size + 64 * 1024;
  const total = files.reduce((sum, file) => sum + cost(file), 0);
  const shares: T[][] = [[]];
  let spent = 0;
  for (const file of files) {
    const share = shares.at(-1)!;
    if (
      share.length > 0 && shares.length < parts &&
      spent + cost(file) / 2 > (total * shares.length) / parts
    ) {
      shares.push([file]);
    } else share.push(file);
    spent += cost(file);
  }
  return shares;
}
