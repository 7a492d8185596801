/**
 * `fts connect HOST [COMMAND ...]`: one command, or the shell (at a
 * terminal, from `-b FILE`, or from commands piped in).
 *
 * @module
 */

import { TextLineStream } from "@std/streams";
import { configDir } from "../config/config_dir.ts";
import { passwordFromEnv } from "../config/password_env.ts";
import { AuthError } from "../protocol/mod.ts";
import {
  checkCommand,
  CommandRunner,
  type CommandSettings,
} from "./commands.ts";
import { Connection } from "./connection.ts";
import { applyAlias, hostConfigFile, readHostConfig } from "./host_config.ts";
import { askToTrust } from "./host_trust.ts";
import { openLineEditor } from "./line_editor.ts";
import { askPassword } from "./password_prompt.ts";
import { StreamReporter } from "./reporter.ts";
import { safeText } from "./safe_text.ts";
import { runShell, Shell } from "./shell.ts";
import { parseTarget, type Target } from "./target.ts";
import { type TlsSettings, TransportOpener } from "./tls_connect.ts";
import { InterruptedError } from "./interrupted_error.ts";
import { localError } from "./local_errors.ts";

/** Passwords a person at a terminal may type before fts gives up (ssh's 3). */
const PASSWORD_TRIES = 3;

/** Options of `fts connect`, already parsed. */
export interface ConnectCommandOptions extends CommandSettings {
  /** `[USER@]HOST[:PORT]`, or an alias from the config file. */
  target: string;
  /** TLS: `--tls`, `--fingerprint`, `--ca`. */
  tls?: Omit<TlsSettings, "ask">;
  /** The command and its arguments; empty opens the shell. */
  command: string[];
  /** Print nothing but errors and command output. */
  quiet: boolean;
  /** Say more: the connection made, its TLS and login. */
  verbose?: boolean;
  /** Run the shell commands in this file (`-` is stdin), stopping at an error. */
  batch?: string;
  /** Give up on a link that moves nothing for this long. Default 30 s. */
  timeoutMs?: number;
}

/** Runs one command or the shell; throws typed errors on failure. */
export async function connectCommand(
  options: ConnectCommandOptions,
): Promise<void> {
  const [name, ...args] = options.command;
  // Checked before connecting, and before any password is asked for.
  if (name !== undefined) checkCommand(name, args);
  const { target: text, alias } = applyAlias(
    options.target,
    await readHostConfig(configFile()),
  );
  const target = parseTarget(text);
  const reporter = StreamReporter.forStderr(options.quiet);
  const given = options.tls ?? {};
  const fromCommandLine = given.tls || given.fingerprint !== undefined ||
    given.caFile !== undefined;
  const transport = new TransportOpener({
    ...(fromCommandLine || !alias ? given : {
      tls: alias.tls,
      fingerprint: alias.fingerprint,
      caFile: alias.ca,
    }),
    timeoutMs: options.timeoutMs,
    // Only a person at a terminal can decide to trust a new server.
    ask: Deno.stdin.isTerminal() ? askToTrust : undefined,
    onRemembered: (label, fingerprint, file) =>
      reporter.info(`added ${label} (${fingerprint}) to ${file}`),
  });
  const connect = connector(target, transport, reporter, options.timeoutMs);
  const print = (text: string) => {
    if (text !== "") console.log(text);
  };
  const connection = await connect();
  const interactive = options.batch === undefined && Deno.stdin.isTerminal();
  if ((interactive && name === undefined) || options.verbose) {
    const details = [
      safeText(connection.welcome.agent),
      connection.tls ? "TLS" : "",
      connection.user === undefined ? "" : `as ${connection.user}`,
      connection.readOnly ? "read-only" : "",
    ].filter((part) => part !== "").join(", ");
    const line = `connected to ${connection.label} (${details})`;
    if (name === undefined && interactive) {
      console.log(`${line}; type help for commands`);
    } else reporter.info(line);
  }
  if (name !== undefined) {
    await runOnce(connection, connect, reporter, print, options);
    return;
  }
  const printError = (text: string) => console.error(`fts: ${text}`);
  if (!interactive) {
    const shell = new Shell(connection, connect, reporter, options, {
      print,
      printError,
      batch: true,
    });
    await runShell(shell, batchLines(options.batch));
    return;
  }
  // The editor asks the shell for prompts and completions; the shell tells
  // the editor what Ctrl-C does.
  const shell = new Shell(connection, connect, reporter, options, {
    print,
    printError,
    batch: false,
    onInterrupt: (handler) => editor.onInterrupt(handler),
    suspendTerminal: () => editor.suspend(),
  });
  const editor = openLineEditor({
    historyFile: historyFile(),
    prompt: () => shell.prompt(),
    complete: (line) => shell.complete(line),
  });
  try {
    await runShell(shell, editor.lines);
  } finally {
    editor.close();
  }
}

