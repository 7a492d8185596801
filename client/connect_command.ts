/**
 * `fts connect HOST [COMMAND ...]`: one command, or the interactive shell.
 *
 * @module
 */

import { CommandRunner, type CommandSettings } from "./commands.ts";
import { Connection } from "./connection.ts";
import { askToTrust } from "./host_trust.ts";
import { askPassword } from "./password_prompt.ts";
import { StreamReporter } from "./reporter.ts";
import { safeText } from "./safe_text.ts";
import { runShell } from "./shell.ts";
import { parseTarget } from "./target.ts";
import { type TlsSettings, TransportOpener } from "./tls_connect.ts";

/** Options of `fts connect`, already parsed. */
export interface ConnectCommandOptions extends CommandSettings {
  /** `[USER@]HOST[:PORT]`. */
  target: string;
  /** TLS: `--tls`, `--fingerprint`, `--ca`. */
  tls?: Omit<TlsSettings, "ask">;
  /** The command and its arguments; empty opens the shell. */
  command: string[];
  /** Print nothing but errors and command output. */
  quiet: boolean;
}

/** Runs one command or the shell; throws typed errors on failure. */
export async function connectCommand(
  options: ConnectCommandOptions,
): Promise<void> {
  const target = parseTarget(options.target);
  const reporter = StreamReporter.forStderr(options.quiet);
  const transport = new TransportOpener({
    ...options.tls,
    // Only a person at a terminal can decide to trust a new server.
    ask: Deno.stdin.isTerminal() ? askToTrust : undefined,
  });
  // Asked once: the shell's reconnects and -P's extra connections reuse it.
  let password: string | undefined;
  const connect = async () => {
    let typed: string | undefined;
    const connection = await Connection.open(target, {
      onNotice: (notice) => reporter.info(`server: ${notice.message}`),
      transport,
      password: (user, label) => typed = password ?? askPassword(user, label),
    });
    password ??= typed;
    return connection;
  };
  const print = (text: string) => {
    if (text !== "") console.log(text);
  };
  const connection = await connect();
  if (options.command.length === 0) {
    const encoder = new TextEncoder();
    const interactive = Deno.stdin.isTerminal();
    if (interactive) {
      const details = [
        safeText(connection.welcome.agent),
        connection.tls ? "TLS" : "",
        connection.user === undefined ? "" : `as ${connection.user}`,
        connection.readOnly ? "read-only" : "",
      ].filter((part) => part !== "").join(", ");
      console.log(
        `connected to ${connection.label} (${details}); type help for commands`,
      );
    }
    await runShell(connection, connect, reporter, options, {
      input: Deno.stdin.readable,
      print,
      printError: (text) => console.error(`fts: ${text}`),
      prompt: interactive
        ? (text) => Deno.stdout.writeSync(encoder.encode(text))
        : undefined,
    });
    return;
  }
  const [name, ...args] = options.command;
  try {
    await new CommandRunner(connection, reporter, print, false, connect).run(
      name,
      args,
      options,
    );
  } finally {
    await connection.close();
  }
}
