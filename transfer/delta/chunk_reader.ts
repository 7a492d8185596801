/**
 * Reads a file as content-defined chunks, streaming: one 4 MiB window is
 * refilled as it is used, so memory stays the same for a file of any size
 * and no chunk's bytes are kept once it has been handed on.
 *
 * @module
 */

import { readFull } from "../file_chunks.ts";
import { MAX_CHUNK } from "./gear.ts";
import { GearWindow, WASM_WINDOW } from "./gear_wasm.ts";

/** Something to read bytes from, like the read side of `Deno.FsFile`. */
export interface ChunkSource {
  read(buffer: Uint8Array): Promise<number | null>;
}

const WINDOW = WASM_WINDOW;

/**
 * Reads `source`'s chunks from its current position to its end. Each chunk
 * is a view into the window, valid only until the next one is asked for;
 * `offset` is where it starts in the source. A reader that stops chunking
 * part-way takes {@linkcode ChunkReader.rest}: the bytes read ahead, after
 * which `source` continues.
 *
 * Given the source's chunks already (`cut`: found by an earlier pass, or
 * recorded), it cuts there and hands out their hashes instead of finding
 * and hashing them again; past the end of that list it finds them itself.
 */
export class ChunkReader {
  #source: ChunkSource;
  #gear = new GearWindow();
  #window = this.#gear.bytes;
  #filled = 0;
  #start = 0;
  #base = 0;
  #last = false;
  #cut: { lengths: Uint32Array; hashes: Float64Array; count: number } | null;
  #index = 0;
  /** Chunks the last scan found, and how many of them were handed out. */
  #found = 0;
  #foundAt = 0;

  constructor(
    source: ChunkSource,
    cut?: { lengths: Uint32Array; hashes: Float64Array; count: number },
  ) {
    this.#source = source;
    this.#cut = cut ?? null;
  }

  /**
   * The next chunk, or null at the end of the source, with its 48-bit hash
   * (found with it, or from the list given).
   */
  async next(): Promise<
    { bytes: Uint8Array; offset: number; hash: number } | null
  > {
    if (this.#foundAt === this.#found) await this.#scan();
    const start = this.#start;
    if (start === this.#filled) return null;
    const cut = this.#cut;
    let hash: number;
    let end: number;
    if (cut && this.#index < cut.count) {
      // A source that changed since may end early: the caller's size check
      // catches that.
      end = Math.min(start + cut.lengths[this.#index], this.#filled);
      hash = cut.hashes[this.#index++];
    } else {
      end = this.#gear.foundEnd(this.#foundAt);
      hash = this.#gear.foundHash(this.#foundAt++);
    }
    this.#start = end;
    return {
      bytes: this.#window.subarray(start, end),
      offset: this.#base + start,
      hash,
    };
  }

  /**
   * Refills the window when less than a chunk is left, and finds (in one
   * call into WebAssembly) every chunk it holds past the list given.
   */
  async #scan(): Promise<void> {
    if (!this.#last && this.#filled - this.#start < MAX_CHUNK) {
      const window = this.#window;
      window.copyWithin(0, this.#start, this.#filled);
      this.#base += this.#start;
      this.#filled -= this.#start;
      this.#start = 0;
      this.#filled += await readFull(
        this.#source,
        window.subarray(this.#filled),
      );
      this.#last = this.#filled < WINDOW;
    }
    this.#foundAt = 0;
    this.#found = 0;
    const cut = this.#cut;
    if (cut && this.#index < cut.count) return;
    if (this.#start === this.#filled) return;
    // At least one: MAX_CHUNK bytes are at hand unless at the end.
    this.#found = this.#gear.scan(this.#start, this.#filled, this.#last);
  }

  /** Where the next chunk (or {@linkcode rest}) starts in the source. */
  get position(): number {
    return this.#base + this.#start;
  }

  /** The bytes read ahead of the last chunk; the source goes on after them. */
  rest(): Uint8Array {
    return this.#window.subarray(this.#start, this.#filled);
  }
}

/** Yields the chunks of `source` (see {@linkcode ChunkReader}). */
export async function* readChunks(
  source: ChunkSource,
): AsyncGenerator<{ bytes: Uint8Array; offset: number; hash: number }> {
  const reader = new ChunkReader(source);
  for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
    yield chunk;
  }
}
