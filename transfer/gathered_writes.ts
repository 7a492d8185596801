/**
 * A receiver's hot path: a body read straight into two large buffers
 * (`MessageReader.bodyInto`), each full one written out as one large write
 * while the other fills, and hashed while its write runs. The socket reads
 * then land in the buffer that is written from (no copy in between), the
 * file gets a few large writes rather than one per frame, and the write
 * (on a thread of Deno's pool) overlaps the next reads and the hash (on
 * the main thread). The buffers lie in the XXH3 engine's memory when it
 * has room, so hashing them copies nothing. See docs/performance.md.
 *
 * @module
 */

import type { BodySink } from "../protocol/message_reader.ts";
import { writeAll } from "./file_body.ts";
import type { Hasher } from "./hash/hasher.ts";
import { hashableBuffer, releaseHashable } from "./hash/xxh128.ts";

/** Bytes per buffer: writes of this size cost the least per byte here. */
export const GATHER_SIZE = 4 * 1024 * 1024;

/**
 * A buffer holding at least this much is written after the read that
 * filled it: writes stay large (the floor of cost per byte is reached at
 * about 1 MiB), and what arrived reaches the file soon even while the
 * sender pauses, so an interrupted download keeps it for a resume.
 */
export const FLUSH_AT = 1024 * 1024;

/** Where {@linkcode GatheredWrites} puts each full buffer. */
export interface GatherTarget {
  /** Writes some of `bytes`; resolves to how many (as `Deno.FsFile.write`). */
  write(bytes: Uint8Array): Promise<number>;
}

/** Options for {@linkcode GatheredWrites}. */
export interface GatherOptions {
  /** Hashes every byte in order (its `update` gets views of the buffers). */
  hasher?: Hasher | null;
  /** Called with the count of each piece that arrives (progress). */
  onBytes?: (bytes: number) => void;
  /** Bytes per buffer; {@linkcode GATHER_SIZE} by default. */
  size?: number;
}

/**
 * A {@linkcode BodySink} writing to `target` in large writes, one buffer
 * behind the reads. Call {@linkcode finish} after the body to write the
 * rest and wait for every write.
 */
export class GatheredWrites implements BodySink {
  #target: GatherTarget;
  #hasher: Hasher | null;
  #onBytes: ((bytes: number) => void) | undefined;
  #buffers: [Uint8Array, Uint8Array];
  #current = 0;
  #fill = 0;
  /** The other buffer's write, still running; it rejects when it failed. */
  #writing: Promise<void> = Promise.resolve();
  /** The buffers went back to the hash engine (after finish or salvage). */
  #released = false;
  /** Bytes received so far. */
  bytes = 0;

  constructor(target: GatherTarget, options: GatherOptions = {}) {
    const size = options.size ?? GATHER_SIZE;
    this.#target = target;
    this.#hasher = options.hasher ?? null;
    this.#onBytes = options.onBytes;
    this.#buffers = [hashableBuffer(size), hashableBuffer(size)];
  }

  room(): Uint8Array {
    return this.#buffers[this.#current].subarray(this.#fill);
  }

  filled(n: number): Promise<void> | void {
    this.#fill += n;
    this.bytes += n;
    this.#onBytes?.(n);
    if (
      this.#fill >= FLUSH_AT ||
      this.#fill === this.#buffers[this.#current].byteLength
    ) {
      return this.#flush();
    }
  }

  /**
   * Writes what is gathered at each frame's end, as the frame-by-frame
   * receivers did: a sender that pauses there (or stalls) leaves nothing
   * held back. Frames of the buffers' size or a multiple (what senders
   * send) end where a buffer is full anyway, so this costs no extra writes.
   */
  frameEnd(): Promise<void> | void {
    if (this.#fill > 0) return this.#flush();
  }

  /**
   * Writes what is gathered and waits for every write to end; the sink is
   * spent then.
   */
  async finish(): Promise<void> {
    try {
      await this.#flush();
      await this.#writing;
    } finally {
      this.#release();
    }
  }

  /**
   * After a failure: writes what is gathered if the file still takes it
   * (so a partial download keeps every byte that arrived) and waits for
   * every write; never throws. The sink is spent then.
   */
  async salvage(): Promise<void> {
    if (this.#released) return;
    await this.finish().catch(() => {});
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const buffer of this.#buffers) releaseHashable(buffer);
  }

  /**
   * Starts writing the current buffer once the other one's write is done
   * (so writes stay in order and that buffer is free to fill), hashes it
   * meanwhile, and switches buffers.
   */
  async #flush(): Promise<void> {
    await this.#writing;
    if (this.#fill === 0) return;
    const full = this.#buffers[this.#current].subarray(0, this.#fill);
    this.#writing = writeAll(this.#target, full);
    // Rejections are seen at the next flush; none goes unhandled meanwhile.
    this.#writing.catch(() => {});
    this.#hasher?.update(full);
    this.#current = 1 - this.#current;
    this.#fill = 0;
  }
}
