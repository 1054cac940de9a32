/**
 * Raw single-file patches of ELF executables: the delta is made on filtered
 * code (core/code-filter.ts) and the patch records the code ranges (flag bit
 * 0, a fourth section). Library round trips, the CLI's diff and patch (file
 * and stdout outputs), flags of plain patches unchanged, and forged ranges
 * refused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeKind, codeFiltersOf, loadCore, type CodeFilters, type DiffCore } from '../../src/core/index.js';
import { PatcherError } from '../../src/errors.js';
import { decodeRawPatch, encodeRawPatch } from '../../src/format/single/raw.js';
import { crc32 } from '../../src/format/single/checksum.js';
import { EM_AARCH64, EM_X86_64, elfPair } from '../fixtures/elf.js';
import { cli, ensureBuilt } from '../cli/helpers.js';

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

function rebuild(old: Uint8Array, patch: Uint8Array): Uint8Array {
  const p = decodeRawPatch(patch);
  const prepared = core.preparePatch(old.length, p.delta, p.newSize, 1 << 20, p.code);
  prepared.reference.set(old);
  return Uint8Array.from([...prepared.start()].flatMap((c) => Array.from(c)));
}

function expectBadPatch(fn: () => unknown, pattern?: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(PatcherError);
  expect((error as PatcherError).code).toBe('BAD_PATCH');
  expect((error as Error).message).not.toContain('\n');
  if (pattern) expect((error as Error).message).toMatch(pattern);
}

describe('raw patches of ELF files', () => {
  for (const [name, machine, kind] of [['x86-64', EM_X86_64, CodeKind.X86_64], ['AArch64', EM_AARCH64, CodeKind.ARM64]] as const) {
    it(`${name}: code ranges recorded (flag bit 0), rebuilt byte for byte, smaller than plain`, () => {
      const { old, neu } = elfPair(machine);
      const code = codeFiltersOf(old, neu)!;
      expect(code.target[0].kind).toBe(kind);
      const patch = encodeRawPatch(old, neu, core.diff(old, neu, { code }), { code });
      expect(new DataView(patch.buffer).getUint16(6, true)).toBe(1);
      expect(decodeRawPatch(patch).code).toEqual(code);
      expect(Buffer.from(rebuild(old, patch)).equals(Buffer.from(neu))).toBe(true);
      const plain = encodeRawPatch(old, neu, core.diff(old, neu));
      expect(new DataView(plain.buffer).getUint16(6, true)).toBe(0); // as every version-1 reader expects
      expect(decodeRawPatch(plain).code).toBeUndefined();
      expect(patch.length).toBeLessThan(plain.length * 0.85);
    });
  }

  it('no filters unless both files are ELF of one machine', () => {
    const x86 = elfPair(EM_X86_64, 8);
    const arm = elfPair(EM_AARCH64, 8);
    expect(codeFiltersOf(x86.old, arm.neu)).toBeUndefined();
    expect(codeFiltersOf(new Uint8Array(5000), x86.neu)).toBeUndefined();
    expect(codeFiltersOf(x86.old, new Uint8Array(5000))).toBeUndefined();
  });

  describe('forged', () => {
    const { old, neu } = elfPair(EM_X86_64, 16);
    const code = codeFiltersOf(old, neu)!;
    const delta = () => core.diff(old, neu, { code });
    const withCode = (c: CodeFilters) => encodeRawPatch(old, neu, delta(), { code: c });

    it('a range past OLD or NEW, or of an unknown kind: BAD_PATCH naming the side', () => {
      expectBadPatch(() => decodeRawPatch(withCode({ reference: [{ ...code.reference[0], start: old.length }], target: code.target })), /OLD code range/);
      expectBadPatch(() => decodeRawPatch(withCode({ reference: code.reference, target: [{ ...code.target[0], length: neu.length }] })), /NEW code range/);
      expectBadPatch(() => decodeRawPatch(withCode({ reference: code.reference, target: [{ ...code.target[0], kind: 7 as CodeKind }] })), /kind 7/);
    });

    it('an unknown flag bit: refused with an upgrade hint', () => {
      const patch = withCode(code);
      const view = new DataView(patch.buffer);
      view.setUint16(6, 3, true);
      view.setUint32(96, crc32(patch.subarray(0, 96)), true); // the header crc covers the flags: keep it valid
      expectBadPatch(() => decodeRawPatch(patch), /version 1\.3; upgrade/);
    });

    it('valid but wrong ranges: the output differs (the sha256 check refuses it)', () => {
      const patch = withCode({ reference: code.reference, target: code.target.map((r) => ({ ...r, fileOffset: r.fileOffset + 1 })) });
      expect(Buffer.from(rebuild(old, patch)).equals(Buffer.from(neu))).toBe(false);
    });
  });
});

describe('the CLI: diff and patch of ELF files', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'dp-raw-elf-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round trip to a file and to stdout, byte for byte; the patch carries code ranges', () => {
    const { old, neu } = elfPair(EM_AARCH64, 48, 9);
    writeFileSync(join(dir, 'old'), old);
    writeFileSync(join(dir, 'new'), neu);
    const d = cli(['-q', 'diff', join(dir, 'old'), join(dir, 'new'), join(dir, 'p')]);
    expect(d.status, d.stderr).toBe(0);
    expect(decodeRawPatch(readFileSync(join(dir, 'p'))).code?.target[0].kind).toBe(CodeKind.ARM64);
    const p = cli(['-q', 'patch', join(dir, 'old'), join(dir, 'p'), join(dir, 'out')]);
    expect(p.status, p.stderr).toBe(0);
    expect(readFileSync(join(dir, 'out')).equals(Buffer.from(neu))).toBe(true);
    const s = cli(['-q', 'patch', join(dir, 'old'), join(dir, 'p'), '-']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout.equals(Buffer.from(neu))).toBe(true);
  });
});
