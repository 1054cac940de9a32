// The branch filter for machine code (assembly/codefilter.ts) and the ELF
// section parsing that finds its ranges (src/core/code-filter.ts): the
// inverse restores any bytes exactly, the forward pass makes what it should,
// and malformed ELF headers give no ranges or safe ones, never a throw.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CodeKind, ELF_HEAD_BYTES, checkCodeRanges, elfCodeRanges, elfHead, loadCore, type CodeRange, type DiffCore } from '../../src/core/index.js';
import { PatcherError } from '../../src/errors.js';
import { encodeRawPatch } from '../../src/format/single/raw.js';
import { prng, randomBytes } from '../../src/image/sample.js';
import { EM_AARCH64, EM_X86_64, elfPair, makeElf } from '../fixtures/elf.js';

let core: DiffCore;

/** Byte equality that stays fast on large arrays (toEqual walks them element by element). */
function expectSame(actual: Uint8Array, expected: Uint8Array, what = ''): void {
  expect(Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.length), Buffer.from(expected.buffer, expected.byteOffset, expected.length)), what).toBe(0);
}
beforeAll(async () => {
  core = await loadCore();
});

/** Bytes drawn from the x86 filter's pattern bytes (E8, REX, 8B/8D, ModRM 05, 00/FF), where its decisions interlock most. */
function x86Dense(size: number, seed: number): Uint8Array {
  const alphabet = [0xe8, 0x48, 0x4c, 0x8d, 0x8b, 0x05, 0x00, 0xff, 0x0f, 0x15, 0xe9];
  const next = prng(seed);
  return Uint8Array.from({ length: size }, () => alphabet[next() % alphabet.length]);
}

/** AArch64 words, half of them BL or ADRP. */
function armDense(size: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = randomBytes(size, seed);
  const v = new DataView(out.buffer);
  for (let i = 0; i + 4 <= size; i += 4) {
    const r = next();
    if (r % 4 === 0) v.setUint32(i, (0x94000000 | (next() & 0x3ffffff)) >>> 0, true);
    else if (r % 4 === 1) v.setUint32(i, ((next() & 0x60ffffff) | 0x90000000) >>> 0, true);
  }
  return out;
}

/** Up to 4 sorted disjoint ranges in [0, size), with file offsets that reach past 2^32. */
function randomRanges(size: number, kind: CodeKind, seed: number): CodeRange[] {
  const next = prng(seed);
  const cuts = Array.from({ length: 8 }, () => next() % (size + 1)).sort((a, b) => a - b);
  const out: CodeRange[] = [];
  for (let i = 0; i < 8; i += 2) {
    const fileOffset = [0, next() % 4096, 2 ** 31 + (next() % 7), 2 ** 32 - 3, 2 ** 40 + 1][next() % 5];
    out.push({ start: cuts[i], length: cuts[i + 1] - cuts[i], kind, fileOffset });
  }
  return out;
}

const filtered = (bytes: Uint8Array, ranges: CodeRange[], encode: boolean) => {
  const copy = new Uint8Array(bytes); // a copy (a Buffer's slice() would be a view)
  core.filterCode(copy, ranges, encode);
  return copy;
};

describe('the filter is its own exact inverse', () => {
  const inputs = [['x86-64', CodeKind.X86_64, x86Dense, true], ['AArch64', CodeKind.ARM64, armDense, true], ['x86-64 on random bytes', CodeKind.X86_64, randomBytes, false], ['AArch64 on random bytes', CodeKind.ARM64, randomBytes, false]] as const;
  for (const [name, kind, make, dense] of inputs) {
    it(`${name}: restore(filter(x)) = x for random buffers and ranges`, () => {
      let changed = 0;
      for (let seed = 1; seed <= 60; seed++) {
        const size = [0, 1, 4, 5, 6, 7, 100, 4099, 65_536][seed % 9];
        const bytes = make(size, seed);
        const ranges = randomRanges(size, kind, seed);
        const forward = filtered(bytes, ranges, true);
        if (size >= 4099 && forward.some((b, i) => b !== bytes[i])) changed++;
        expectSame(filtered(forward, ranges, false), bytes, `seed ${seed}`);
        // And the other way round: the inverse is a bijection too.
        expectSame(filtered(filtered(bytes, ranges, false), ranges, true), bytes, `seed ${seed} reversed`);
      }
      // The dense inputs are mostly rewritten (13 seeds have 4 KiB or more).
      if (dense) expect(changed).toBeGreaterThanOrEqual(10);
    });
  }
});

