/**
 * `fts connect HOST [COMMAND ...]`: one command, or the interactive shell.
 *
 * @module
 */

import { CommandRunner, type CommandSettings } from "./commands.ts";
import { Connection } from "./connection.ts";
import { StreamReporter } from "./reporter.ts";
import { runShell } from "./shell.ts";
import { parseTarget } from "./target.ts";

/** Options of `fts connect`, already parsed. */
export interface ConnectCommandOptions extends CommandSettings {
  /** `HOST[:PORT]`. */
  target: string;
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
  const connect = () =>
    Connection.open(target, {
      onNotice: (notice) => reporter.info(`server: ${notice.message}`),
    });
  const print = (text: string) => {
    if (text !== "") console.log(text);
  };
  const connection = await connect();
  if (options.command.length === 0) {
    const encoder = new TextEncoder();
    const interactive = Deno.stdin.isTerminal();
    if (interactive) {
      console.log(
        `connected to ${connection.label} (${connection.welcome.agent}${
          connection.welcome.readOnly ? ", read-only" : ""
        }); type help for commands`,
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
