/**
 * Live mirror (`put -r --watch`, `get -r --watch`): the first mirror, then
 * the target kept in step with the source's changes until Ctrl-C.
 *
 * Changes gather in a {@linkcode Debouncer} and go in settled batches. A
 * dead link or a restarted server never ends the run: the loop says so on
 * one line, reconnects with backoff (0.5 s doubling to 5 s), catches up
 * with a whole quick-check mirror (a batch that was cut off is sent again
 * with it) and goes on. Ctrl-C stops at once: a transfer in flight is cut
 * off, and since every file is staged until whole and verified on both
 * ends, no partial file is ever left under a target name. A summary line
 * comes every minute there was something to do, and with `-v` a line per
 * file.
 *
 * @module
 */

import { resolve } from "@std/path";
import * as posix from "@std/path/posix";
import { ConnectionError, FtsError } from "../protocol/mod.ts";
import type { Connection } from "./connection.ts";
import type { MirrorContext } from "./mirror.ts";
import type { MirrorFlags } from "./mirror_command.ts";
import { SourceVanishedError } from "./mirror_errors.ts";
import { lockTarget } from "./mirror_lock.ts";
import { GetSide } from "./mirror_live_get.ts";
import { PutSide } from "./mirror_live_put.ts";
import type { Applied, LiveContext, LiveSide } from "./mirror_live_side.ts";
import type { Reporter } from "./reporter.ts";
import { Debouncer } from "./watch_debounce.ts";

/** Quiet time before a batch goes (a file still being written waits). */
const SETTLE_MS = 150;

/** Longest a batch waits after its first change. */
const MAX_WAIT_MS = 2000;

/** Reconnect backoff: first and longest pause. */
const BACKOFF_MS = { first: 500, max: 5000 };

/** A quiet connection is used this often (servers close idle ones). */
const KEEPALIVE_MS = 30_000;

/** How often the summary line comes (when there was something to do). */
const SUMMARY_MS = 60_000;

/** Runs a live mirror of `source` onto `target` until Ctrl-C. */
export async function liveMirror(
  direction: "put" | "get",
  source: string,
  target: string,
  context: MirrorContext & { mirror: MirrorFlags },
): Promise<void> {
  const action = `${direction} -r --watch "${source}"`;
  const key = direction === "put"
    ? `put ${context.connection.label} ${remoteKey(target)}`
    : `get ${resolve(target)}`;
  const release = await lockTarget(key, action);
  const live: LiveContext = { ...context, quiet: errorsOnly(context.reporter) };
  const side = direction === "put"
    ? new PutSide(source, target, live)
    : new GetSide(source, target, live);
  try {
    await new LiveLoop(side, live).run();
  } finally {
    side.close();
    release?.();
  }
}

/** The loop of one live mirror. */
class LiveLoop {
  #side: LiveSide;
  #context: LiveContext;
  #connection: Connection;
  #changes = new Debouncer({ settleMs: SETTLE_MS, maxWaitMs: MAX_WAIT_MS });
  #stopped = false;
  #broken: unknown = undefined;
  #wake: (() => void) | null = null;
  #period = { moved: 0, deleted: 0 };
  #total = { moved: 0, deleted: 0 };

  constructor(side: LiveSide, context: LiveContext) {
    this.#side = side;
    this.#context = context;
    this.#connection = context.connection;
  }

