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

/**
 * The same delta with every match shorter than `minAdd` bytes (after the
 * first triple) turned into literal bytes of the triple before it. bsdiff
 * takes any match that pays in raw bytes; in prose (a changelog's new
 * entries) it finds thousands of 10-30 byte matches whose control triples
 * cost more, once compressed, than the bytes they save (libssl3's
 * changelog text: 2,571 triples, delta 11,094 -> 8,784 B at 32).
 * Memory: a second delta of the same size.
 */
export function foldShortMatches(old: Uint8Array, delta: Delta, minAdd: number): Delta {
  const { ctrl } = delta;
  const out: number[] = [];
  const diff = new Uint8Array(delta.diff.length);
  const extra = new Uint8Array(delta.diff.length + delta.extra.length);
  let [oldPos, diffPos, extraPos, diffOut, extraOut] = [0, 0, 0, 0, 0];
  for (let t = 0; t < ctrl.length; t += 3) {
    const [add, copy, seek] = [ctrl[t], ctrl[t + 1], ctrl[t + 2]];
    const n = out.length;
    if (add < minAdd && n > 0) {
      for (let j = 0; j < add; j++) extra[extraOut++] = (old[oldPos + j] + delta.diff[diffPos + j]) & 255;
      out[n - 2] += add + copy;
      out[n - 1] += add + seek;
    } else {
      diff.set(delta.diff.subarray(diffPos, diffPos + add), diffOut);
      diffOut += add;
      out.push(add, copy, seek);
    }
    extra.set(delta.extra.subarray(extraPos, extraPos + copy), extraOut);
    extraOut += copy;
    oldPos += add + seek;
    diffPos += add;
    extraPos += copy;
  }
  return { ctrl: Int32Array.from(out), diff: diff.slice(0, diffOut), extra: extra.slice(0, extraOut) };
}
