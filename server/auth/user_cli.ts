/**
 * The command line of `fts user add|remove|list`.
 *
 * @module
 */

import { flag } from "../../cli/flags.ts";
import { subcommand } from "../../cli/subcommand.ts";
import { UsageError } from "../../cli/usage_error.ts";
import { type UserAction, userCommand } from "./user_command.ts";

const USER_HELP = `Usage:
  fts user add NAME --users FILE [--read-only] [--replace]
  fts user remove NAME --users FILE
  fts user list --users FILE

Manages the users of "fts serve --users FILE"; a running server sees changes
at the next login. add asks for the password twice without showing it, or
takes it from FTS_PASSWORD when set. FILE keeps only a SCRAM-SHA-256
verifier per user, never the password, and is created with mode 0600.

Options:
  --users FILE    the users file (required)
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
  usage: "fts user add|remove|list ... --users FILE",
  summary: "manage the users of a server",
  help: USER_HELP,
  flags: USER_FLAGS,
  async run({ flags, positional }, io) {
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
    if (flags.users === undefined) {
      throw new UsageError("user needs --users FILE");
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
      usersFile: flags.users,
      readOnly: flags["read-only"],
      replace: flags.replace,
      print: io.out,
    });
  },
});
