import { describe, expect, it } from 'vitest';
import { decodeClassicPatch, detectClassicFormat } from '../../src/format/single/classic.js';
import { checkDelta } from '../../src/format/ctrl.js';
import { PatcherError } from '../../src/errors.js';
import { bspatch, bsdiff40Patch, encodeBsdiff43, mutate, offtout, randomBytes, bzip2 } from './helpers.js';

function expectBadPatch(fn: () => unknown, pattern?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PatcherError);
    expect((err as PatcherError).code).toBe('BAD_PATCH');
    expect((err as Error).message).not.toContain('\n');
    if (pattern) expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a BAD_PATCH error, got success');
}

const text = (s: string) => new TextEncoder().encode(s);
const base = randomBytes(50_000, 3);
const cases: Array<[string, Uint8Array, Uint8Array]> = [
  ['random edits', base, mutate(base, 40)],
  ['empty old', new Uint8Array(0), randomBytes(1000, 5)],
  ['empty new', randomBytes(1000, 5), new Uint8Array(0)],
  ['both empty', new Uint8Array(0), new Uint8Array(0)],
  ['identical', base, base],
  ['one byte', text('a'), text('b')],
  ['text', text('hello world, hello patch\n'.repeat(200)), text('hello world, hello diff\n'.repeat(210))],
];

describe('BSDIFF40 from Debian bsdiff', () => {
  it.each(cases)('%s: applies to the exact bytes', (_name, old, neu) => {
    const patch = bsdiff40Patch(old, neu);
    expect(detectClassicFormat(patch)).toBe('bsdiff40');
    const decoded = decodeClassicPatch(patch);
    expect(decoded.newSize).toBe(neu.length);
    checkDelta(decoded.delta, old.length, neu.length);
    expect(Buffer.from(bspatch(old, decoded.delta, decoded.newSize)).equals(Buffer.from(neu))).toBe(true);
  });
});

describe('ENDSLEY/BSDIFF43', () => {
  it.each(['le', 'be'] as const)('reads the %s size variant', (enc) => {
    for (const [, old, neu] of cases) {
      const { delta } = decodeClassicPatch(bsdiff40Patch(old, neu));
      const patch = encodeBsdiff43(delta, neu.length, enc);
      const decoded = decodeClassicPatch(patch);
      expect(decoded.format).toBe('bsdiff43');
      expect(decoded.newSize).toBe(neu.length);
      if (neu.length > 0) expect(decoded.sizeEncoding).toBe(enc === 'le' ? 'offtin' : 'big-endian');
      expect(Buffer.from(bspatch(old, decoded.delta, decoded.newSize)).equals(Buffer.from(neu))).toBe(true);
    }
  });

  it('reads a size with bytes in the middle of the field either way', () => {
    const size = 0x0100_0000; // LE 00 00 00 01 00.., BE ..00 01 00 00 00
    const neu = new Uint8Array(size);
    const delta = { ctrl: Int32Array.of(0, size, 0), diff: new Uint8Array(0), extra: neu };
    expect(decodeClassicPatch(encodeBsdiff43(delta, size, 'be')).newSize).toBe(size);
    expect(decodeClassicPatch(encodeBsdiff43(delta, size, 'le')).newSize).toBe(size);
  });
});

describe('hostile classic patches', () => {
  const old = base;
  const neu = mutate(base, 40);
  const p40 = bsdiff40Patch(old, neu);
  const ctrlLen = Number(new DataView(p40.buffer, p40.byteOffset).getBigUint64(8, true));
  const diffLen = Number(new DataView(p40.buffer, p40.byteOffset).getBigUint64(16, true));

  it('refuses an unknown magic', () => {
    expectBadPatch(() => decodeClassicPatch(text('GARBAGE!and more bytes here.........')), /unknown patch format/);
  });

  it('refuses every truncation of a BSDIFF40 patch', () => {
    for (const cut of [0, 7, 31, 33, 32 + ctrlLen - 1, 32 + ctrlLen + 5, 32 + ctrlLen + diffLen + 3, p40.length - 1]) {
      expectBadPatch(() => decodeClassicPatch(p40.subarray(0, cut)));
    }
  });

  it('refuses a bit flip in each block', () => {
    for (const at of [40, 32 + ctrlLen + 20, 32 + ctrlLen + diffLen + 20]) {
      const bad = p40.slice();
      bad[at] ^= 0x10;
      expectBadPatch(() => decodeClassicPatch(bad));
    }
  });

  it('refuses a header claiming 4 GB before allocating', () => {
    const bad = p40.slice();
    offtout(2 ** 32, bad, 24);
    expectBadPatch(() => decodeClassicPatch(bad), /exceeds the limit/);
    const bad43 = encodeBsdiff43({ ctrl: new Int32Array(0), diff: new Uint8Array(0), extra: new Uint8Array(0) }, 0, 'le');
    offtout(2 ** 32, bad43, 16);
    expectBadPatch(() => decodeClassicPatch(bad43));
  });

  it('refuses block lengths past the end of the file', () => {
    const bad = p40.slice();
    offtout(p40.length, bad, 8);
    expectBadPatch(() => decodeClassicPatch(bad), /do not fit/);
  });

  it('refuses a triple that reads outside old', () => {
    const size = 100;
    const patch = encodeBsdiff43({ ctrl: Int32Array.of(size, 0, 0), diff: new Uint8Array(size), extra: new Uint8Array(0) }, size, 'le');
    const { delta } = decodeClassicPatch(patch);
    expectBadPatch(() => checkDelta(delta, 10, size), /outside/);
  });

  it('refuses a triple writing past the declared size', () => {
    const rec = new Uint8Array(24);
    offtout(10, rec, 0);
    const header = new Uint8Array(24);
    header.set(text('ENDSLEY/BSDIFF43'));
    offtout(5, header, 16);
    expectBadPatch(() => decodeClassicPatch(Buffer.concat([header, bzip2(Buffer.concat([rec, new Uint8Array(10)]))])), /past/);
  });

  it('refuses a decompression bomb at the declared size', () => {
    const header = new Uint8Array(24);
    header.set(text('ENDSLEY/BSDIFF43'));
    offtout(1000, header, 16);
    const rec = new Uint8Array(24);
    offtout(0, rec, 0);
    offtout(1000, rec, 8);
    const bomb = bzip2(Buffer.concat([rec, new Uint8Array(50_000_000)]));
    expectBadPatch(() => decodeClassicPatch(Buffer.concat([header, bomb])));
  });
});
