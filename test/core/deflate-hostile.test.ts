// Exact deflate on hostile input: truncations, bit flips, crafted tables and
// bombs end in a one-line PatcherError (never a trap or hang), within budget;
// corrupt forms are refused by the encoder or still inflate to their text.
import { deflateRawSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore, type ExactForm } from '../../src/core/index.js';
import { ErrorCode, PatcherError } from '../../src/errors.js';
import { prng } from '../../src/image/sample.js';
import { textBytes } from './deflate-streams.js';

const BUDGET = { maxOutput: 1 << 22, maxStructure: 1 << 22 };

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

/** LSB-first bit writer for hand-made streams. */
function bits(fields: Array<[number, number]>): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let n = 0;
  for (const [value, count] of fields) {
    for (let i = 0; i < count; i++) {
      acc |= ((value >> i) & 1) << n;
      if (++n === 8) { out.push(acc); acc = 0; n = 0; }
    }
  }
  if (n > 0) out.push(acc);
  return Uint8Array.from(out);
}

/** Fixed-code literal/length code for `sym`, as fields MSB-first reversed into LSB order. */
function fixedCode(sym: number): [number, number] {
  const [code, len] = sym < 144 ? [0x30 + sym, 8] : sym < 256 ? [0x190 + sym - 144, 9] : sym < 280 ? [sym - 256, 7] : [0xc0 + sym - 280, 8];
  let r = 0;
  for (let i = 0; i < len; i++) r |= ((code >> i) & 1) << (len - 1 - i);
  return [r, len];
}

function refused(run: () => unknown, code: string = ErrorCode.BadImage): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(PatcherError);
    expect((err as PatcherError).code).toBe(code);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a PatcherError');
}

describe('exact deflate, hostile streams', () => {
  const text = textBytes(60_000, 5);
  const streams = [deflateRawSync(text, { level: 9 }), deflateRawSync(text, { level: 1 }), deflateRawSync(text, { level: 0 })];

  it('every truncation of a stream is refused', () => {
    for (const s of streams) {
      for (let cut = 0; cut < s.length; cut += cut < 64 ? 1 : 97) refused(() => core.inflateExact(s.subarray(0, cut), BUDGET));
    }
    const g = gzipSync(text);
    for (let cut = 0; cut < g.length; cut += cut < 64 ? 1 : 89) refused(() => core.gunzipExact(g.subarray(0, cut), BUDGET));
  });

  it('bit flips are refused, or decode to a form that re-encodes to the flipped bytes', () => {
    const next = prng(99);
    let decoded = 0;
    for (let i = 0; i < 1500; i++) {
      const s = Uint8Array.from(streams[i % 3]);
      for (let k = 0; k <= i % 3; k++) s[next() % s.length] ^= 1 << (next() % 8);
      let form: ExactForm;
      try {
        form = core.inflateExact(s, BUDGET);
      } catch (err) {
        expect(err).toBeInstanceOf(PatcherError);
        continue;
      }
      decoded++;
      expect(Buffer.compare(core.deflateExact(form), s)).toBe(0);
    }
    expect(decoded).toBeGreaterThan(0); // stored-block flips decode
  });

  it('crafted headers: over-subscribed tables, HLIT > 286, HDIST > 30, reserved block type', () => {
    // Dynamic block, all 19 code-length code lengths 1: over-subscribed.
    const over = bits([[1, 1], [2, 2], [0, 5], [0, 5], [15, 4], ...Array.from({ length: 19 }, (): [number, number] => [1, 3])]);
    expect(refused(() => core.inflateExact(over, BUDGET))).toMatch(/Huffman code lengths/);
    expect(refused(() => core.inflateExact(bits([[1, 1], [2, 2], [30, 5], [0, 5], [0, 4]]), BUDGET))).toMatch(/Huffman/);
    expect(refused(() => core.inflateExact(bits([[1, 1], [2, 2], [0, 5], [30, 5], [0, 4]]), BUDGET))).toMatch(/Huffman/);
    expect(refused(() => core.inflateExact(bits([[1, 1], [3, 2], [0, 16]]), BUDGET))).toMatch(/reserved type/);
  });

  it('a distance before the start, and fixed symbols 286/287 and distance codes 30/31', () => {
    // Fixed block: match length 3 (symbol 257) at distance 1 as the first token.
    const early = bits([[1, 1], [1, 2], fixedCode(257), [0, 5], fixedCode(256)]);
    expect(refused(() => core.inflateExact(early, BUDGET))).toMatch(/before the start/);
    const sym286 = bits([[1, 1], [1, 2], fixedCode(97), fixedCode(286)]);
    expect(refused(() => core.inflateExact(sym286, BUDGET))).toMatch(/does not have/);
    const dist30 = bits([[1, 1], [1, 2], fixedCode(97), fixedCode(257), [0b01111, 5], fixedCode(256)]);
    expect(refused(() => core.inflateExact(dist30, BUDGET))).toMatch(/does not have/);
  });

  it('a stored block whose NLEN is not ~LEN', () => {
    expect(refused(() => core.inflateExact(Uint8Array.from([1, 3, 0, 0xfc, 0xfe, 1, 2, 3]), BUDGET))).toMatch(/NLEN/);
  });

  it('a 256 MiB bomb with a 1 MiB budget stops at the budget', async () => {
    const bomb = deflateRawSync(Buffer.alloc(256 << 20), { level: 9 });
    const fresh = await loadCore();
    const budget = { maxOutput: 1 << 20, maxStructure: 1 << 20 };
    expect(refused(() => fresh.inflateExact(bomb, budget))).toMatch(/more than 1048576 bytes/);
    // Stopped at the budget, not after inflating it whole: memory shows it (time on a shared machine would not).
    expect(fresh.memoryBytes()).toBeLessThan(bomb.length + (2 << 20) + (1 << 20));
    const g = gzipSync(Buffer.alloc(64 << 20));
    refused(() => fresh.gunzipExact(g, budget));
  });

  it('gzip: bad magic, reserved flags, CRC and ISIZE mismatches', () => {
    const g = gzipSync(text);
    const bad = (at: number, xor: number) => { const c = Uint8Array.from(g); c[at] ^= xor; return c; };
    expect(refused(() => core.gunzipExact(bad(0, 1), BUDGET))).toMatch(/not a gzip member/);
    expect(refused(() => core.gunzipExact(bad(3, 0x20), BUDGET))).toMatch(/not a gzip member/);
    expect(refused(() => core.gunzipExact(bad(g.length - 8, 1), BUDGET))).toMatch(/CRC32/);
    expect(refused(() => core.gunzipExact(bad(g.length - 4, 1), BUDGET))).toMatch(/ISIZE/);
  });
});

