/**
 * `fts user add|remove|list`: manages the users file that `fts serve --users`
 * reads. Passwords come from `FTS_PASSWORD` or are typed twice at a hidden
 * prompt; only their SCRAM verifiers are stored.
 *
 * @module
 */

import { promptSecret } from "@std/cli/prompt-secret";
import { PASSWORD_ENV, passwordFromEnv } from "../../config/password_env.ts";
import { addUser, listUsers, removeUser } from "./users.ts";

/** What `fts user` can do. */
export type UserAction = "add" | "remove" | "list";

/** Options of `fts user`, already parsed. */
export interface UserCommandOptions {
  action: UserAction;
  /** The user name (add, remove). */
  name?: string;
  /** The users file. */
  usersFile: string;
  /** add: the user may only read. */
  readOnly?: boolean;
  /** add: replace an existing user (a new password). */
  replace?: boolean;
  /** Receives each output line. Default: stdout. */
  print?: (line: string) => void;
  /**
   * Asks for a secret without echoing it; returns null when there is no
   * terminal. Default: `promptSecret` from `@std/cli`.
   */
  promptSecret?: (message: string) => string | null;
}

/**
 * Runs `fts user ACTION`.
 *
 * @throws {Error} "cannot <action> user: ..." on failure.
 */
export async function userCommand(options: UserCommandOptions): Promise<void> {
  const print = options.print ?? console.log;
  const file = options.usersFile;
  switch (options.action) {
    case "add": {
      const name = options.name!;
      const password = newPassword(
        name,
        options.promptSecret ??
          ((message) => promptSecret(message, { mask: "" })),
      );
      await addUser(file, name, password, {
        readOnly: options.readOnly,
        replace: options.replace,
      });
      print(
        `${options.replace ? "set password of" : "added"} user "${name}"${
          options.readOnly ? " (read-only)" : ""
        } in ${file}`,
      );
      return;
    }
    case "remove":
      await removeUser(file, options.name!);
      print(`removed user "${options.name}" from ${file}`);
      return;
    case "list":
      for (const user of await listUsers(file)) {
        print(user.readOnly ? `${user.name} (read-only)` : user.name);
      }
      return;
  }
}

function newPassword(
  name: string,
  prompt: (message: string) => string | null,
): string {
  const fromEnv = passwordFromEnv();
  if (fromEnv !== undefined) return fromEnv;
  const first = prompt(`Password for ${name}:`);
  if (first === null) {
    throw new Error(
      `cannot add user: no password (set ${PASSWORD_ENV}, or run fts on a terminal to be asked)`,
    );
  }
  const second = prompt("Type it again:");
  if (second !== first) {
    throw new Error("cannot add user: the two passwords differ");
  }
  return first;
}
