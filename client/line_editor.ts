/**
 * The shell's line editing at a terminal, from `node:readline`: arrow keys,
 * history kept across sessions (in the configuration folder), Tab
 * completion, Ctrl-C that clears the line or stops the running command, and
 * Ctrl-D that leaves.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";

/** Lines kept in the history file. */
const HISTORY_SIZE = 1000;

/** Options for {@linkcode openLineEditor}. */
export interface LineEditorOptions {
  /** The history file; `undefined` keeps history for this session only. */
  historyFile?: string;
  /** The prompt, asked afresh before each line. */
  prompt: () => string;
  /** Completions of `line` and the part of it they replace. */
  complete: (line: string) => Promise<[string[], string]>;
}

/** A terminal line editor. */
export interface LineEditor {
  /** The lines typed; ends at Ctrl-D. */
  lines: AsyncIterable<string>;
  /** Sets what Ctrl-C does while a command runs (`null`: clear the line). */
  onInterrupt(handler: (() => void) | null): void;
  /**
   * Lends the terminal to another program (`!command`): line editing
   * pauses and the terminal leaves raw mode until the returned function is
   * called.
   */
  suspend(): () => void;
  /** Gives the terminal back. */
  close(): void;
}

/** Opens the line editor on stdin and stdout (both terminals). */
export function openLineEditor(options: LineEditorOptions): LineEditor {
  const history = readHistory(options.historyFile);
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    history: [...history].reverse(),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: (
      line: string,
      callback: (error: null, result: [string[], string]) => void,
    ) => {
      options.complete(line).then(
        (result) => callback(null, result),
        () => callback(null, [[], line]),
      );
    },
  });
  let interrupt: (() => void) | null = null;
  rl.on("SIGINT", () => {
    if (interrupt) {
      process.stdout.write("^C\n");
      interrupt();
      return;
    }
    // At the prompt, as in bash: abandon the line, show a fresh prompt.
    rl.write(null, { ctrl: true, name: "e" });
    rl.write(null, { ctrl: true, name: "u" });
    process.stdout.write("^C\n");
    rl.setPrompt(options.prompt());
    rl.prompt();
  });
  const waiting: ((line: string | null) => void)[] = [];
  const queued: (string | null)[] = [];
  const deliver = (line: string | null) => {
    const next = waiting.shift();
    if (next) next(line);
    else queued.push(line);
  };
  rl.on("line", (line: string) => {
    if (line.trim() !== "") appendHistory(options.historyFile, line);
    deliver(line);
  });
  rl.on("close", () => deliver(null));
  const nextLine = () =>
    queued.length > 0
      ? Promise.resolve(queued.shift()!)
      : new Promise<string | null>((resolve) => waiting.push(resolve));
  async function* lines(): AsyncGenerator<string> {
    while (true) {
      rl.setPrompt(options.prompt());
      rl.prompt();
      const line = await nextLine();
      if (line === null) {
        // Ctrl-D: end the prompt's line so the shell's prompt is left tidy.
        process.stdout.write("\n");
        return;
      }
      yield line;
    }
  }
  return {
    lines: lines(),
    onInterrupt: (handler) => interrupt = handler,
    suspend: () => {
      rl.pause();
      process.stdin.setRawMode?.(false);
      return () => {
        process.stdin.setRawMode?.(true);
        rl.resume();
      };
    },
    close: () => rl.close(),
  };
}

function readHistory(file: string | undefined): string[] {
  if (file === undefined) return [];
  try {
    const lines = Deno.readTextFileSync(file).split("\n").filter((line) =>
      line !== ""
    );
    const kept = lines.slice(-HISTORY_SIZE);
    // Appended to line by line; trimmed here, once it is twice too long.
    if (lines.length > 2 * HISTORY_SIZE) {
      Deno.writeTextFileSync(file, kept.join("\n") + "\n", { mode: 0o600 });
    }
    return kept;
  } catch {
    return [];
  }
}

function appendHistory(file: string | undefined, line: string): void {
  if (file === undefined) return;
  try {
    Deno.writeTextFileSync(file, line.replace(/\n/g, " ") + "\n", {
      append: true,
      mode: 0o600,
    });
  } catch {
    // No history is no reason to stop the shell.
  }
}