describe('what the filter writes', () => {
  it('x86-64: a call and a lea get absolute targets (file offset of the next instruction + displacement)', () => {
    const b = Uint8Array.of(0x90, 0xe8, 0x10, 0, 0, 0, 0x48, 0x8d, 0x05, 0xfc, 0xff, 0xff, 0xff, 0xe8, 0x00, 0x00, 0x00, 0x40, 0x90, 0x90);
    const out = filtered(b, [{ start: 0, length: b.length, kind: CodeKind.X86_64, fileOffset: 0x100 }], true);
    const v = new DataView(out.buffer);
    expect(v.getInt32(2, true)).toBe(0x10 + 0x106); // call at 0x101: next instruction at 0x106
    expect(v.getInt32(9, true)).toBe(-4 + 0x10d); // lea at 0x106: next at 0x10d
    expect(Array.from(out.subarray(13))).toEqual(Array.from(b.subarray(13))); // displacement beyond 25 bits: left alone
  });

  it('AArch64: BL and ADRP become absolute (words, pages); other words and unaligned tails stay', () => {
    const b = new Uint8Array(14);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0x94000004, true); // bl +16
    v.setUint32(4, 0xd503201f, true); // nop
    v.setUint32(8, (0x90000000 | (1 << 29) | 3) >>> 0, true); // adrp x3, +1 page
    const out = filtered(b, [{ start: 0, length: b.length, kind: CodeKind.ARM64, fileOffset: 0x3000 }], true);
    const o = new DataView(out.buffer);
    expect(o.getUint32(0, true)).toBe((0x94000000 | (4 + 0x3000 / 4)) >>> 0);
    expect(o.getUint32(4, true)).toBe(0xd503201f);
    expect(o.getUint32(8, true)).toBe((0x90000000 | (1 << 5) | 3) >>> 0); // page 3 + 1 = 4: immlo 0, immhi 1
    expect(Array.from(out.subarray(12))).toEqual([0, 0]);
  });

  it('the same call in two versions of a file gets the same bytes once filtered, wherever it moved', () => {
    const call = (at: number, target: number) => {
      const b = new Uint8Array(64);
      b[at] = 0xe8;
      new DataView(b.buffer).setInt32(at + 1, target - (at + 5), true);
      return filtered(b, [{ start: 0, length: 64, kind: CodeKind.X86_64, fileOffset: 0 }], true).subarray(at, at + 5);
    };
    expect(call(3, 40)).toEqual(call(20, 40));
  });
});

