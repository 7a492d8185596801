/**
 * Streaming XXH3-128, the default end-to-end checksum of transfers.
 *
 * Two engines, one chosen at load: our own build of xxhash.h with the
 * accumulate step in WebAssembly SIMD128 (`xxh3_module.ts`, made by
 * `xxh3_wasm/build.sh`; about 0.06 s of CPU per GiB here), and where the
 * runtime has no WASM SIMD, `hash-wasm`'s scalar bundle
 * (`xxhash128.umd.min.js`, about 0.16 s per GiB, and it copies every byte
 * into its memory in 16 KiB pieces). Both are inlined as base64, so they
 * need no file, network or FFI permission and work under `deno compile`.
 * XXH3 is not a cryptographic hash: it catches damage in transit and on
 * disk, which is what a transfer checksum is for; SHA-256 stays available
 * with `--checksum sha256`.
 *
 * The SIMD engine hashes bytes that lie in its own memory where they lie:
 * a receiver that reads the socket into buffers from
 * {@linkcode hashableBuffer} pays no copy for the hash.
 *
 * One engine slot serves every running hash: it holds the state of the
 * hash that used it last, and a different hash swaps its own state in (580
 * bytes, hash-wasm's `save()` format in both engines, so states saved by
 * either load in the other) only when it takes a turn. One transfer at a
 * time thus never copies state.
 *
 * @module
 */

import { XXH3_WASM } from "./xxh3_module.ts";

/** Two hash states (slots) and what can be done with them. */
interface Engine {
  name: "wasm-simd" | "hash-wasm";
  reset(slot: number): void;
  update(slot: number, bytes: Uint8Array): void;
  /** The hex digest so far; the slot's hash goes on. */
  hex(slot: number): string;
  /** The state, in hash-wasm's `save()` format. */
  save(slot: number): Uint8Array;
  load(slot: number, state: Uint8Array): void;
  /** A buffer in the engine's memory, hashed without a copy; or null. */
  buffer(size: number): Uint8Array | null;
  /** Gives back a buffer from {@linkcode Engine.buffer}. */
  release(buffer: Uint8Array): void;
}

/** The first bytes of a hash-wasm XXH3-128 state ("6c7d9155"). */
const STATE_TAG = new Uint8Array([0x6c, 0x7d, 0x91, 0x55]);
/** Where XXH3_state_t keeps its secret's address, and hash-wasm's address. */
const SECRET_POINTER_AT = 560;
const HASH_WASM_SECRET = 65536;

const KIB = 1024;
const MIB = 1024 * KIB;
/** Bytes from outside the engine's memory are copied in this many at a time. */
const SCRATCH_SIZE = MIB;
/** Buffers handed out by the SIMD engine: slots of 1 MiB, this many. */
const ARENA_SLOTS = 16;

interface SimdExports {
  state_size(): number;
  reset(state: number): void;
  update(state: number, data: number, length: number): void;
  digest(state: number, out: number): void;
  __heap_base: WebAssembly.Global;
}

/** Our SIMD build, or null where this runtime lacks WebAssembly SIMD. */
function simdEngine(): Engine | null {
  const bytes = Uint8Array.from(atob(XXH3_WASM), (c) => c.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return null;
  const base = 64 * KIB;
  const arenaAt = 2 * MIB;
  const memory = new WebAssembly.Memory({
    initial: (arenaAt + ARENA_SLOTS * MIB) / (64 * KIB),
  });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { memory },
  });
  const wasm = instance.exports as unknown as SimdExports;
  const heap = wasm.__heap_base.value as number;
  const size = wasm.state_size();
  // Two 64-byte aligned states, the digest, then the scratch buffer.
  const states = [Math.max(heap + 63 & ~63, base), 0];
  states[1] = states[0] + (size + 63 & ~63);
  const out = states[1] + (size + 63 & ~63);
  const scratch = MIB;
  if (out + 16 > scratch || wasm.state_size() + 4 !== 580) return null;
  const memoryBytes = new Uint8Array(memory.buffer);
  const view = new DataView(memory.buffer);
  wasm.reset(states[0]);
  const ownSecret = view.getUint32(states[0] + SECRET_POINTER_AT, true);
  const free = new Array<boolean>(ARENA_SLOTS).fill(true);
  return {
    name: "wasm-simd",
    reset: (slot) => wasm.reset(states[slot]),
    update(slot, data) {
      if (data.buffer === memory.buffer) {
        wasm.update(states[slot], data.byteOffset, data.byteLength);
        return;
      }
      for (let at = 0; at < data.byteLength; at += SCRATCH_SIZE) {
        const piece = data.subarray(at, at + SCRATCH_SIZE);
        memoryBytes.set(piece, scratch);
        wasm.update(states[slot], scratch, piece.byteLength);
      }
    },
    hex(slot) {
      wasm.digest(states[slot], out);
      let hex = "";
      for (const byte of memoryBytes.subarray(out, out + 16)) {
        hex += byte.toString(16).padStart(2, "0");
      }
      return hex;
    },
    save(slot) {
      const state = new Uint8Array(4 + size);
      state.set(STATE_TAG);
      state.set(memoryBytes.subarray(states[slot], states[slot] + size), 4);
      new DataView(state.buffer).setUint32(
        4 + SECRET_POINTER_AT,
        HASH_WASM_SECRET,
        true,
      );
      return state;
    },
    load(slot, state) {
      checkState(state, 4 + size);
      memoryBytes.set(state.subarray(4), states[slot]);
      // The secret is the default one; point at our copy of it.
      view.setUint32(states[slot] + SECRET_POINTER_AT, ownSecret, true);
    },
    buffer(length) {
      const slots = Math.ceil(length / MIB);
      for (let first = 0; first + slots <= ARENA_SLOTS; first++) {
        if (free.slice(first, first + slots).every(Boolean)) {
          free.fill(false, first, first + slots);
          return new Uint8Array(memory.buffer, arenaAt + first * MIB, length);
        }
      }
      return null;
    },
    release(buffer) {
      if (buffer.buffer !== memory.buffer) return;
      const first = (buffer.byteOffset - arenaAt) / MIB;
      free.fill(true, first, first + Math.ceil(buffer.byteLength / MIB));
    },
  };
}

