/**
 * `fts known-hosts list | remove HOST[:PORT]`: shows or forgets the servers
 * whose certificates the user trusted.
 *
 * @module
 */

import { hostPortKey, KnownHosts } from "./known_hosts.ts";
import { parseTarget } from "./target.ts";
import { subcommand } from "../cli/subcommand.ts";
import { UsageError } from "../cli/usage_error.ts";

/**
 * Runs `known-hosts` with `args` (`["list"]` or `["remove", HOST]`),
 * printing through `print`.
 *
 * @throws {UsageError} for anything else, or a server not in the file.
 */
export async function knownHostsCommand(
  args: string[],
  print: (text: string) => void,
): Promise<void> {
  const [action, host, ...extra] = args;
  const store = new KnownHosts();
  if (action === "list" && host === undefined) {
    for (const { hostPort, fingerprint } of await store.list()) {
      print(`${hostPort} ${fingerprint}`);
    }
    return;
  }
  if (action === "remove" && host !== undefined && extra.length === 0) {
    const target = parseTarget(host);
    // Without a port: the host at every port it was trusted on.
    const keys = namesPort(host)
      ? [hostPortKey(target.hostname, target.port)]
      : (await store.list()).map((entry) => entry.hostPort).filter((key) =>
        key.startsWith(hostPortKey(target.hostname, 0).slice(0, -1))
      );
    const removed = [];
    for (const key of keys) {
      if (await store.remove(key)) removed.push(key);
    }
    if (removed.length === 0) {
      const shown = keys[0] ?? `${target.hostname} (at any port)`;
      throw new UsageError(`${shown} is not in ${store.file}`);
    }
    for (const key of removed) print(`removed ${key} from ${store.file}`);
    return;
  }
  throw new UsageError(
    action === "list" || action === "remove"
      ? `usage: fts known-hosts ${
        action === "list" ? "list" : "remove HOST[:PORT]"
      }`
      : "known-hosts needs list or remove HOST[:PORT]",
  );
}

/** Whether `[USER@]HOST[:PORT]` names a port. */
function namesPort(text: string): boolean {
  const host = text.slice(text.lastIndexOf("@") + 1);
  return /^\[.*\]:\d+$/.test(host) || /^[^:]+:\d+$/.test(host);
}

/** `fts known-hosts`. */
export const KNOWN_HOSTS = subcommand({
  usage: "fts known-hosts list | remove HOST[:PORT]",
  summary: "the servers trusted so far",
  help: `Usage:
  fts known-hosts list
  fts known-hosts remove HOST[:PORT]

Lists or forgets the servers whose TLS certificates were trusted (the
known_hosts file in $FTS_CONFIG_DIR, else ~/.config/fts). Without a PORT,
remove forgets HOST at every port. After removing a server, the next
connection asks about its certificate again.`,
  flags: {},
  async run({ positional }, io) {
    await knownHostsCommand(positional, io.out);
  },
});
