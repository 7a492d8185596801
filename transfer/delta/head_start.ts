/**
 * A sender's head start: while the receiver's summary is on its way, the
 * sender already cuts and hashes its own file (and feeds the whole-file
 * checksum), keeping only the chunk list. When the summary arrives the
 * encoder describes the chunks found so far from that list, reading back
 * only the few that turn out new, and carries on with the same reader: the
 * file is read once.
 *
 * @module
 */

import { IoError } from "../../protocol/errors.ts";
import { readFull } from "../file_chunks.ts";
import { ChunkReader, type ChunkSource } from "./chunk_reader.ts";
import { type ChunkSummary, SummaryBuilder } from "./summary.ts";

/** A source the encoder can read back from, like `Deno.FsFile`. */
export interface SeekableSource extends ChunkSource {
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
}

/** Chunks a source from its start until stopped (see the module doc). */
export class HeadStart {
  /** The reader, positioned after the last chunk listed. */
  readonly reader: ChunkReader;
  readonly source: SeekableSource;
  #builder = new SummaryBuilder();
  #stopping = false;
  #running: Promise<void>;

  /**
   * Starts chunking `source` from its current position, which must be its
   * start; `onBytes` sees every byte of every chunk listed, in order.
   */
  constructor(source: SeekableSource, onBytes: (bytes: Uint8Array) => void) {
    this.source = source;
    this.reader = new ChunkReader(source);
    this.#running = this.#run(onBytes);
    // Its failure is reported by stop().
    this.#running.catch(() => {});
  }

  /** The chunks listed so far (a copy); it goes on. */
  peek(): ChunkSummary {
    return this.#builder.finish();
  }

  /** How many chunks are listed so far. */
  get listed(): number {
    return this.#builder.count;
  }

  /** How many bytes the chunks listed so far cover. */
  get listedBytes(): number {
    return this.reader.position;
  }

  async #run(onBytes: (bytes: Uint8Array) => void): Promise<void> {
    while (!this.#stopping) {
      const chunk = await this.reader.next();
      if (chunk === null) return;
      onBytes(chunk.bytes);
      this.#builder.addKnown(chunk.hash, chunk.bytes.byteLength);
    }
  }

  /**
   * Stops after the chunk at hand; returns the chunks listed.
   *
   * @throws what reading the source threw.
   */
  async stop(): Promise<ChunkSummary> {
    this.#stopping = true;
    await this.#running;
    return this.#builder.finish();
  }
}

/**
 * Reads `length` bytes at `offset` of `source`, then puts its position back
 * where the reader left it.
 *
 * @throws {IoError} when the source is shorter now (it changed).
 */
export async function readBack(
  source: SeekableSource,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await readBackInto(source, offset, bytes);
  return bytes;
}

/** {@linkcode readBack} into `buffer` (its whole length). */
export async function readBackInto(
  source: SeekableSource,
  offset: number,
  buffer: Uint8Array,
): Promise<void> {
  const position = await source.seek(0, Deno.SeekMode.Current);
  await source.seek(offset, Deno.SeekMode.Start);
  const read = await readFull(source, buffer);
  await source.seek(position, Deno.SeekMode.Start);
  if (read !== buffer.byteLength) {
    throw new IoError(
      "the file changed while it was being sent; run the command again once it is complete",
    );
  }
}
