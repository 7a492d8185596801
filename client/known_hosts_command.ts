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
    const key = hostPortKey(target.hostname, target.port);
    if (!await store.remove(key)) {
      throw new UsageError(`${key} is not in ${store.file}`);
    }
    print(`removed ${key} from ${store.file}`);
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

/** `fts known-hosts`. */
export const KNOWN_HOSTS = subcommand({
  usage: "fts known-hosts list | remove HOST[:PORT]",
  summary: "the servers trusted so far",
  help: `Usage:
  fts known-hosts list
  fts known-hosts remove HOST[:PORT]

Lists or forgets the servers whose TLS certificates were trusted (the
known_hosts file in $FTS_CONFIG_DIR, else ~/.config/fts). After removing a
server, the next connection asks about its certificate again.`,
  flags: {},
  async run({ positional }, io) {
    await knownHostsCommand(positional, io.out);
  },
});
