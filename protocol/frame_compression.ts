/**
 * zstd for body pieces: each DATA payload is compressed on its own (level 1,
 * one zstd frame per piece) so the receiver can decompress it alone, and a
 * piece that does not shrink is sent as it is. node:zlib's native zstd runs
 * at about 500 MB/s on text and passes random data at about 2.6 GB/s here,
 * where CompressionStream has no zstd and gzip enlarges random data (see
 * docs/performance.md).
 *
 * `zstdCompressSync` and `zstdDecompressSync` build a new zstd context and
 * new output buffers for every call: a 2 GiB transfer left ~1 GB of garbage
 * behind and peaked at 140–180 MiB per side. So one context per direction is
 * kept for the process and driven through the handle under node:zlib's
 * `createZstdCompress`/`createZstdDecompress` streams (`_handle.writeSync`, the call those
 * functions make themselves), writing straight into the caller's buffer (a
 * pooled one, with room for the frame header in front). Where that handle
 * is missing (another runtime), the one-shot functions are used instead.
 *
 * @module
 */

import {
  constants,
  createZstdCompress,
  createZstdDecompress,
  zstdCompressSync,
  zstdDecompressSync,
} from "node:zlib";
import type { BufferPool } from "./buffer_pool.ts";
import { ProtocolError } from "./errors.ts";
import { allocatePayload } from "./frame_encoder.ts";

const LEVEL_1 = { params: { [constants.ZSTD_c_compressionLevel]: 1 } };

/** The parts of a node:zlib stream that drive its native context. */
export interface ZlibEngine {
  _handle?: {
    writeSync(
      flush: number,
      input: Uint8Array,
      inOffset: number,
      inLength: number,
      output: Uint8Array,
      outOffset: number,
      outLength: number,
    ): void;
    reset(): void;
  };
  /** `[output bytes left, input bytes left]` after each `writeSync`. */
  _writeState?: Uint32Array;
  _finishFlushFlag?: number;
}

/** One reusable zstd context: a call returns what was left of each side. */
class Context {
  #engine: Required<ZlibEngine>;

  constructor(engine: Required<ZlibEngine>) {
    this.#engine = engine;
  }

  /** Starts a new frame and feeds it `input`; returns `[outLeft, inLeft]`. */
  run(input: Uint8Array, output: Uint8Array): [number, number] {
    this.#engine._handle.reset();
    return this.more(input, output);
  }

  /** Goes on with the current frame. */
  more(
    input: Uint8Array,
    output: Uint8Array,
    flush = this.#engine._finishFlushFlag,
  ): [number, number] {
    const { _handle, _writeState } = this.#engine;
    _handle.writeSync(
      flush,
      input,
      0,
      input.byteLength,
      output,
      0,
      output.byteLength,
    );
    return [_writeState[0], _writeState[1]];
  }

  /** The context of `engine`, or null when this runtime hides it. */
  static of(engine: ZlibEngine): Context | null {
    return typeof engine._handle?.writeSync === "function" &&
        typeof engine._handle.reset === "function" &&
        engine._writeState instanceof Uint32Array &&
        typeof engine._finishFlushFlag === "number"
      ? new Context(engine as Required<ZlibEngine>)
      : null;
  }
}

// Made on first use: most connections never compress.
let packer: Context | null | undefined;
let unpacker: Context | null | undefined;
const NOTHING = new Uint8Array(0);
/** Catches output still held after a piece filled its buffer exactly. */
const probe = new Uint8Array(1);

/**
 * Returns `payload` compressed, or `null` when that saves less than 1/32 of
 * it (then the raw piece is cheaper to send and to take in). The result is
 * written into `target` when it is given and large enough (a pooled buffer
 * from {@linkcode BufferPool.take}), else into a new buffer with room for a
 * frame header in front; either way it is a view that starts at the
 * buffer's payload offset, so it is framed without a copy.
 */
export function compressPayload(
  payload: Uint8Array,
  target?: Uint8Array,
): Uint8Array | null {
  const limit = payload.byteLength - (payload.byteLength >> 5);
  if (packer === undefined) {
    packer = Context.of(createZstdCompress(LEVEL_1) as ZlibEngine);
  }
  if (!packer) {
    const packed: Uint8Array = zstdCompressSync(payload, LEVEL_1);
    return packed.byteLength < limit ? packed : null;
  }
  const output = target && target.byteLength >= limit
    ? target.subarray(0, limit)
    : allocatePayload(limit);
  try {
    const [outLeft, inLeft] = packer.run(payload, output);
    // A full buffer means the frame did not fit under the limit.
    return outLeft > 0 && inLeft === 0
      ? output.subarray(0, limit - outLeft)
      : null;
  } catch (error) {
    throw new Error("zstd compression failed", { cause: error });
  }
}

/**
 * Returns the piece `payload` stands for: lent from `pool` when it fits one
 * of its buffers (give it back as any pooled DATA payload), else in a new
 * buffer.
 *
 * @throws {ProtocolError} when it is not zstd, or holds more than `limit`
 * bytes (no peer may make a receiver allocate more than a frame's worth).
 */
export function decompressPayload(
  payload: Uint8Array,
  limit: number,
  pool?: BufferPool,
): Uint8Array {
  try {
    if (unpacker === undefined) {
      unpacker = Context.of(createZstdDecompress() as ZlibEngine);
    }
    if (pool && unpacker && pool.size <= limit) {
      const buffer = pool.take();
      const [outLeft, inLeft] = unpacker.run(payload, buffer);
      // Done when all input went in and nothing more comes out; anything
      // else (a larger piece, trailing bytes) takes the one-shot path.
      if (
        inLeft === 0 &&
        (outLeft > 0 || unpacker.more(NOTHING, probe)[0] === probe.byteLength)
      ) {
        return pool.lend(buffer.subarray(0, buffer.byteLength - outLeft));
      }
      pool.give(pool.lend(buffer));
    }
    return zstdDecompressSync(payload, { maxOutputLength: limit });
  } catch (error) {
    throw new ProtocolError(
      error instanceof RangeError
        ? `a compressed frame holds more than ${limit} bytes`
        : "a compressed frame is not valid zstd",
      { cause: error },
    );
  }
}