describe('exact deflate, corrupt forms', () => {
  it('mutated structures are refused, or still encode a stream that decodes to the text', () => {
    const text = textBytes(40_000, 8);
    const forms = [core.inflateExact(deflateRawSync(text, { level: 9 }), BUDGET), core.gunzipExact(gzipSync(text, { level: 4 }), BUDGET)];
    const next = prng(7);
    let encoded = 0;
    for (let i = 0; i < 2000; i++) {
      const gzip = i % 2 === 1;
      const { structure } = forms[i % 2];
      const s = Uint8Array.from(i % 5 === 0 ? structure.subarray(0, next() % structure.length) : structure);
      if (i % 5 !== 0) s[next() % s.length] ^= 1 + (next() % 255);
      let out: Uint8Array;
      try {
        out = gzip ? core.gzipExact({ text, structure: s }) : core.deflateExact({ text, structure: s });
      } catch (err) {
        expect(err).toBeInstanceOf(PatcherError);
        expect((err as PatcherError).code).toBe(ErrorCode.BadPatch);
        continue;
      }
      encoded++;
      const back = gzip ? core.gunzipExact(out, BUDGET) : core.inflateExact(out, BUDGET);
      expect(Buffer.compare(back.text, text)).toBe(0);
    }
    // Nearly every mutation breaks the token/text agreement; the rest must still be sound.
    expect(encoded).toBeLessThan(2000);
  });

  it('text that disagrees with the structure is refused', () => {
    const text = textBytes(20_000, 9);
    const form = core.inflateExact(deflateRawSync(text), BUDGET);
    const changed = Uint8Array.from(text);
    changed[10_000] ^= 0xff;
    const shorter = text.subarray(0, text.length - 1);
    const msgs = [changed, shorter].map((t) => refused(() => core.deflateExact({ text: t, structure: form.structure }), ErrorCode.BadPatch));
    expect(msgs.join()).toMatch(/disagree/);
  });
});
