// The SA-IS suffix sort against a naive sort, on random, edge and periodic inputs.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore } from '../../src/core/index.js';
import { prng } from '../../src/image/sample.js';

/** Uniform in [0, 1) from the seeded uint32 generator. */
const uniform = (seed: number) => {
  const next = prng(seed);
  return () => next() / 2 ** 32;
};

/** Suffix order by direct comparison (a shorter suffix that is a prefix sorts first). */
function naiveSuffixArray(t: Uint8Array): number[] {
  const idx = Array.from(t.keys());
  return idx.sort((a, b) => {
    const n = Math.min(t.length - a, t.length - b);
    for (let i = 0; i < n; i++) if (t[a + i] !== t[b + i]) return t[a + i] - t[b + i];
    return t.length - a - (t.length - b);
  });
}

/**
 * An exact linear check of a suffix array: a permutation, and neighbours
 * a < b in it have t[a] < t[b], or t[a] = t[b] and suffix a+1 before b+1.
 */
function checkSuffixArray(t: Uint8Array, sa: ArrayLike<number>): void {
  expect(sa.length).toBe(t.length);
  const rank = new Int32Array(t.length + 1).fill(-1);
  for (let i = 0; i < sa.length; i++) rank[sa[i]] = i;
  expect(rank.subarray(0, t.length).includes(-1)).toBe(false);
  for (let i = 1; i < sa.length; i++) {
    const [a, b] = [sa[i - 1], sa[i]];
    const ok = t[a] < t[b] || (t[a] === t[b] && (a + 1 === t.length || (b + 1 < t.length && rank[a + 1] < rank[b + 1])));
    if (!ok) expect.fail(`n = ${t.length}: suffixes ${a} and ${b} out of order at ${i}`);
  }
}

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

