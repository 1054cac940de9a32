/**
 * zlibPredict (assembly/lazyparse.ts): zlib's LZ77 parse as a prediction of
 * a stream's tokens. Streams made by the system zlib (python3) and GNU gzip
 * at each level carry exactly the predicted tokens, split into blocks; a
 * prediction is bounded by its cap and deterministic.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore } from '../../src/core/index.js';
import { VarintReader } from '../../src/format/varint.js';
import { randomBytes } from '../../src/image/sample.js';
import { pythonStreams, textBytes } from './deflate-streams.js';

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

const BUDGET = { maxOutput: 1 << 26, maxStructure: 1 << 25 };

/** The tokens of a raw deflate structure (assembly/deflate.ts's syntax), block headers skipped, as a prediction writes them. */
function tokensOf(structure: Uint8Array): number[] {
  const r = new VarintReader(structure, 'structure');
  const out: number[] = [];
  let run = 0;
  for (let final = false; !final; ) {
    const kind = r.bytes[r.pos++]!;
    final = (kind & 1) === 1;
    const type = kind >> 1;
    if (type === 0) {
      r.varint();
      run += r.varint();
      continue;
    }
    if (type === 2) {
      const lengths = r.varint() + 257 + r.varint() + 1;
      const codeLengthCodes = r.varint() + 4;
      r.pos += codeLengthCodes;
      for (let have = 0; have < lengths; ) {
        const sym = r.bytes[r.pos++]!;
        if (sym < 16) have += 1;
        else have += (sym === 18 ? 11 : 3) + r.bytes[r.pos++]!;
      }
    }
    for (;;) {
      run += r.varint();
      const m = r.varint();
      if (m === 0) break;
      out.push(run, m === 257 ? 256 : m, r.varint());
      run = 0;
    }
  }
  out.push(run, 0);
  return out;
}

function predictedTokens(prediction: Uint8Array): number[] {
  const r = new VarintReader(prediction, 'prediction');
  const out: number[] = [];
  for (;;) {
    const run = r.varint();
    const m = r.varint();
    if (m === 0) {
      out.push(run, 0);
      return out;
    }
    out.push(run, m, r.varint());
  }
}

function gnuGzip(data: Uint8Array, level: number): Uint8Array {
  return new Uint8Array(execFileSync('gzip', [`-${level}`, '-n', '-c'], { input: data, maxBuffer: 1 << 28 }));
}

// Random data is left out: zlib stores it (stored blocks have no tokens to predict).
const samples = (): Array<[string, Uint8Array]> => [
  ['text 200 KB', textBytes(200_000, 5)],
  ['text 3 KB', textBytes(3_000, 6)],
  ['runs', new Uint8Array(70_000).map((_, i) => (i >> 9) & 3)],
];

/**
 * Predicted and real tokens agree, but for at most one match in the last
 * 258 bytes: zlib compares a match past the end of the input with stale
 * window bytes there (measured: the runs sample at levels 8 and 9), where
 * the model compares nothing.
 */
function expectSameTokens(predicted: number[], real: number[], label: string): void {
  expect(predicted.length, label).toBe(real.length);
  const differing = predicted.flatMap((v, i) => (v === real[i] ? [] : [i]));
  expect(differing.length <= 1 && differing.every((i) => i >= predicted.length - 6), `${label}: tokens differ at ${differing.slice(0, 5).join(', ')}`).toBe(true);
}

describe('zlibPredict', () => {
  it('has the tokens of every level of the system zlib (python3)', () => {
    const inputs = samples().map(([, d]) => d);
    for (const s of pythonStreams(inputs)) {
      const level = Number(s.label.split(' ').at(-1));
      const form = core.inflateExact(s.bytes, BUDGET);
      expectSameTokens(predictedTokens(core.zlibPredict(s.input, level, 1 << 25)), tokensOf(form.structure), `${s.label}, ${s.input.length} bytes`);
    }
  });

  it('has the tokens of every level of GNU gzip', () => {
    for (const [name, data] of samples()) {
      for (let level = 1; level <= 9; level++) {
        const form = core.gunzipExact(gnuGzip(data, level), BUDGET);
        const header = 12; // 0x01, hdrLen 10, the bare member header of gzip -n, then the deflate structure (assembly/gzip.ts)
        expectSameTokens(predictedTokens(core.zlibPredict(data, level, 1 << 25)), tokensOf(form.structure.subarray(header)), `${name} gzip -${level}`);
      }
    }
  });

  it('a random input still parses (no stored blocks in a prediction), within its cap', () => {
    const prediction = core.zlibPredict(randomBytes(50_000, 7), 6, 1 << 20);
    expect(predictedTokens(prediction).at(-1)).toBe(0);
  });

  it('stops at its cap, deterministically; empty text; bad level', () => {
    const text = textBytes(100_000, 9);
    const full = core.zlibPredict(text, 9, 1 << 22);
    const cut = core.zlibPredict(text, 9, 1000);
    expect(cut.length).toBe(1000);
    expect(cut).toEqual(full.subarray(0, 1000));
    expect(core.zlibPredict(text, 9, 1 << 22)).toEqual(full);
    expect(Array.from(core.zlibPredict(new Uint8Array(0), 6, 16))).toEqual([0, 0]);
    expect(() => core.zlibPredict(text, 0, 16)).toThrow(/level 0/);
    expect(() => core.zlibPredict(text, 10, 16)).toThrow(/level 10/);
  });
});
