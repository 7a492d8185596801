/**
 * The local side of `put -r --watch`: follows the local folder with
 * `Deno.watchFs` (inotify on Linux) and sends each settled batch of changes
 * as one tree upload of just those files (the server's quick check skips
 * what it has), then, with `--delete`, removes what left in one
 * `tree-delete`.
 *
 * @module
 */

import { join, resolve } from "@std/path";
import type { TreeItem } from "../protocol/mod.ts";
import { IoError, WrongTypeError } from "../protocol/mod.ts";
import type { Connection } from "./connection.ts";
import { deleteRemote, reportFailed } from "./mirror_delete.ts";
import { mirrorPut, requireDelete } from "./mirror.ts";
import type { Applied, LiveContext, LiveSide } from "./mirror_live_side.ts";
import { LocalScan } from "./local_scan.ts";
import { BurstCounter } from "../transfer/inotify_burst.ts";
import { SourceVanishedError } from "./mirror_errors.ts";
import { sendFiles } from "./mirror_send.ts";
import type { Reporter } from "./reporter.ts";
import { type LocalTree, treeItem, walkLocalTree } from "./tree_walk.ts";

/** How often the fallback scans the local folder. */
const SCAN_MS = 2000;

/** `put -r --watch LOCAL REMOTE`. */
export class PutSide implements LiveSide {
  readonly label: string;
  #local: string;
  #root: string;
  #remote: string;
  #context: LiveContext;
  #watcher: Deno.FsWatcher | null = null;
  #scan: LocalScan | null = null;
  /** Events since the last batch: a burst may have lost some. */
  #events = new BurstCounter();
  /** The last batch was a burst's. */
  #bursting = false;

  constructor(local: string, remote: string, context: LiveContext) {
    this.#local = local;
    this.#root = resolve(local);
    this.#remote = remote;
    this.#context = context;
    this.label = `"${local}" to "${remote}"`;
  }

