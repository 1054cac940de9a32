/**
 * The diff engine's public face (I/O-free): bytes in, bsdiff-style deltas out.
 *
 * A Delta is the classic bsdiff triple stream:
 *   ctrl  = (add, copy, seek) triples, as an Int32Array of length 3*k
 *   diff  = `add` bytes per triple: new[i] = old[pos+i] + diff[i] (mod 256)
 *   extra = `copy` bytes per triple, copied literally into the output
 * then the old position moves by `seek` (may be negative).
 * Sum of add+copy over all triples = new size; diff.length = sum(add),
 * extra.length = sum(copy).
 */
export interface Delta {
  ctrl: Int32Array;
  diff: Uint8Array;
  extra: Uint8Array;
}
