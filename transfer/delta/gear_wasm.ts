/**
 * The chunker of `gear.ts` compiled to WebAssembly (`gear.wat`, 1003 bytes,
 * inlined here so `deno compile` needs no extra file): it finds the
 * boundaries and hashes each chunk (XXH64) in one pass over a whole read
 * window per call. Each {@linkcode GearWindow} is an instance with its own
 * memory, which holds the gear table, the chunks found and the caller's
 * read window, so nothing is copied in.
 *
 * @module
 */

import { GEAR } from "./gear.ts";

const BYTES = Uint8Array.from(
  atob(
    "AGFzbQEAAAABFANgA39/fwF/YAJ+fgF+YAJ/fwF+AwYFAAEBAgAFAwEAQwZRB38AQYAIC38AQaCIBAt+AEKHla+vmLbem55/C34AQs/W077Sx6vZQgt+AEL5893xmfaZqxYLfgBC49zKlfzO8vWFfwt+AELFz9my8eW66icLBx4EBm1lbW9yeQIAA2N1dAAABGhhc2gAAwRzY2FuAAQKygYF8wIBBH8gAEGAgARqIQQgASAESQRAIAEhBAsgAEGA0ABqIQUgBCAFSQRAIAQhBQsgAEGAEGohAwJAA0AgA0ECaiAFSw0BIAZBAXQgAy0AoIgEQQJ0KAIAaiEGIAZBgIB4cUUEQCADQQFqDwsgBkEBdCADLQChiARBAnQoAgBqIQYgA0ECaiEDIAZBgIB4cQ0AIAMPCwsgAyAFSQRAIAZBAXQgAy0AoIgEQQJ0KAIAaiEGIANBAWohAyAGQYCAeHFFBEAgAw8LCwJAA0AgA0ECaiAESw0BIAZBAXQgAy0AoIgEQQJ0KAIAaiEGIAZBgICAf3FFBEAgA0EBag8LIAZBAXQgAy0AoYgEQQJ0KAIAaiEGIANBAmohAyAGQYCAgH9xDQAgAw8LCyADIARJBEAgBkEBdCADLQCgiARBAnQoAgBqIQYgA0EBaiEDIAZBgICAf3FFBEAgAw8LCyAEIABBgIAEakYEQCAEDwsgAgR/IAEFQX8LCxAAIAAgASMDfnxCH4kjAn4LEQAgAEIAIAEQAYUjAn4jBXwL4QICA38FfiMBIABqIQIjASABaiEDIAEgAGtBIE8EQCADQSBrIQQjAiMDfCEGIwMhB0IAIwJ9IQkDQCAGIAIpAwAQASEGIAcgAikDCBABIQcgCCACKQMQEAEhCCAJIAIpAxgQASEJIAJBIGohAiACIARNDQALIAZCAYkgB0IHiXwgCEIMiSAJQhKJfHwhBSAFIAYQAiEFIAUgBxACIQUgBSAIEAIhBSAFIAkQAiEFBSMGIQULIAUgASAAa618IQUCQANAIAJBCGogA0sNASAFQgAgAikDABABhUIbiSMCfiMFfCEFIAJBCGohAgwACwsgAkEEaiADTQRAIAUgAjUCACMCfoVCF4kjA34jBHwhBSACQQRqIQILAkADQCACIANPDQEgBSACMQAAIwZ+hUILiSMCfiEFIAJBAWohAgwACwsgBSAFQiGIhSMDfiEFIAUgBUIdiIUjBH4hBSAFIAVCIIiFC00BA38CQANAIAAgAU8NASAAIAEgAhAAIQQgBEEASA0BIwAgA0EEdGohBSAFIAQ2AgAgBSAAIAQQAzcDCCADQQFqIQMgBCEADAALCyADCw==",
  ),
  (char) => char.charCodeAt(0),
);

const module = new WebAssembly.Module(BYTES);

/** Where the chunks found are written (16 bytes each). */
const FOUND_AT = 1024;
/** Most chunks one scan can find: a full window of the smallest chunks. */
const MAX_FOUND = 4097;
/** Where the window starts in the instance's memory. */
const WINDOW_AT = 66592;

/** Bytes of data window one instance holds. */
export const WASM_WINDOW = 4 * 1024 * 1024;

interface Exports {
  memory: WebAssembly.Memory;
  cut: (start: number, end: number, last: number) => number;
  hash: (start: number, end: number) => bigint;
  scan: (start: number, end: number, last: number) => number;
}

/** A read window in WebAssembly memory, with the chunker over it. */
export class GearWindow {
  /** The window; fill it, then ask for boundaries and hashes in it. */
  readonly bytes: Uint8Array;
  #exports: Exports;
  #found: Uint32Array;

  constructor() {
    const instance = new WebAssembly.Instance(module, {});
    this.#exports = instance.exports as unknown as Exports;
    const buffer = this.#exports.memory.buffer;
    new Int32Array(buffer, 0, 256).set(GEAR);
    this.bytes = new Uint8Array(buffer, WINDOW_AT, WASM_WINDOW);
    this.#found = new Uint32Array(buffer, FOUND_AT, MAX_FOUND * 4);
  }

  /** What {@linkcode chunkEnd} returns for the window's `[start, end)`. */
  cut(start: number, end: number, last: boolean): number {
    return this.#exports.cut(start, end, last ? 1 : 0);
  }

  /** The 48-bit chunk hash of the window's `[start, end)`. */
  hash(start: number, end: number): number {
    return Number(this.#exports.hash(start, end) & 0xffffffffffffn);
  }

  /**
   * Cuts and hashes the chunks of the window's `[start, end)` from `start`
   * on, as far as boundaries can be told (to `end` when `last`); returns
   * how many were found. {@linkcode foundEnd} and {@linkcode foundHash}
   * read them until the next scan.
   */
  scan(start: number, end: number, last: boolean): number {
    return this.#exports.scan(start, end, last ? 1 : 0);
  }

  /** Where chunk `i` of the last scan ends in the window. */
  foundEnd(i: number): number {
    return this.#found[i * 4];
  }

  /** The 48-bit hash of chunk `i` of the last scan. */
  foundHash(i: number): number {
    const found = this.#found;
    return found[i * 4 + 2] + (found[i * 4 + 3] & 0xffff) * 0x100000000;
  }
}
