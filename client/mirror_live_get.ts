/**
 * The remote side of `get -r --watch`: follows the server's `watch` stream
 * on a connection of its own and fetches each settled batch of changes:
 * files one by one (each lands atomically and verified, a partial resumes),
 * new folders as trees, and with `--delete` removes locally what was
 * deleted remotely. A burst larger than {@linkcode BURST} is one quick-check
 * mirror instead of a round trip per file.
 *
 * @module
 */

import { dirname, join, resolve } from "@std/path";
import * as posix from "@std/path/posix";
import { NotFoundError, WrongTypeError } from "../protocol/mod.ts";
import type { Connection } from "./connection.ts";
import { download } from "./download.ts";
import { mirrorGet } from "./mirror.ts";
import { SourceVanishedError } from "./mirror_errors.ts";
import { deleteLocal } from "./mirror_local.ts";
import type { Applied, LiveContext, LiveSide } from "./mirror_live_side.ts";
import { downloadTree } from "./tree_download.ts";
import { watchStream } from "./watch_command.ts";

/** Changed paths above which a batch is one whole quick-check mirror. */
const BURST = 256;

/** `get -r --watch REMOTE LOCAL`. */
export class GetSide implements LiveSide {
  readonly label: string;
  #remote: string;
  #root: string;
  #context: LiveContext;
  #watch: Connection | null = null;

  constructor(remote: string, local: string, context: LiveContext) {
    this.#remote = remote;
    this.#root = resolve(local);
    this.#context = context;
    this.label = `"${remote || "/"}" to "${local}"`;
  }

  catchUp(connection: Connection): Promise<unknown> {
    if (this.#context.mirror.delete) {
      return mirrorGet(this.#remote, this.#root, {
        ...this.#context,
        connection,
      });
    }
    return downloadTree(
      connection,
      this.#remote,
      this.#root,
      this.#context.options,
      this.#context.reporter,
    );
  }

  async follow(
    _connection: Connection,
    onChange: (path: string) => void,
    onBroken: (error: unknown) => void,
  ): Promise<void> {
    this.#watch?.abort();
    const open = this.#context.openExtra;
    if (!open) throw new Error("a live get needs a second connection");
    const watch = await open();
    this.#watch = watch;
    const { promise: ready, resolve: started, reject } = Promise
      .withResolvers<void>();
    watchStream(watch, this.#remote, () => started(), (change) => {
      onChange(change.path);
      if (change.to !== undefined) onChange(change.to);
    }).catch((error) => {
      reject(error);
      if (this.#watch === watch) onBroken(error);
    });
    await ready;
  }

  close(): void {
    this.#watch?.abort();
    this.#watch = null;
  }

  async apply(connection: Connection, batch: Set<string>): Promise<Applied> {
    await this.#checkSource(connection);
    const applied: Applied = { moved: [], deleted: [] };
    // A burst, or the folder itself changed (`""`: the server's watch
    // missed changes): one whole quick-check mirror.
    if (batch.size > BURST || batch.has("")) {
      await this.catchUp(connection);
      applied.moved = [...batch].filter((path) => path !== "");
      return applied;
    }
    const options = { ...this.#context.options, noClobber: false };
    for (const path of [...batch].sort()) {
      const remote = posix.join(this.#remote || ".", path);
      const local = join(this.#root, path);
      let type;
      try {
        type = (await connection.stat(remote, false, `get "${remote}"`)).type;
      } catch (error) {
        // Gone, or a parent became a file: either way no longer there.
        const gone = error instanceof NotFoundError ||
          error instanceof WrongTypeError;
        if (!gone) throw error;
        if (!this.#context.mirror.delete) continue;
        const result = await deleteLocal(this.#root, [
          { path, type: "file", size: 0, mtime: 0, mode: null },
        ]);
        if (result.deleted > 0) applied.deleted.push(path);
        continue;
      }
      if (type !== "file" && type !== "dir") continue;
      await this.#clearWay(path, type);
      if (type === "file") {
        await Deno.mkdir(dirname(local), { recursive: true });
        await download(connection, remote, local, options, this.#context.quiet);
        applied.moved.push(path);
      } else {
        await downloadTree(
          connection,
          remote,
          local,
          options,
          this.#context.quiet,
        );
      }
    }
    return applied;
  }

  /**
   * With `--delete`, removes a local entry of another type where `path`
   * comes (a folder where the server now has a file, or the other way
   * round), as a one-off mirror does.
   */
  async #clearWay(path: string, type: "file" | "dir"): Promise<void> {
    if (!this.#context.mirror.delete) return;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(join(this.#root, path));
    } catch {
      return;
    }
    const now = info.isDirectory ? "dir" : info.isFile ? "file" : "other";
    if (now === type) return;
    const result = await deleteLocal(this.#root, [
      {
        path,
        type: now === "dir" ? "dir" : "file",
        size: 0,
        mtime: 0,
        mode: null,
      },
    ]);
    for (const failure of result.failed) {
      this.#context.quiet.error?.(
        `cannot delete "${failure.path}": ${failure.reason}`,
      );
    }
  }

  /**
   * Ends the run with one line when the remote folder itself is gone:
   * following it is over, and nothing local is deleted for it.
   *
   * @throws {SourceVanishedError}
   */
  async #checkSource(connection: Connection): Promise<void> {
    const action = `get -r --watch "${this.#remote || "/"}"`;
    let type: string;
    try {
      type = (await connection.stat(this.#remote, false, action)).type;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      type = "none";
    }
    if (type !== "dir") {
      throw new SourceVanishedError(
        "the remote folder vanished; nothing was deleted locally",
        { action },
      );
    }
  }
}
