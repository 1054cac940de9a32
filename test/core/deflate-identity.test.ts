// Exact deflate/gzip: decode then encode gives the identical bytes, and the
// decoded text is what zlib inflates, for streams of every compressor at hand.
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore } from '../../src/core/index.js';
import { binaryStreams, fflateStreams, inputs, nodeZlibStreams, pythonStreams, type Stream } from './deflate-streams.js';

const BUDGET = { maxOutput: 1 << 24, maxStructure: 1 << 24 };
const DATA = inputs(40, 120_000);
const SMALLER = DATA.slice(0, 24);

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

/** Per compressor label: [exact, total]. */
const tally = new Map<string, [number, number]>();
afterAll(() => {
  const rows = [...tally].map(([label, [ok, all]]) => `${label}: ${ok}/${all}`);
  console.log(`exact round trips by compressor (${rows.length} settings)\n  ${rows.join('\n  ')}`);
});

function check(streams: Stream[]): void {
  expect(streams.length).toBeGreaterThan(0);
  const failures: string[] = [];
  for (const s of streams) {
    const form = s.format === 'gzip' ? core.gunzipExact(s.bytes, BUDGET) : core.inflateExact(s.bytes, BUDGET);
    const again = s.format === 'gzip' ? core.gzipExact(form, s.bytes.length) : core.deflateExact(form, s.bytes.length);
    const reference = s.format === 'gzip' ? gunzipSync(s.bytes) : inflateRawSync(s.bytes);
    const exact = Buffer.compare(again, s.bytes) === 0 && Buffer.compare(form.text, reference) === 0
      && Buffer.compare(form.text, s.input) === 0;
    const t = tally.get(s.label) ?? [0, 0];
    tally.set(s.label, [t[0] + (exact ? 1 : 0), t[1] + 1]);
    if (!exact) failures.push(`${s.label} (${s.input.length} B)`);
  }
  expect(failures).toEqual([]);
}

describe('exact deflate identity', () => {
  it("Node's zlib: levels 0-9, strategies, memLevel, windowBits, gzip", () => check(nodeZlibStreams(DATA)));
  it('fflate: levels 0-9 and gzip', () => check(fflateStreams(DATA)));
  it('the gzip binary: -1..-9 and -9n', () => {
    check(binaryStreams('gzip', SMALLER, ['-1', '-2', '-3', '-4', '-5', '-6', '-7', '-8', '-9', '-9n']));
  });
  it('pigz: -1..-9 and -11 (zopfli)', () => {
    check(binaryStreams('pigz', SMALLER.slice(0, 12), ['-1', '-3', '-6', '-9', '-11']));
  });
  it("python3's zlib: levels 1-9", () => check(pythonStreams(DATA)));

  it('empty streams: a final fixed block, a final empty stored block, empty gzip', () => {
    const fixedEmpty = new Uint8Array([0x03, 0x00]);
    const storedEmpty = new Uint8Array([0x01, 0x00, 0x00, 0xff, 0xff]);
    for (const bytes of [fixedEmpty, storedEmpty]) {
      const form = core.inflateExact(bytes, BUDGET);
      expect(form.text.length).toBe(0);
      expect(Buffer.compare(core.deflateExact(form), bytes)).toBe(0);
    }
  });

  it('stored blocks with nonzero padding bits and fixed blocks, back to back, plus trailing bytes', () => {
    // A non-final stored block "abc" whose 5 pad bits are 10101, a final fixed
    // block with the literal 'a' whose 6 pad bits are all ones, then 2 bytes.
    const text = new TextEncoder().encode('abca');
    const structure = new Uint8Array([0x00, 21, 3, 0x03, 1, 0, 63, 2, 1, 2]);
    const bytes = core.deflateExact({ text, structure });
    expect(Buffer.compare(inflateRawSync(bytes.subarray(0, bytes.length - 2)), text)).toBe(0);
    const form = core.inflateExact(bytes, BUDGET);
    expect(Buffer.compare(form.structure, structure)).toBe(0);
    expect(Buffer.compare(core.deflateExact(form), bytes)).toBe(0);
  });

  it('length 258 sent as symbol 284 + 31 is kept apart from symbol 285', () => {
    // Encode via the form: 'a' literal, then a match of 258 at distance 1, each way.
    const text = new Uint8Array(259).fill(97);
    const viaForm = (m: number) => {
      const structure = new Uint8Array([0x03, 1, m & 0x7f | 0x80, m >> 7, 0, 0, 0, 0, 0]);
      return core.deflateExact({ text, structure: m < 128 ? structure.filter((_, i) => i !== 3) : structure });
    };
    const a = viaForm(256);
    const b = viaForm(257);
    expect(Buffer.compare(a, b)).not.toBe(0);
    for (const bytes of [a, b]) {
      expect(Buffer.compare(inflateRawSync(bytes), text)).toBe(0);
      expect(Buffer.compare(core.deflateExact(core.inflateExact(bytes, BUDGET)), bytes)).toBe(0);
    }
  });

  it('several gzip members and trailing zeros', () => {
    const parts = SMALLER.slice(3, 8);
    const members = binaryStreams('gzip', parts, ['-6']).map((s) => s.bytes);
    const bytes = Buffer.concat([...members, Buffer.alloc(37)]);
    const form = core.gunzipExact(bytes, BUDGET);
    expect(Buffer.compare(form.text, Buffer.concat(parts))).toBe(0);
    expect(Buffer.compare(core.gzipExact(form), bytes)).toBe(0);
    expect(core.exactForm(bytes, 'gzip', BUDGET)).not.toBeNull();
  });

  it('exactForm: the form when decode + encode reproduce the bytes, else null', () => {
    const bytes = binaryStreams('gzip', [DATA[5]], ['-9n'])[0].bytes;
    const form = core.exactForm(bytes, 'gzip', BUDGET);
    expect(form && Buffer.compare(form.text, DATA[5])).toBe(0);
    const corrupt = Uint8Array.from(bytes);
    corrupt[corrupt.length - 6] ^= 1; // CRC32
    expect(core.exactForm(corrupt, 'gzip', BUDGET)).toBeNull();
    expect(core.exactForm(bytes, 'gzip', { maxOutput: 10, maxStructure: 1 << 20 })).toBeNull();
    expect(core.exactForm(bytes, 'deflate', BUDGET)).toBeNull(); // a gzip header is not a deflate block
  });
});
