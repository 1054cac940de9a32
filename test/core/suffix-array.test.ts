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
});