/**
 * What opens a connection to `target`, logging in when asked. The password
 * is asked once: the shell's reconnects and --parallel's extra connections
 * reuse it. Typed at a terminal, it may be wrong twice, as with ssh.
 */
function connector(
  target: Target,
  transport: TransportOpener,
  reporter: StreamReporter,
  timeoutMs: number | undefined,
): () => Promise<Connection> {
  let password: string | undefined;
  return async () => {
    for (let attempt = 1;; attempt++) {
      let typed: string | undefined;
      try {
        const connection = await Connection.open(target, {
          onNotice: (notice) => reporter.info(`server: ${notice.message}`),
          transport,
          timeoutMs,
          password: (user, label) =>
            typed = password ?? askPassword(user, label),
        });
        password ??= typed;
        return connection;
      } catch (error) {
        const mayRetry = error instanceof AuthError && password === undefined &&
          typed !== undefined && passwordFromEnv() === undefined;
        if (!mayRetry || attempt >= PASSWORD_TRIES) throw error;
        console.error("Permission denied, please try again.");
      }
    }
  };
}

/**
 * Runs the one command of `options` on `connection`. Ctrl-C stops it as in
 * the shell: the connections are cut, the partial transfer is kept, and the
 * same line is printed (a second Ctrl-C ends fts at once).
 */
async function runOnce(
  connection: Connection,
  connect: () => Promise<Connection>,
  reporter: StreamReporter,
  print: (text: string) => void,
  options: ConnectCommandOptions,
): Promise<void> {
  const [name, ...args] = options.command;
  const extra = new Set<Connection>();
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    connection.abort();
    for (const other of extra) other.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    await new CommandRunner(connection, reporter, print, false, async () => {
      const other = await connect();
      extra.add(other);
      return other;
    }).run(name, args, options);
  } catch (error) {
    if (!interrupted) throw error;
    throw new InterruptedError(
      name === "put" || name === "get"
        ? "interrupted; the partial transfer is kept, so the same command resumes"
        : "interrupted",
    );
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    for (const other of extra) await other.close().catch(() => {});
    await connection.close();
  }
}

/** The lines of `file` (`-` or absent: stdin). */
async function* batchLines(file: string | undefined): AsyncGenerator<string> {
  let input = Deno.stdin.readable;
  if (file !== undefined && file !== "-") {
    try {
      input = (await Deno.open(file)).readable;
    } catch (error) {
      throw localError(error, `read batch file "${file}"`);
    }
  }
  const lines: ReadableStream<string> = input
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new TextLineStream());
  yield* lines;
}

/** The host config file, or none without a configuration folder. */
function configFile(): string | undefined {
  try {
    return hostConfigFile();
  } catch {
    return undefined;
  }
}

function historyFile(): string | undefined {
  try {
    const folder = configDir();
    Deno.mkdirSync(folder, { recursive: true, mode: 0o700 });
    return `${folder}/history`;
  } catch {
    return undefined;
  }
}