describe('code ranges are checked before the core sees them', () => {
  const bad: Array<[string, CodeRange[]]> = [
    ['past the end', [{ start: 10, length: 100, kind: CodeKind.X86_64, fileOffset: 0 }]],
    ['negative start', [{ start: -1, length: 4, kind: CodeKind.X86_64, fileOffset: 0 }]],
    ['overlapping', [{ start: 0, length: 20, kind: CodeKind.X86_64, fileOffset: 0 }, { start: 10, length: 4, kind: CodeKind.X86_64, fileOffset: 0 }]],
    ['unknown kind', [{ start: 0, length: 4, kind: 3 as CodeKind, fileOffset: 0 }]],
    ['fractional', [{ start: 0.5, length: 4, kind: CodeKind.ARM64, fileOffset: 0 }]],
    ['negative file offset', [{ start: 0, length: 4, kind: CodeKind.ARM64, fileOffset: -8 }]],
  ];
  for (const [name, ranges] of bad) {
    it(`${name}: BAD_PATCH, one line`, () => {
      const err = (() => {
        try {
          core.filterCode(new Uint8Array(64), ranges, true);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(PatcherError);
      expect((err as PatcherError).code).toBe('BAD_PATCH');
      expect((err as PatcherError).message).not.toContain('\n');
    });
  }

  it('preparePatch refuses an output range past the new size', () => {
    const delta = { ctrl: Int32Array.of(0, 8, 0), diff: new Uint8Array(0), extra: new Uint8Array(8) };
    expect(() => core.preparePatch(0, delta, 8, 4, { reference: [], target: [{ start: 4, length: 8, kind: CodeKind.X86_64, fileOffset: 0 }] })).toThrow(/output code range/);
  });
});

/** Code ranges of a whole ELF file held in memory. */
function rangesOf(file: Uint8Array): CodeRange[] | null {
  const head = elfHead(file.subarray(0, ELF_HEAD_BYTES), file.length);
  return head && elfCodeRanges(head, file.subarray(head.tableOffset, head.tableOffset + head.tableLength), file.length);
}

describe('ELF files', () => {
  it('the running Node.js binary (a real ELF64 executable): code found, filtered, restored', () => {
    const node = readFileSync(process.execPath);
    const ranges = rangesOf(node)!;
    expect(ranges).not.toBeNull();
    expect(ranges[0].kind).toBe(process.arch === 'arm64' ? CodeKind.ARM64 : CodeKind.X86_64);
    const code = ranges.reduce((n, r) => n + r.length, 0);
    expect(code).toBeGreaterThan(node.length / 4);
    const forward = filtered(node, ranges, true);
    let changed = 0;
    for (let i = 0; i < node.length; i++) if (forward[i] !== node[i]) changed++;
    expect(changed).toBeGreaterThan(code / 100);
    expectSame(filtered(forward, ranges, false), node);
  });

  for (const [name, machine, kind] of [['x86-64', EM_X86_64, CodeKind.X86_64], ['AArch64', EM_AARCH64, CodeKind.ARM64]] as const) {
    it(`synthetic ${name} release pair: filtered, the delta packs smaller; restored exactly`, () => {
      const { old, neu } = elfPair(machine);
      const code = { reference: rangesOf(old)!, target: rangesOf(neu)! };
      expect(code.reference).toEqual([{ start: 0x1000, length: code.reference[0].length, kind, fileOffset: 0x1000 }]);
      const plain = encodeRawPatch(old, neu, core.diff(old, neu)).length;
      const delta = core.diff(old, neu, { code });
      // Measured: x86-64 2,832 -> 2,132 B, AArch64 2,378 -> 1,503 B.
      expect(encodeRawPatch(old, neu, delta).length).toBeLessThan(plain * 0.85);
      // The delta rebuilds the filtered new file from the filtered old one; restoring gives the new file.
      const prepared = core.preparePatch(old.length, delta, neu.length, 1 << 20, code);
      prepared.reference.set(old);
      const out = [...prepared.start()];
      expect(out).toHaveLength(1);
      expectSame(out[0], neu);
    });
  }
});

describe('malformed ELF headers: no ranges, or ranges inside the file; never a throw', () => {
  const { neu: elf } = elfPair(EM_X86_64, 8);
  const shoff = Number(new DataView(elf.buffer).getBigUint64(40, true));
  const edit = (f: (v: DataView, b: Uint8Array) => void) => {
    const b = elf.slice();
    f(new DataView(b.buffer), b);
    return b;
  };
  const cases: Array<[string, Uint8Array, 'none' | 'some']> = [
    ['truncated to 10 bytes', elf.slice(0, 10), 'none'],
    ['ELFCLASS32', edit((_, b) => (b[4] = 1)), 'none'],
    ['big-endian', edit((_, b) => (b[5] = 2)), 'none'],
    ['another machine (RISC-V)', edit((v) => v.setUint16(18, 243, true)), 'none'],
    ['section table past the end', edit((v) => v.setBigUint64(40, BigInt(elf.length), true)), 'none'],
    ['section table offset 2^64 - 1', edit((v) => v.setBigUint64(40, 2n ** 64n - 1n, true)), 'none'],
    ['section table inside the ELF header', edit((v) => v.setBigUint64(40, 8n, true)), 'none'],
    ['entry size 0', edit((v) => v.setUint16(58, 0, true)), 'none'],
    ['65,535 sections', edit((v) => v.setUint16(60, 0xffff, true)), 'none'],
    ['no sections', edit((v) => v.setUint16(60, 0, true)), 'none'],
    ['.text of size 2^63 (clipped to the file: then it covers the section table)', edit((v) => v.setBigUint64(shoff + 64 + 32, 2n ** 63n, true)), 'none'],
    ['.text at offset 2^64 - 8', edit((v) => v.setBigUint64(shoff + 64 + 24, 2n ** 64n - 8n, true)), 'none'],
    ['.text covering the section table', edit((v) => v.setBigUint64(shoff + 64 + 32, BigInt(elf.length), true)), 'none'],
    ['.text over the ELF header', edit((v) => v.setBigUint64(shoff + 64 + 24, 0n, true)), 'some'],
    ['two code sections overlapping (the first is kept)', edit((v) => {
      v.setBigUint64(shoff + 128 + 8, 6n, true);
      v.setBigUint64(shoff + 128 + 24, 0x1010n, true);
    }), 'some'],
  ];
  for (const [name, file, expected] of cases) {
    it(name, () => {
      const ranges = rangesOf(file);
      if (expected === 'none') {
        expect(ranges === null || ranges.length === 0).toBe(true);
        return;
      }
      expect(ranges!.length).toBeGreaterThan(0);
      expect(() => checkCodeRanges(ranges!, file.length, 'test')).not.toThrow();
      for (const r of ranges!) expect(r.start).toBeGreaterThanOrEqual(ELF_HEAD_BYTES);
      expectSame(filtered(filtered(file, ranges!, true), ranges!, false), file);
    });
  }

  it('2,000 random corruptions of the header and section table', () => {
    const next = prng(42);
    for (let i = 0; i < 2000; i++) {
      const b = elf.slice();
      for (let k = 0; k < 1 + (next() % 6); k++) {
        const at = next() % 2 === 0 ? next() % 64 : shoff + (next() % (3 * 64));
        b[at] = next() & 0xff;
      }
      const cut = next() % 8 === 0 ? b.subarray(0, next() % b.length) : b;
      const ranges = rangesOf(cut);
      if (!ranges) continue;
      checkCodeRanges(ranges, cut.length, `case ${i}`);
      expectSame(filtered(filtered(cut, ranges, true), ranges, false), cut, `case ${i}`);
    }
  });

  it('a fixture sanity check: makeElf lays .text at 0x1000', () => {
    const f = makeElf(EM_AARCH64, new Uint8Array(16));
    expect(rangesOf(f)).toEqual([{ start: 0x1000, length: 16, kind: CodeKind.ARM64, fileOffset: 0x1000 }]);
  });
});