describe('suffix array', () => {
  it('matches a naive sort on thousands of random inputs over small and full alphabets', () => {
    const rand = uniform(42);
    for (let trial = 0; trial < 3000; trial++) {
      const n = Math.floor(rand() * 400);
      const k = [1, 2, 3, 4, 16, 256][trial % 6];
      const t = Uint8Array.from({ length: n }, () => Math.floor(rand() * k));
      expect(Array.from(core.suffixArray(t))).toEqual(naiveSuffixArray(t));
    }
  });

  it('handles the edge cases: empty, one byte, one byte repeated, periodic', () => {
    const cases = [
      new Uint8Array(0),
      Uint8Array.of(7),
      new Uint8Array(1000).fill(0),
      new Uint8Array(1001).fill(255),
      Uint8Array.from({ length: 999 }, (_, i) => i % 3),
      Uint8Array.from({ length: 1024 }, (_, i) => [1, 0, 0, 1, 0][i % 5]),
      Uint8Array.from({ length: 2000 }, (_, i) => (i < 1000 ? 5 : 4)),
      Uint8Array.from({ length: 777 }, (_, i) => 255 - (i % 256)),
    ];
    for (const t of cases) expect(Array.from(core.suffixArray(t))).toEqual(naiveSuffixArray(t));
  });

  it('sorts a large input correctly (checked pairwise on neighbours)', () => {
    const rand = uniform(7);
    const base = Uint8Array.from({ length: 50_000 }, () => Math.floor(rand() * 256));
    const t = new Uint8Array(400_000);
    for (let i = 0; i < t.length; i += base.length) t.set(base.subarray(0, Math.min(base.length, t.length - i)), i);
    for (let i = 0; i < 2000; i++) t[Math.floor(rand() * t.length)] ^= 1;
    const sa = core.suffixArray(t);
    expect(new Set(sa).size).toBe(t.length);
    for (let i = 1; i < sa.length; i += 97) {
      const [a, b] = [sa[i - 1], sa[i]];
      let j = 0;
      while (a + j < t.length && b + j < t.length && t[a + j] === t[b + j]) j++;
      const aSmaller = a + j === t.length || (b + j < t.length && t[a + j] < t[b + j]);
      expect(aSmaller).toBe(true);
    }
  });

  // Inputs that walk the branches of sais.ts: word boundaries of the type
  // bits (lengths around 32 and 64), runs that fill whole buckets, periodic
  // strings whose LMS substrings all repeat (the recursion on all of them, at
  // i32 chars, possibly several levels deep), and repeated random blocks
  // (unique and repeated LMS substrings mixed: the recursion on the repeated
  // ones only).
  it('matches a naive sort on every length 0..200 of all-equal, alternating and two-run strings', () => {
    for (let n = 0; n <= 200; n++) {
      const shapes = [
        new Uint8Array(n).fill(9),
        Uint8Array.from({ length: n }, (_, i) => i & 1),
        Uint8Array.from({ length: n }, (_, i) => ((i & 1) ? 0 : 255)),
        Uint8Array.from({ length: n }, (_, i) => (i < n / 2 ? 1 : 0)),
        Uint8Array.from({ length: n }, (_, i) => (i % 3 === 2 ? 0 : 1)),
      ];
      for (const t of shapes) expect(Array.from(core.suffixArray(t))).toEqual(naiveSuffixArray(t));
    }
  });

  it('matches a naive sort on Fibonacci, Thue-Morse and period-doubling words of many lengths', () => {
    const fib = ['a', 'ab'];
    while (fib[fib.length - 1].length < 5000) fib.push(fib[fib.length - 1] + fib[fib.length - 2]);
    const fibWord = Uint8Array.from(fib[fib.length - 1], (ch) => ch.charCodeAt(0));
    const popcount = (x: number) => { let c = 0; for (; x; x &= x - 1) c++; return c; };
    const thueMorse = Uint8Array.from({ length: 5000 }, (_, i) => popcount(i) & 1);
    const doubling = Uint8Array.from({ length: 5000 }, (_, i) => { let j = i + 1; let z = 0; while ((j & 1) === 0) { j >>= 1; z++; } return z & 1; });
    for (const word of [fibWord, thueMorse, doubling]) {
      for (const n of [1, 2, 3, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 1000, 1597, 2584, 4181, 5000]) {
        const t = word.subarray(0, n);
        expect(Array.from(core.suffixArray(t))).toEqual(naiveSuffixArray(t));
      }
    }
  });

  it('matches a naive sort on repeated random blocks with a few edits (recursion on repeated LMS substrings)', () => {
    const rand = uniform(1234);
    for (let trial = 0; trial < 600; trial++) {
      const n = Math.floor(rand() * (trial % 10 === 0 ? 4000 : 500));
      const k = [2, 3, 4, 16, 256][trial % 5];
      const block = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * k));
      const t = Uint8Array.from({ length: n }, (_, i) => block[i % block.length]);
      for (let e = trial % 4; e > 0 && n > 0; e--) t[Math.floor(rand() * n)] = Math.floor(rand() * k);
      expect(Array.from(core.suffixArray(t))).toEqual(naiveSuffixArray(t));
    }
  });

  it('sorts mixed inputs of 200k bytes correctly (unique and repeated LMS substrings at i32 levels)', () => {
    const rand = uniform(99);
    const block = Uint8Array.from({ length: 30_000 }, () => Math.floor(rand() * 256));
    const small = Uint8Array.from({ length: 70_000 }, () => Math.floor(rand() * 3));
    const t = new Uint8Array(200_000);
    t.set(block, 0); t.set(block, 30_000); t.set(small, 60_000); t.set(small.subarray(0, 50_000), 130_000);
    for (let i = 180_000; i < t.length; i++) t[i] = Math.floor(rand() * 256);
    checkSuffixArray(t, core.suffixArray(t));
  });

  // sais.ts walks large levels (2^18 entries and up) in blocks of 256, first
  // touching each block's chars: lengths around both, levels at u8 and i32
  // chars above the threshold (a 3-letter text recurses on nearly all its
  // LMS substrings, several levels deep; a repeated random block with edits
  // gives reduced strings with alphabets in the thousands), runs, periods and
  // every byte value.
  it('sorts inputs around the block size and the large-level threshold correctly', () => {
    const rand = uniform(2024);
    for (const n of [255, 256, 257, 511, 512, 513, (1 << 18) - 1, 1 << 18, (1 << 18) + 1, (1 << 18) + 255, (1 << 18) + 257]) {
      const k = n < 1000 ? 256 : [2, 256][n & 1];
      const t = Uint8Array.from({ length: n }, () => Math.floor(rand() * k));
      if (n < 1000) expect(Array.from(core.suffixArray(t))).toEqual(naiveSuffixArray(t));
      else checkSuffixArray(t, core.suffixArray(t));
    }
  });

  it('sorts large inputs whose reduced strings are large (deep recursion, big alphabets, runs, periods, all byte values)', () => {
    const rand = uniform(31337);
    const n = 1_200_000;
    const three = Uint8Array.from({ length: n }, () => Math.floor(rand() * 3));
    const block = Uint8Array.from({ length: 100_000 }, () => Math.floor(rand() * 256));
    const repeated = new Uint8Array(n);
    for (let i = 0; i < n; i += block.length) repeated.set(block.subarray(0, Math.min(block.length, n - i)), i);
    for (let i = 0; i < 3000; i++) repeated[Math.floor(rand() * n)] ^= 1;
    const runs = new Uint8Array(n);
    for (let i = 0, c = 0; i < n; c = (c + 1 + Math.floor(rand() * 255)) & 255) {
      const len = 1 + Math.floor(rand() * 2000);
      runs.fill(c, i, i + len);
      i += len;
    }
    const period2 = Uint8Array.from({ length: 600_000 }, (_, i) => (i & 1 ? 7 : 200));
    const period3 = Uint8Array.from({ length: 600_001 }, (_, i) => [3, 1, 2][i % 3]);
    const bytes = Uint8Array.from({ length: 700_000 }, (_, i) => (i * 167 + (i >> 8)) & 255);
    for (const t of [three, repeated, runs, period2, period3, bytes]) checkSuffixArray(t, core.suffixArray(t));
  });
});
