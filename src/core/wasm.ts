// PLACEHOLDER: the real loader is being written; this states the contract.
import type { Delta } from './index.js';

export interface DiffCore {
  /** Suffix array of `text` (used by tests): SA[i] = start of the i-th smallest suffix. */
  suffixArray(text: Uint8Array): Int32Array;
  /** bsdiff delta turning `old` into `neu`. */
  diff(old: Uint8Array, neu: Uint8Array): Delta;
  /** Apply a delta; throws PatcherError (code BAD_PATCH) on a hostile or inconsistent delta. */
  patch(old: Uint8Array, delta: Delta, newSize: number): Uint8Array;
  /** Same, yielding output in chunks of at most chunkSize bytes (each chunk is a fresh copy). */
  patchChunks(old: Uint8Array, delta: Delta, newSize: number, chunkSize?: number): Generator<Uint8Array>;
  /** Current size of the WASM linear memory in bytes (it never shrinks: this is the peak). */
  memoryBytes(): number;
}

export async function loadCore(): Promise<DiffCore> {
  throw new Error('not yet');
}