  /** A quick-check mirror (large files resume, see `mirror_send.ts`). */
  catchUp(connection: Connection): Promise<unknown> {
    return mirrorPut(this.#root, this.#remote, {
      ...this.#context,
      connection,
    });
  }

  follow(_connection: Connection, onChange: (path: string) => void): void {
    if (this.#watcher || this.#scan) return;
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(this.#root, { recursive: true });
    } catch (error) {
      return this.#scanInstead(error, onChange);
    }
    this.#watcher = watcher;
    (async () => {
      try {
        for await (const event of watcher) {
          this.#events.add();
          // The kernel's event queue overflowed: changes went unseen.
          if (event.flag === "rescan") onChange("");
          for (const path of event.paths) {
            if (path.startsWith(`${this.#root}/`)) {
              onChange(path.slice(this.#root.length + 1));
            }
          }
        }
      } catch (error) {
        if (this.#watcher === watcher) this.#scanInstead(error, onChange);
      }
    })();
  }

  /** Falls back to a periodic scan, saying so once. */
  #scanInstead(error: unknown, onChange: (path: string) => void): void {
    this.#watcher = null;
    const text = error instanceof Error ? error.message : String(error);
    const why = /limit|space|ENOSPC|os error 28/i.test(text)
      ? "inotify ran out of watches (raise fs.inotify.max_user_watches)"
      : "inotify cannot watch it";
    this.#context.reporter.info(
      `${why}; scanning "${this.#root}" every ${SCAN_MS / 1000} s instead`,
    );
    this.#scan = new LocalScan(this.#root, SCAN_MS, onChange);
  }

  close(): void {
    this.#scan?.close();
    const watcher = this.#watcher;
    this.#watcher = null;
    try {
      watcher?.close();
    } catch {
      // Closed already.
    }
  }

  async apply(connection: Connection, batch: Set<string>): Promise<Applied> {
    this.#checkSource();
    // After a burst inotify may have dropped events (its queue is finite),
    // so a burst's batches, and the first batch after it, are whole
    // quick-check mirrors: that one starts after the last dropped event.
    const heavy = this.#events.take();
    if (batch.has("") || heavy || this.#bursting) {
      this.#bursting = heavy;
      return await this.#whole(connection, batch);
    }
    const { files, dirs, gone } = this.#describe(batch);
    const applied: Applied = { moved: [], deleted: [] };
    let whole = false;
    if (files.size > 0 || dirs.size > 0) {
      whole = await this.#send(connection, files, dirs);
      applied.moved = [...files.keys()];
    }
    // A whole mirror deleted what had to go already.
    if (this.#context.mirror.delete && gone.length > 0 && !whole) {
      applied.deleted = await this.#delete(connection, gone);
    }
    return applied;
  }

  /**
   * A whole quick-check mirror, for a batch from which inotify may have
   * dropped changes (a burst; said in one line when inotify said so).
   */
  async #whole(connection: Connection, batch: Set<string>): Promise<Applied> {
    if (batch.has("")) {
      this.#context.reporter.info(
        "the local watch missed changes (inotify's queue overflowed); catching up with a whole quick check",
      );
    }
    await mirrorPut(this.#root, this.#remote, {
      ...this.#context,
      connection,
      reporter: this.#context.quiet,
    });
    return { moved: [...batch].filter((path) => path !== ""), deleted: [] };
  }

  /**
   * Ends the run with one line when the local folder itself is gone (or is
   * no folder any more): following it is over, and nothing on the server
   * is deleted for it.
   *
   * @throws {SourceVanishedError}
   */
  #checkSource(): void {
    let folder = false;
    try {
      folder = Deno.statSync(this.#root).isDirectory;
    } catch {
      // Gone: said below.
    }
    if (!folder) {
      throw new SourceVanishedError(
        "the local folder vanished; nothing was deleted on the server",
        { action: `put -r --watch "${this.#local}"` },
      );
    }
  }

  /**
   * Sends changed files and folders in one tree upload. With `--delete`, a
   * batch that met an entry of another type (a folder where the server has
   * a file, say) is sent again as a whole quick-check mirror, which
   * replaces it (and says what still fails). Returns whether it came to
   * that.
   */
  async #send(
    connection: Connection,
    files: Map<string, TreeItem>,
    dirs: Map<string, TreeItem>,
  ): Promise<boolean> {
    const tree: LocalTree = {
      root: this.#root,
      dirs: [...dirs.values()],
      files: [...files.values()],
      skipped: [],
      unreadable: [],
      vanished: [],
    };
    // With --delete a batch that met an entry of another type is sent
    // again as a whole mirror, which says what still fails: this
    // attempt's lines are shown only when it is not.
    const lines: string[] = [];
    const held: Reporter = {
      info: () => {},
      error: (text) => void lines.push(text),
      progress: () => null,
    };
    const { delete: mirrorDelete } = this.#context.mirror;
    try {
      await sendFiles(this.#root, this.#remote, tree, {
        ...this.#context,
        connection,
        reporter: mirrorDelete ? held : this.#context.quiet,
      }, this.#context.reporter);
    } catch (error) {
      // A wrong type, alone or among other kinds (then "io"); a file that
      // vanished meanwhile, say, is no reason to walk the whole tree.
      const clash = error instanceof WrongTypeError || error instanceof IoError;
      if (!mirrorDelete || !clash) {
        for (const line of lines) this.#context.quiet.error?.(line);
        throw error;
      }
      await mirrorPut(this.#root, this.#remote, {
        ...this.#context,
        connection,
        reporter: this.#context.quiet,
      });
      return true;
    }
    return false;
  }

  /** What each changed path is now: files and folders to send, or gone. */
  #describe(batch: Set<string>) {
    const files = new Map<string, TreeItem>();
    const dirs = new Map<string, TreeItem>();
    const gone: string[] = [];
    for (const path of [...batch].sort()) {
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(join(this.#root, path));
      } catch {
        gone.push(path);
        continue;
      }
      if (info.isFile) files.set(path, treeItem(path, info));
      else if (info.isDirectory) {
        let sub: LocalTree;
        try {
          sub = walkLocalTree(join(this.#root, path));
        } catch {
          continue;
        }
        const under = (item: TreeItem) => ({
          ...item,
          path: item.path === "" ? path : `${path}/${item.path}`,
        });
        for (const dir of sub.dirs) dirs.set(under(dir).path, under(dir));
        for (const file of sub.files) files.set(under(file).path, under(file));
      }
    }
    return { files, dirs, gone };
  }

  /** Removes `gone` on the server in one round trip; returns what went. */
  async #delete(connection: Connection, gone: string[]): Promise<string[]> {
    const action = `put -r --watch --delete "${this.#root}"`;
    requireDelete(connection, action);
    const max = this.#context.mirror.maxDelete;
    if (max !== undefined && gone.length > max) {
      this.#context.reporter.error?.(
        `cannot delete: ${gone.length} entries would go, more than --max-delete ${max}; deleted nothing`,
      );
      return [];
    }
    if (!this.#context.mirror.force && this.#empty()) {
      this.#context.reporter.error?.(
        `cannot delete: the source is empty: this would delete ${gone.length} entries of "${this.#remote}"; add --force if that is meant`,
      );
      return [];
    }
    const reply = await deleteRemote(connection, this.#remote, gone, action);
    reportFailed(this.#context.reporter, reply.failed);
    const failed = new Set(reply.failed.map((failure) => failure.path));
    return gone.filter((path) => !failed.has(path));
  }

  /** Whether the local folder holds nothing (as a one-off mirror, emptying the target needs `--force`). */
  #empty(): boolean {
    try {
      for (const _ of Deno.readDirSync(this.#root)) return false;
    } catch {
      // Unreadable: #checkSource says so on the next batch.
    }
    return true;
  }
}
