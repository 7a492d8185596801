/**
 * The flags of the remote commands (`ls --json`, `put -r --limit-rate 1M`),
 * shared by one-shot `fts connect HOST COMMAND` and the shell, where each
 * command takes only the flags listed in its `COMMANDS` entry.
 *
 * @module
 */

import { flag, type Flags, wholeNumber } from "../cli/flags.ts";
import { type Checksum, isChecksum } from "../protocol/mod.ts";
import { parseRate } from "../transfer/rate_limit_stream.ts";
import type { CommandSettings } from "./commands.ts";
import { mirrorFlags } from "./mirror_command.ts";

/** Most connections a tree transfer may use at once. */
const MAX_PARALLEL = 16;

function checksum(text: string): Checksum {
  if (!isChecksum(text)) throw new TypeError(text);
  return text;
}

/** Every remote command's flags; add new ones here and to `COMMANDS`. */
export const COMMAND_FLAGS = {
  json: flag.boolean(),
  hash: flag.boolean(),
  recursive: flag.boolean("r"),
  force: flag.boolean("f"),
  parents: flag.boolean("p"),
  long: flag.boolean("l"),
  "no-clobber": flag.boolean(),
  "no-resume": flag.boolean(),
  "no-verify": flag.boolean(),
  "whole-file": flag.boolean(),
  "limit-rate": flag.value(parseRate, "a rate such as 500K or 10M"),
  parallel: flag.value(
    wholeNumber(1, MAX_PARALLEL),
    `a number of connections from 1 to ${MAX_PARALLEL}`,
  ),
  // scp and sftp users read -P as the port: refused, with what to write.
  P: flag.refused(
    "fts takes no -P: write the port as HOST:PORT, and connections at once as --parallel N",
  ),
  checksum: flag.value(checksum, "xxh128 or sha256"),
  delete: flag.boolean(),
  "dry-run": flag.boolean("n"),
  "max-delete": flag.value(wholeNumber(0), "a whole number"),
  watch: flag.boolean(),
  compress: flag.optional(
    "on" as "on" | "auto",
    (text) => {
      if (text !== "auto") throw new TypeError(text);
      return "auto" as const;
    },
    "nothing or =auto",
    "z",
  ),
};

/** The parsed command flags. */
export type CommandFlags = Flags<typeof COMMAND_FLAGS>;

/**
 * The settings a command runs with: `flags` over `defaults` (the shell's
 * start-up flags, or fts's defaults).
 */
export function commandSettings(
  flags: CommandFlags,
  defaults: CommandSettings,
): CommandSettings {
  return {
    ...defaults,
    json: defaults.json || flags.json,
    hash: defaults.hash || flags.hash,
    recursive: flags.recursive,
    force: flags.force,
    long: flags.long,
    noClobber: defaults.noClobber || flags["no-clobber"],
    resume: defaults.resume && !flags["no-resume"],
    verify: defaults.verify && !flags["no-verify"],
    wholeFile: defaults.wholeFile || flags["whole-file"],
    limitRate: flags["limit-rate"] ?? defaults.limitRate,
    parallel: flags.parallel ?? defaults.parallel,
    checksum: flags.checksum ?? defaults.checksum,
    compress: flags.compress ?? defaults.compress,
    mirror: mirrorFlags(flags, flags.recursive),
  };
}
