/**
 * The server's log: one line per connection and per operation. Control
 * characters in any field (a user name or client agent with a newline, say)
 * are written escaped, so a client cannot forge or break up log lines.
 *
 * @module
 */

/** What one log line records. */
export interface LogRecord {
  peer: string;
  op: string;
  path?: string;
  bytes?: number;
  ms?: number;
  result: string;
}

/** Writes log lines to a sink, or nowhere when quiet. */
export class ServerLog {
  #write: ((line: string) => void) | null;

  /** `write` receives each line without its newline; `null` silences the log. */
  constructor(write: ((line: string) => void) | null) {
    this.#write = write;
  }

  /** Logs one record. */
  record(record: LogRecord): void {
    if (!this.#write) return;
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
    const peer = record.peer.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+:)/i, "$1");
    const parts = [new Date().toISOString(), peer, record.op];
    if (record.path !== undefined) parts.push(JSON.stringify(record.path));
    if (record.bytes !== undefined) parts.push(`${record.bytes}B`);
    if (record.ms !== undefined) {
      parts.push(`${(record.ms / 1000).toFixed(3)}s`);
    }
    parts.push(record.result);
    this.#write(escapeControl(parts.join(" ")));
  }
}

/**
 * Returns `text` with C0 and C1 control characters, DEL and the Unicode line
 * and paragraph separators written as `\uXXXX`.
 */
export function escapeControl(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
