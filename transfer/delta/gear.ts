/**
 * Content-defined chunk boundaries: FastCDC's gear hash with normalised
 * chunking (Xia et al., USENIX ATC '16). Both ends find the same boundaries
 * in the same bytes without talking, and an insert or a deletion moves only
 * the boundaries next to it, so unchanged content keeps its chunks wherever
 * it moved to.
 *
 * Chunks are 2 KiB to 64 KiB, about 11 KiB on average: small enough that a
 * 4 KiB edit costs about 21 KiB of new bytes, large enough that the list of
 * chunk hashes for 256 MiB stays near 150 KB (docs/delta.md has the sums).
 *
 * This is the reference: gear.wat does the same in WebAssembly and hashes
 * each chunk on the way; a test keeps the two in step.
 *
 * @module
 */

/** No boundary before this many bytes into a chunk. */
export const MIN_CHUNK = 2 * 1024;
/** Where the stricter mask gives way to the looser one. */
export const NORMAL_CHUNK = 10 * 1024;
/** A chunk ends here at the latest. */
export const MAX_CHUNK = 64 * 1024;

/**
 * Names the boundary rule (table, masks, sizes) and the chunk hash (XXH64).
 * Both ends must use the same one; a peer announcing another gets whole
 * files, and a record made with another is computed again.
 */
export const CHUNKING = "gear32-2k-10k-64k-xxh64";

// Before the normal size a cut needs 15 zero bits (1 in 32768 bytes), after
// it 11 (1 in 2048): chunk sizes bunch around the normal size. The top bits
// of the gear hash depend on the last 32 bytes, so they are the ones tested.
const MASK_SMALL = 0xfffe0000 | 0;
const MASK_LARGE = 0xffe00000 | 0;

/** 256 fixed random 32-bit words (mulberry32, seed 0x66747321: "fts!"). */
export const GEAR: Int32Array = (() => {
  const table = new Int32Array(256);
  let seed = 0x66747321;
  for (let i = 0; i < 256; i++) {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    table[i] = t ^ (t >>> 14);
  }
  return table;
})();

/**
 * The end (exclusive) of the chunk starting at `start` in `data[start, end)`.
 * Returns -1 when no boundary can be told yet (fewer than
 * {@linkcode MAX_CHUNK} bytes are at hand and more may follow); with `last`
 * set the data ends at `end`, which is then a boundary.
 */
export function chunkEnd(
  data: Uint8Array,
  start: number,
  end: number,
  last: boolean,
): number {
  const stop = Math.min(end, start + MAX_CHUNK);
  const normal = Math.min(stop, start + NORMAL_CHUNK);
  let hash = 0;
  let i = start + MIN_CHUNK;
  for (; i < normal; i++) {
    hash = ((hash << 1) + GEAR[data[i]]) | 0;
    if ((hash & MASK_SMALL) === 0) return i + 1;
  }
  for (; i < stop; i++) {
    hash = ((hash << 1) + GEAR[data[i]]) | 0;
    if ((hash & MASK_LARGE) === 0) return i + 1;
  }
  if (stop === start + MAX_CHUNK) return stop;
  return last ? end : -1;
}