  async run(): Promise<void> {
    const stop = () => this.#stop();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    // The shell turns Ctrl-C into this signal (its terminal takes the key).
    const interrupt = this.#context.options.interrupt;
    interrupt?.addEventListener("abort", stop);
    const summary = setInterval(() => this.#summary(), SUMMARY_MS);
    const { reporter } = this.#context;
    try {
      if (!await this.#attempt(() => this.#side.catchUp(this.#connection))) {
        await this.#reconnect();
      }
      if (!this.#stopped) await this.#follow();
      reporter.info(
        `following ${this.#side.label}; Ctrl-C stops (no partial file is ever left under a target name)`,
      );
      while (!this.#stopped) {
        const batch = await this.#changes.next(KEEPALIVE_MS);
        if (this.#stopped) break;
        if (this.#broken !== undefined) {
          this.#changes.putBack(batch);
          await this.#reconnect();
          continue;
        }
        if (batch.size === 0) {
          // Quiet: a request now and then keeps the server from closing
          // the connection as idle, and finds a dead link early.
          if (!await this.#attempt(() => this.#connection.stat(""))) {
            await this.#reconnect();
          }
          continue;
        }
        if (!await this.#attempt(() => this.#apply(batch))) {
          this.#changes.putBack(batch);
          await this.#reconnect();
        }
      }
    } finally {
      clearInterval(summary);
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      interrupt?.removeEventListener("abort", stop);
      this.#connection.abort();
    }
    const { moved, deleted } = this.#total;
    reporter.info(
      `stopped: ${moved} ${
        moved === 1 ? "file" : "files"
      } copied, ${deleted} deleted while following`,
    );
  }

  #stop(): void {
    this.#stopped = true;
    this.#connection.abort();
    this.#side.close();
    this.#changes.interrupt();
    this.#wake?.();
  }

  async #follow(): Promise<void> {
    this.#broken = undefined;
    await this.#side.follow(
      this.#connection,
      (path) => this.#changes.add(path),
      (error) => {
        if (this.#stopped) return;
        this.#broken = error;
        this.#changes.interrupt();
      },
    );
  }

  async #apply(batch: Set<string>): Promise<void> {
    const applied: Applied = await this.#side.apply(this.#connection, batch);
    const verbose = this.#context.mirror.verbose;
    const verb = this.#side instanceof PutSide ? "sent" : "received";
    for (const path of applied.moved) {
      if (verbose) this.#context.reporter.info(`${verb} ${path}`);
    }
    for (const path of applied.deleted) {
      if (verbose) this.#context.reporter.info(`deleted ${path}`);
    }
    this.#period.moved += applied.moved.length;
    this.#period.deleted += applied.deleted.length;
    this.#total.moved += applied.moved.length;
    this.#total.deleted += applied.deleted.length;
  }

  /**
   * Runs `step`; returns false when the link died (the caller reconnects).
   * Other failures (a file that vanished, a refused deletion) are reported
   * and the loop goes on.
   */
  async #attempt(step: () => Promise<unknown>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      if (this.#stopped) return true;
      if (lostLink(error)) {
        this.#broken = error;
        return false;
      }
      if (!(error instanceof FtsError)) throw error;
      // Nothing left to follow: the run ends with its one line.
      if (error instanceof SourceVanishedError) throw error;
      this.#context.reporter.error?.(error.message);
      return true;
    }
  }

  /** Reconnects with backoff until it works (or Ctrl-C), then catches up. */
  async #reconnect(): Promise<void> {
    const { reporter, openExtra } = this.#context;
    const label = this.#context.connection.label;
    if (!openExtra) throw this.#broken;
    reporter.info(
      `lost the link to ${label} (${reason(this.#broken)}); reconnecting`,
    );
    this.#connection.abort();
    let delay = BACKOFF_MS.first;
    while (!this.#stopped) {
      try {
        this.#connection = await openExtra();
        this.#broken = undefined;
        if (await this.#attempt(() => this.#side.catchUp(this.#connection))) {
          if (this.#broken === undefined && !this.#stopped) {
            await this.#follow();
            reporter.info(`reconnected to ${label}; caught up`);
            return;
          }
        }
      } catch (error) {
        if (!lostLink(error)) throw error;
      }
      this.#connection.abort();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, delay);
      });
      this.#wake = null;
      delay = Math.min(delay * 2, BACKOFF_MS.max);
    }
  }

  #summary(): void {
    const { moved, deleted } = this.#period;
    if (moved === 0 && deleted === 0) return;
    this.#context.reporter.info(
      `live mirror: ${moved} ${
        moved === 1 ? "file" : "files"
      } copied, ${deleted} deleted in the last minute`,
    );
    this.#period = { moved: 0, deleted: 0 };
  }
}

/** A remote folder as one key however written (`site`, `./site/`). */
function remoteKey(target: string): string {
  return posix.normalize(target || ".").replace(/\/+$/, "") || "/";
}

/** Whether `error` means the link (or the server) is gone. */
function lostLink(error: unknown): boolean {
  return error instanceof ConnectionError ||
    (!(error instanceof FtsError) && error instanceof Deno.errors.BadResource);
}

function reason(error: unknown): string {
  if (error instanceof FtsError) return error.reason;
  return error instanceof Error ? error.message : String(error);
}

/** A reporter that shows errors only (the transfers of each batch). */
function errorsOnly(reporter: Reporter): Reporter {
  return {
    info: () => {},
    error: (text) =>
      reporter.error ? reporter.error(text) : reporter.info(text),
    progress: () => null,
  };
}
