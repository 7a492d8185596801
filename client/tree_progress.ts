/**
 * Bookkeeping and reporting for `put -r` and `get -r`: files and bytes done,
 * the progress bar (files and bytes of total, current file, rate, ETA),
 * per-file failures reported by name as they happen, and the summary.
 *
 * @module
 */

import {
  type ErrorCode,
  errorFromWire,
  type FtsError,
  type TreeItem,
} from "../protocol/mod.ts";
import type { Checksum } from "../protocol/messages.ts";
import { DEFAULT_CHECKSUM } from "../transfer/hash/checksum.ts";
import { formatBytes } from "./format.ts";
import type { ProgressBar } from "./progress.ts";
import type { Reporter } from "./reporter.ts";
import type { TransferOptions } from "./options.ts";
import type { LocalTree } from "./tree_walk.ts";

/**
 * Connections a tree transfer uses unless told otherwise (`-P`). One: on
 * loopback and on a slow link alike, more connections did not make trees
 * faster (see the report in docs/protocol.md, "Trees").
 */
export const DEFAULT_PARALLEL = 1;

/** How to move a tree. */
export interface TreeOptions extends TransferOptions {
  /** Connections to use at once (`-P`); 1 when absent. */
  parallel?: number;
  /**
   * The command that resumes this transfer, when it is not the same one
   * (its target folder was made by this run); said when the link is lost.
   */
  rerun?: string;
  /** What `put -r` sends instead of walking `local` (a live mirror's changes). */
  tree?: LocalTree;
  /** Told the local tree `put -r` walked (a mirror computes deletions from it). */
  onLocalTree?: (tree: LocalTree) => void;
  /** Told the remote listing `get -r` works from (likewise). */
  onListing?: (items: TreeItem[]) => void | Promise<void>;
}

/** What a tree transfer did. */
export interface TreeResult {
  /** Files moved in this run. */
  files: number;
  /** Bytes of those files. */
  bytes: number;
  /** Files left alone because the receiver had them already. */
  upToDate: number;
  /** Files (and folders) that failed. */
  failed: number;
  /** Symlinks and special files that were not copied. */
  skipped: number;
  /**
   * Bytes of changed files taken from the other side's old versions
   * (deltas, docs/delta.md) instead of being sent.
   */
  reused: number;
}

/**
 * Counts what a tree transfer did and tells the user: skipped symlinks,
 * failures by name, progress, and the summary at the end.
 */
export class TreeTally {
  /** The running totals. */
  readonly result: TreeResult = {
    files: 0,
    bytes: 0,
    upToDate: 0,
    failed: 0,
    skipped: 0,
    reused: 0,
  };
  #reporter: Reporter;
  #verb: string;
  #bar: ProgressBar | null = null;
  #codes = new Set<ErrorCode>();
  #failedFolders = 0;
  /** Folders whose failure was said: what fails under them is only counted. */
  #brokenFolders = new Set<string>();
  /** What zstd did: `raw` bytes went as `wire` (`-z`). */
  #packed = { raw: 0, wire: 0 };

  /** `verb` is `put` or `get`, as failures are worded (`cannot put "a"`). */
  constructor(reporter: Reporter, verb: "put" | "get") {
    this.#reporter = reporter;
    this.#verb = verb;
  }

