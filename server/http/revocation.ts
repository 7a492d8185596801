/**
 * Revocation on the HTTP front-end. Native sessions end when their user is
 * removed (the server polls the users file every 2 s); this gives the
 * front-end's own state the same treatment at the same moment: when the
 * users file changes, a user who was removed or got a new password loses
 * their page sessions, one made read-only keeps them read-only, and either
 * loses the WebDAV locks they took. Basic logins need nothing: each request
 * is checked against the current file.
 *
 * @module
 */

import type { Logins } from "../auth/login.ts";
import type { ServerLog } from "../server_log.ts";
import type { UserStore } from "../auth/users.ts";
import type { BrowserLogins } from "./browser_login.ts";
import type { LockTable } from "./webdav/lock_table.ts";

/** Why a user's access shrank, by user name. */
export function userChanges(
  before: UserStore,
  after: UserStore,
): Map<string, string> {
  const changes = new Map<string, string>();
  for (const [name, old] of before.users) {
    const now = after.users.get(name);
    if (now === undefined) {
      changes.set(name, "was removed");
      continue;
    }
    // `fts user add --replace` always makes a new verifier (a new salt).
    const why = [
      ...(now.verifier.storedKey !== old.verifier.storedKey
        ? ["has a new password"]
        : []),
      ...(now.readOnly && !old.readOnly ? ["was made read-only"] : []),
    ];
    if (why.length > 0) changes.set(name, why.join(" and "));
  }
  return changes;
}

/** Revokes page sessions and locks whenever `logins` sees a change. */
export function watchRevocations(
  logins: Logins,
  browser: BrowserLogins | null,
  locks: LockTable,
  log: ServerLog,
): void {
  logins.onChange((before, after) => {
    const sessions = browser?.revoke(after) ?? new Map<string, number>();
    const changes = userChanges(before, after);
    if (changes.size === 0) return;
    for (const [name, why] of changes) {
      const ended = sessions.get(name) ?? 0;
      const released = locks.releaseUsers(new Set([name]));
      if (ended === 0 && released === 0) continue;
      log.record({
        peer: "-",
        op: "http login",
        result: `user ${JSON.stringify(name)} ${why}: ${ended} page session${
          ended === 1 ? "" : "s"
        } ${
          why === "was made read-only" ? "made read-only" : "ended"
        }, ${released} lock${released === 1 ? "" : "s"} released`,
      });
    }
  });
}
