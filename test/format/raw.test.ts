import { describe, expect, it } from 'vitest';
import { checkRawOld, decodeRawPatch, encodeRawPatch, isRawPatch } from '../../src/format/single/raw.js';
import { decodeClassicPatch } from '../../src/format/single/classic.js';
import { decodeCtrl, encodeCtrl } from '../../src/format/ctrl.js';
import { decodeZeroRuns, encodeZeroRuns } from '../../src/format/zeroruns.js';
import { crc32, sha256 } from '../../src/format/single/checksum.js';
import { PatcherError } from '../../src/errors.js';
import type { Delta } from '../../src/core/index.js';
import { bsdiff40Patch, bspatch, mutate, randomBytes } from './helpers.js';

function expectCode(code: string, fn: () => unknown, pattern?: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error, 'expected an error').toBeInstanceOf(PatcherError);
  expect((error as PatcherError).code).toBe(code);
  expect((error as Error).message).not.toContain('\n');
  if (pattern) expect((error as Error).message).toMatch(pattern);
}
const expectBadPatch = (fn: () => unknown, pattern?: RegExp) => expectCode('BAD_PATCH', fn, pattern);

/** A delta from Debian's bsdiff (no dependency on the WASM core). */
const deltaOf = (old: Uint8Array, neu: Uint8Array): Delta => decodeClassicPatch(bsdiff40Patch(old, neu)).delta;
const text = (s: string) => new TextEncoder().encode(s);
const base = randomBytes(60_000, 11);
const cases: Array<[string, Uint8Array, Uint8Array]> = [
  ['random edits', base, mutate(base, 60)],
  ['empty old', new Uint8Array(0), randomBytes(777, 5)],
  ['empty new', randomBytes(777, 5), new Uint8Array(0)],
  ['both empty', new Uint8Array(0), new Uint8Array(0)],
  ['identical', base, base],
  ['one byte', text('a'), text('b')],
  ['unrelated', randomBytes(5000, 1), randomBytes(6000, 2)],
];

describe('raw patch round trip', () => {
  it.each(cases)('%s', (_name, old, neu) => {
    const patch = encodeRawPatch(old, neu, deltaOf(old, neu));
    expect(isRawPatch(patch)).toBe(true);
    const decoded = decodeRawPatch(patch);
    expect(decoded.oldSize).toBe(old.length);
    expect(decoded.newSize).toBe(neu.length);
    expect(decoded.newSha256).toEqual(sha256(neu));
    checkRawOld(decoded, old);
    expect(Buffer.from(bspatch(old, decoded.delta, decoded.newSize)).equals(Buffer.from(neu))).toBe(true);
  });

  it('keeps zero-output triples out of the patch but not their seeks', () => {
    const old = text('abcdefgh');
    const neu = text('efgh');
    const delta = { ctrl: Int32Array.of(0, 0, 2, 0, 0, 2, 4, 0, 0), diff: new Uint8Array(4), extra: new Uint8Array(0) };
    const decoded = decodeRawPatch(encodeRawPatch(old, neu, delta));
    expect(Array.from(decoded.delta.ctrl)).toEqual([0, 0, 4, 4, 0, 0]);
    expect(bspatch(old, decoded.delta, 4)).toEqual(neu);
  });

  it('encodes extreme control values', () => {
    const ctrl = Int32Array.of(0, 0x7fffffff, -0x7fffffff, 5, 0, -1, 1, 2, 0x7fffffff);
    expect(decodeCtrl(encodeCtrl(ctrl), 3)).toEqual(ctrl);
  });

  it('round-trips zero runs of every shape', () => {
    for (const data of [new Uint8Array(0), new Uint8Array(10), randomBytes(1000, 4), Uint8Array.of(0, 1, 0, 2, 2, 0, 0), Uint8Array.of(9)]) {
      expect(decodeZeroRuns(encodeZeroRuns(data), data.length)).toEqual(data);
    }
  });
});

describe('damaged raw patches', () => {
  const old = randomBytes(3000, 21);
  const neu = mutate(old, 12, 3);
  const patch = encodeRawPatch(old, neu, deltaOf(old, neu));

  it('refuses every single-bit flip', () => {
    for (let i = 0; i < patch.length; i++) {
      const bad = patch.slice();
      bad[i] ^= 1 << (i % 8);
      expectBadPatch(() => decodeRawPatch(bad));
    }
  });

  it('refuses every truncation', () => {
    for (let n = 0; n < patch.length; n++) expectBadPatch(() => decodeRawPatch(patch.subarray(0, n)));
  });

  it('refuses trailing bytes', () => {
    expectBadPatch(() => decodeRawPatch(Buffer.concat([patch, Uint8Array.of(0)])), /trailing/);
  });

  /** Rewrite header fields and fix the header checksum, as a hostile writer would. */
  function forge(edit: (view: DataView) => void): Uint8Array {
    const bad = patch.slice();
    const view = new DataView(bad.buffer);
    edit(view);
    view.setUint32(96, crc32(bad.subarray(0, 96)), true);
    return bad;
  }

  it('refuses a header claiming 4 GB before allocating', () => {
    expectBadPatch(() => decodeRawPatch(forge((v) => v.setBigUint64(16, 2n ** 32n, true))), /exceeds the limit/);
    expectBadPatch(() => decodeRawPatch(forge((v) => v.setBigUint64(8, 2n ** 62n, true))), /exceeds the limit/);
  });

  it('refuses sizes that disagree with the sections', () => {
    expectBadPatch(() => decodeRawPatch(forge((v) => v.setBigUint64(16, BigInt(neu.length + 1), true))));
    expectBadPatch(() => decodeRawPatch(forge((v) => v.setBigUint64(24, 1n, true))));
  });

  it('refuses control triples that read outside old', () => {
    expectBadPatch(() => decodeRawPatch(forge((v) => v.setBigUint64(8, 10n, true))), /outside/);
  });

  it('refuses a newer version with an upgrade hint', () => {
    expectBadPatch(() => decodeRawPatch(forge((v) => v.setUint8(5, 2))), /upgrade/);
  });

  it('refuses a section whose inflated size is a lie', () => {
    // Claim a larger encoded length for the diff section and fix its crc.
    const bad = patch.slice();
    const view = new DataView(bad.buffer);
    const ctrlStored = Number(view.getBigUint64(100 + 9, true));
    const diffAt = 100 + 21 + ctrlStored;
    view.setBigUint64(diffAt + 1, view.getBigUint64(diffAt + 1, true) + 1n, true);
    const stored = Number(view.getBigUint64(diffAt + 9, true));
    view.setUint32(diffAt + 17, crc32(bad.subarray(diffAt + 21, diffAt + 21 + stored), crc32(bad.subarray(diffAt, diffAt + 17))), true);
    expectBadPatch(() => decodeRawPatch(bad), /wrong size/);
  });

  it('refuses the wrong old file with WRONG_IMAGE', () => {
    const decoded = decodeRawPatch(patch);
    expectCode('WRONG_IMAGE', () => checkRawOld(decoded, neu), /not the file/);
    const flipped = old.slice();
    flipped[5] ^= 1;
    expectCode('WRONG_IMAGE', () => checkRawOld(decoded, flipped));
  });
});
