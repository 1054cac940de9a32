/**
 * Layers over 2-4 GiB: window records must hold their offsets and lengths
 * exactly, or refuse to write them; never a silently different window (the
 * patch would then fail apply, or be caught only by --verify).
 */
import { describe, expect, it } from 'vitest';
import { decodeWindow, encodeWindow, type WindowData } from '../../src/format/image/window.js';

const GiB = 2 ** 30;
const limits = { maxDiffBytes: 1 << 20, maxRefBytes: 1 << 20 };

/** encodeWindow either throws or writes a window that decodes to the same thing. */
function expectExactOrRefused(w: WindowData): void {
  let encoded: Uint8Array;
  try {
    encoded = encodeWindow(w);
  } catch {
    return;
  }
  expect(decodeWindow(encoded, 2, limits)).toEqual(w);
}

const delta = { ctrl: Int32Array.of(1000, 0, 0), diff: new Uint8Array(1000), extra: new Uint8Array(0) };

describe('window records of big layers', () => {
  it('small values round-trip (the check itself is sound)', () => {
    expectExactOrRefused({ refs: [{ blob: 1, offset: 12_345, length: 1000 }], pieces: [{ copy: true, blob: 0, offset: 99, length: 5000 }, { copy: false, length: 1000 }], delta });
  });

  it('an unchanged run over 2 GiB (a copy piece of a big layer)', () => {
    expectExactOrRefused({ refs: [{ blob: 0, offset: 0, length: 1000 }], pieces: [{ copy: true, blob: 1, offset: 0, length: 2 * GiB + 5 }, { copy: false, length: 1000 }], delta });
  });

  it('a reference more than 2 GiB into a layer', () => {
    expectExactOrRefused({ refs: [{ blob: 0, offset: 5 * GiB, length: 1000 }], pieces: [{ copy: false, length: 1000 }], delta });
  });

  it('a copy more than 2 GiB past the previous one', () => {
    expectExactOrRefused({ refs: [{ blob: 0, offset: 0, length: 1000 }], pieces: [{ copy: true, blob: 1, offset: 3 * GiB, length: 10 }, { copy: false, length: 1000 }], delta });
  });
});