function checkState(state: Uint8Array, length: number): void {
  if (
    state.byteLength !== length ||
    !STATE_TAG.every((byte, i) => state[i] === byte)
  ) {
    throw new Error("not a saved XXH3-128 state");
  }
}

interface WasmHasher {
  init(): WasmHasher;
  update(data: Uint8Array): WasmHasher;
  digest(format: "hex"): string;
  save(): Uint8Array;
  load(state: Uint8Array): WasmHasher;
}

/**
 * hash-wasm's scalar XXH3-128: two instances for the two slots. Loaded only
 * where it is needed, so start-up does not parse it.
 */
async function hashWasmEngine(): Promise<Engine> {
  const xxhash128 = (await import("hash-wasm/xxhash128")).default;
  const create = (xxhash128 as {
    createXXHash128(): Promise<WasmHasher>;
  }).createXXHash128;
  const slots = [await create(), await create()];
  return {
    name: "hash-wasm",
    reset: (slot) => void slots[slot].init(),
    update: (slot, bytes) => void slots[slot].update(bytes),
    hex(slot) {
      const state = slots[slot].save();
      const hex = slots[slot].digest("hex");
      slots[slot].load(state);
      return hex;
    },
    save: (slot) => slots[slot].save(),
    load: (slot, state) => void slots[slot].load(state),
    buffer: () => null,
    release: () => {},
  };
}

/** `FTS_XXH3_SCALAR=1` takes hash-wasm's engine, to compare (or test it). */
const scalarAsked = (() => {
  try {
    return Deno.env.get("FTS_XXH3_SCALAR") === "1";
  } catch {
    return false; // No --allow-env: the default.
  }
})();

const engine: Engine = (scalarAsked ? null : simdEngine()) ??
  await hashWasmEngine();

/** Which engine hashes: `wasm-simd` (ours) or `hash-wasm` (the fallback). */
export const XXH128_ENGINE: Engine["name"] = engine.name;
/** The slot running hashes take turns on. */
const RUNNING = 0;
/**
 * The slot for whole buffers (the small files of a tree), so that hashing
 * one never swaps a running hash's state out and back.
 */
const WHOLE = 1;
engine.reset(RUNNING);
const EMPTY_STATE: Uint8Array = engine.save(RUNNING);
let owner: Xxh128 | null = null;

/** The XXH3-128 hex digest of `parts` one after the other. */
export function xxh128Of(parts: readonly Uint8Array[]): string {
  engine.reset(WHOLE);
  for (const part of parts) engine.update(WHOLE, part);
  return engine.hex(WHOLE);
}

/**
 * A buffer of `size` bytes that {@linkcode Xxh128.update} hashes without
 * copying it (it lies in the hash engine's memory), or a plain one when
 * none is free. Give it back with {@linkcode releaseHashable}.
 */
export function hashableBuffer(size: number): Uint8Array {
  return engine.buffer(size) ?? new Uint8Array(size);
}

/** Gives back a buffer from {@linkcode hashableBuffer} (once, then unused). */
export function releaseHashable(buffer: Uint8Array): void {
  engine.release(buffer);
}

/** A running XXH3-128 (seed 0), hex digests as `xxhsum -H2` prints them. */
export class Xxh128 {
  /** This hash's state while another hash holds the engine's slot. */
  #parked: Uint8Array | null = EMPTY_STATE;

  /** Adds `bytes` to the hash. */
  update(bytes: Uint8Array): this {
    this.#activate();
    engine.update(RUNNING, bytes);
    return this;
  }

  /** Continues the hash whose {@linkcode save} gave `state`. */
  static load(state: Uint8Array): Xxh128 {
    const hash = new Xxh128();
    hash.#parked = state.slice();
    return hash;
  }

  /** The hash's state so far, for {@linkcode load} (a resume on another server). */
  save(): Uint8Array {
    this.#activate();
    return engine.save(RUNNING);
  }

  /** Returns the lower-case hex digest so far; the hash stays usable. */
  hex(): string {
    this.#activate();
    return engine.hex(RUNNING);
  }

  #activate(): void {
    if (owner !== this) {
      if (owner) owner.#parked = engine.save(RUNNING);
      engine.load(RUNNING, this.#parked!);
      this.#parked = null;
      owner = this;
    }
  }
}
