/**
 * The command line of `fts user add|remove|list`.
 *
 * @module
 */

import { flag } from "../../cli/flags.ts";
import type { ParsedArgs } from "../../cli/flags.ts";
import { type CliIo, subcommand } from "../../cli/subcommand.ts";
import { UsageError } from "../../cli/usage_error.ts";
import { defaultUsersFile } from "./default_users.ts";
import { type UserAction, userCommand } from "./user_command.ts";

const USER_HELP = `Usage:
  fts user add NAME [--users FILE] [--read-only] [--replace]
  fts user remove NAME [--users FILE]
  fts user list [--users FILE]

Manages the users of "fts serve"; a running server sees changes at the next
login. Without --users, the file is "users" in the configuration folder
($FTS_CONFIG_DIR, else ~/.config/fts), which "fts serve" reads by default:
once it exists, that server asks every client for a login. add asks for the
password twice without showing it, or takes it from FTS_PASSWORD when set.
FILE keeps only a SCRAM-SHA-256 verifier per user, never the password, and is
created with mode 0600.

Options:
  --users FILE    the users file (default: users in the configuration folder)
  --read-only     add: the user may list and download, not change anything
  --replace       add: replace an existing user (sets a new password)
  --debug         show stack traces`;

/** `fts user`'s flags. */
export const USER_FLAGS = {
  users: flag.text("a users file"),
  "read-only": flag.boolean(),
  replace: flag.boolean(),
};

/** `fts user`. */
export const USER = subcommand({
  usage: "fts user add|remove|list ... [--users FILE]",
  summary: "manage the users of a server",
  help: USER_HELP,
  flags: USER_FLAGS,
  run: runUser,
});

/** Checks `fts user`'s command line, then runs its action. */
async function runUser(
  { flags, positional }: ParsedArgs<typeof USER_FLAGS>,
  io: CliIo,
): Promise<void> {
  const [action, name, ...extra] = positional;
  const takesName = action === "add" || action === "remove";
  if (action !== "list" && !takesName) {
    throw new UsageError(
      action === undefined
        ? "user needs add, remove or list"
        : `unknown user command "${action}"`,
    );
  }
  if (takesName ? name === undefined || extra.length > 0 : name) {
    throw new UsageError(
      takesName ? `user ${action} takes one NAME` : "user list takes no NAME",
    );
  }
  const usersFile = flags.users ?? defaultUsersFile();
  if (usersFile === undefined) {
    throw new UsageError(
      "user needs --users FILE (no configuration folder: set FTS_CONFIG_DIR or HOME)",
    );
  }
  if (action !== "add" && (flags["read-only"] || flags.replace)) {
    throw new UsageError(
      `user ${action} does not take --${
        flags.replace ? "replace" : "read-only"
      }`,
    );
  }
  await userCommand({
    action: action as UserAction,
    name,
    usersFile,
    readOnly: flags["read-only"],
    replace: flags.replace,
    print: io.out,
  });
}