  /** Reports a symlink or special file that is not copied. */
  skip(item: TreeItem): void {
    this.result.skipped++;
    this.#reporter.info(
      item.type === "symlink"
        ? `skipped symlink "${item.path}" (symlinks are not copied)`
        : `skipped "${item.path}": not a regular file or folder`,
    );
  }

  /** Counts files that need not move (the summary says so, once). */
  upToDate(count: number): void {
    this.result.upToDate += count;
  }

  /** Starts the progress bar for `files` files of `bytes` bytes in all. */
  start(label: string, files: number, bytes: number): void {
    if (files === 0) return;
    this.#bar = this.#reporter.progress(label, bytes, 0);
    this.#bar?.countFiles(files);
  }

  /** Shows `path` as the file being moved. */
  current(path: string): void {
    this.#bar?.setLabel(path);
  }

  /** Counts `raw` bytes that went over the wire as `wire` (zstd). */
  compressed(raw: number, wire: number): void {
    this.#packed.raw += raw;
    this.#packed.wire += wire;
  }

  /** Counts bytes moved (sent or received). */
  moved(bytes: number): void {
    this.#bar?.advance(bytes);
  }

  /**
   * Counts bytes a delta took from the other side's old version; `advance`
   * moves the bar too (unless the bytes were counted as moved already).
   */
  reused(bytes: number, advance = true): void {
    this.result.reused += bytes;
    if (advance) this.#bar?.advance(bytes);
  }

  /** Counts one file settled in place. */
  done(bytes: number): void {
    this.result.files++;
    this.result.bytes += bytes;
    this.#bar?.advanceFiles(1);
  }

  /**
   * Reports one file that failed, and goes on. Under a folder that failed
   * (a file in the way of it, say) the file is counted but not named: the
   * folder's line said why.
   */
  fail(path: string, code: ErrorCode, reason: string): void {
    this.result.failed++;
    this.#bar?.advanceFiles(1);
    if (this.#underBroken(path)) this.#codes.add(code);
    else this.#report(path, code, reason);
  }

  /**
   * Reports one folder that failed (could not be read, made or given its
   * mode); counted apart from the files, and the rest goes on.
   */
  failFolder(path: string, code: ErrorCode, reason: string): void {
    this.#failedFolders++;
    if (this.#underBroken(path)) return void this.#codes.add(code);
    this.#brokenFolders.add(path);
    this.#report(path, code, reason);
  }

  /** Whether a folder above `path` failed (and said so). */
  #underBroken(path: string): boolean {
    if (this.#brokenFolders.size === 0) return false;
    for (let end = path.lastIndexOf("/"); end > 0;) {
      if (this.#brokenFolders.has(path.slice(0, end))) return true;
      end = path.lastIndexOf("/", end - 1);
    }
    return this.#brokenFolders.has("");
  }

  #report(path: string, code: ErrorCode, reason: string): void {
    this.#codes.add(code);
    const text = `cannot ${this.#verb} "${path || "."}": ${reason}`;
    if (this.#reporter.error) this.#reporter.error(text);
    else this.#reporter.info(text);
  }

  /** Reports a failure given as a typed error. */
  failWith(path: string, error: FtsError): void {
    this.fail(path, error.code, error.reason);
  }

  /** Removes the bar (before an error is shown). */
  clear(): void {
    this.#bar?.clear();
    this.#bar = null;
  }

  /**
   * Ends the bar, prints the summary and, if anything failed, throws one
   * typed error counting the failures out of `total`.
   *
   * @throws {FtsError} `cannot put -r "x": 2 of 10000 files failed`.
   */
  /** ` as 4.9 MiB (zstd)` when some of the bytes went compressed. */
  #wireText(): string {
    const { raw, wire } = this.#packed;
    if (raw === 0) return "";
    const moved = this.result.bytes - this.result.reused;
    return ` as ${formatBytes(Math.max(moved - raw + wire, 0))} (zstd)`;
  }

  finish(action: string, total: number): TreeResult {
    this.#bar?.finish();
    this.#bar = null;
    const { files, bytes, failed, upToDate } = this.result;
    const folders = this.#failedFolders;
    const foldersFailed = folders === 1 ? "1 folder" : `${folders} folders`;
    if (files === 0 && failed === 0 && folders === 0 && upToDate > 0) {
      this.#reporter.info(
        `all ${upToDate} ${
          upToDate === 1 ? "file" : "files"
        } already up to date`,
      );
    } else {
      this.#reporter.info(
        `${this.#verb === "put" ? "sent" : "received"} ${files} ${
          files === 1 ? "file" : "files"
        } (${formatBytes(bytes)}${this.#wireText()})${
          upToDate > 0 ? `, ${upToDate} already up to date` : ""
        }${
          this.result.reused > 0
            ? `, ${formatBytes(this.result.reused)} of it reused (delta)`
            : ""
        }${failed > 0 ? `, ${failed} failed` : ""}${
          folders > 0 ? `, ${foldersFailed} failed` : ""
        }`,
      );
    }
    if (failed > 0 || folders > 0) {
      const code = this.#codes.size === 1 ? [...this.#codes][0] : "io";
      const parts = [
        failed > 0
          ? `${failed} of ${total} ${total === 1 ? "file" : "files"}`
          : "",
        folders > 0 ? foldersFailed : "",
      ].filter((part) => part !== "");
      throw errorFromWire(
        { code, reason: `${parts.join(" and ")} failed` },
        action,
      );
    }
    return this.result;
  }
}

/**
 * The fields every tree request carries: whether to verify, and the
 * checksum asked for (XXH3-128 unless `--checksum` says otherwise).
 */
export function verifyFields(
  options: TreeOptions,
): { verify: boolean; checksum: Checksum } {
  return {
    verify: options.verify,
    checksum: options.checksum ?? DEFAULT_CHECKSUM,
  };
}
