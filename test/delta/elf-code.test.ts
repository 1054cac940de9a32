/**
 * Changed ELF executables inside layers: their code is diffed with absolute
 * branch targets (plan.ts marks code ranges, window.ts carries them, apply
 * filters the reference and restores the output). Round trips byte for byte,
 * the patch is smaller than without the filter, windows of big files carry
 * their share of the ranges, and forged ranges fail cleanly. The nginx pair
 * goes through the CLI.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeKind } from '../../src/core/index.js';
import { applyPatch } from '../../src/delta/apply.js';
import { FrameType, encodeFrame } from '../../src/format/image/frames.js';
import { decodeHeader } from '../../src/format/image/container.js';
import { decodeWindow, encodeWindow, type WindowData } from '../../src/format/image/window.js';
import { buildDockerArchive, type FileSpec, type ImageSpec } from '../fixtures/images.js';
import { EM_AARCH64, EM_X86_64, elfPair } from '../fixtures/elf.js';
import { NGINX, REPO_ROOT, unpackPair } from '../fixtures/shared.js';
import { applyToBytes, chunked, expectPatcherError, expectSameBytes, makePatch, nodeHasher, replaceFrame, walkFrames, type FrameAt } from './util.js';
import { memorySource } from '../../src/image/source.js';

function pair(oldFiles: FileSpec[], newFiles: FileSpec[]): [ImageSpec, ImageSpec] {
  const base: FileSpec[] = [{ path: 'etc/os-release', data: 'ID=test\n' }];
  return [{ layers: [base, oldFiles], tags: ['elf:1'] }, { layers: [base, newFiles], tags: ['elf:2'] }];
}

/** The WINDOW frames of a patch, decoded. */
function windows(patch: Uint8Array): Array<{ frame: FrameAt; window: WindowData }> {
  const frames = walkFrames(patch);
  const header = decodeHeader(frames[0].payload, 1 << 30);
  return frames
    .filter((f) => f.type === FrameType.Window)
    .map((frame) => ({ frame, window: decodeWindow(frame.payload, header.old.blobs.length, { maxDiffBytes: 1 << 30, maxRefBytes: 1 << 30 }) }));
}

/** The same file with its ELF magic broken: diffed as plain bytes. */
const notElf = (b: Uint8Array) => {
  const c = b.slice();
  c[1] = 0x46;
  return c;
};

describe('ELF files in a changed layer', () => {
  for (const [name, machine, kind] of [['x86-64', EM_X86_64, CodeKind.X86_64], ['AArch64', EM_AARCH64, CodeKind.ARM64]] as const) {
    it(`${name}: round trip byte for byte, code ranges in the window, smaller than as plain bytes`, async () => {
      const { old, neu } = elfPair(machine, 96);
      const build = async (o: Uint8Array, n: Uint8Array) => {
        const [a, b] = pair([{ path: 'usr/bin/app', data: o }, { path: 'etc/app.conf', data: 'x=1\n' }], [{ path: 'usr/bin/app', data: n }, { path: 'etc/app.conf', data: 'x=2\n' }]);
        return [await buildDockerArchive(a), await buildDockerArchive(b)];
      };
      const [oldImage, newImage] = await build(old, neu);
      const { patch } = await makePatch(oldImage, newImage);
      const coded = windows(patch).filter((w) => w.window.code);
      expect(coded).toHaveLength(1);
      const { reference, target } = coded[0].window.code!;
      expect(reference.map((r) => [r.kind, r.fileOffset])).toEqual([[kind, 0x1000]]);
      expect(target.map((r) => [r.kind, r.fileOffset])).toEqual([[kind, 0x1000]]);
      expectSameBytes((await applyToBytes(oldImage, chunked(patch, 321))).out, newImage);

      const [plainOld, plainNew] = await build(notElf(old), notElf(neu));
      const plain = await makePatch(plainOld, plainNew);
      expect(windows(plain.patch).some((w) => w.window.code)).toBe(false);
      expect(patch.length).toBeLessThan(plain.patch.length * 0.9);
    });
  }

  it('an ELF file larger than the window: each window carries its share of the ranges; round trip', async () => {
    const { old, neu } = elfPair(EM_X86_64, 400, 5);
    expect(neu.length).toBeGreaterThan(4 * 64 * 1024);
    const [a, b] = pair([{ path: 'usr/lib/libbig.so', data: old }], [{ path: 'usr/lib/libbig.so', data: neu }]);
    const [oldImage, newImage] = [await buildDockerArchive(a), await buildDockerArchive(b)];
    const { patch } = await makePatch(oldImage, newImage, { windowSize: 64 * 1024 });
    const coded = windows(patch).filter((w) => w.window.code);
    expect(coded.length).toBeGreaterThanOrEqual(4);
    // File offsets of the output ranges run on from window to window.
    const offsets = coded.flatMap((w) => w.window.code!.target.map((r) => r.fileOffset));
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    expectSameBytes((await applyToBytes(oldImage, patch)).out, newImage);
  });

  it('an ELF file whose twin is not ELF, or another machine: plain bytes, round trip', async () => {
    const x86 = elfPair(EM_X86_64, 16);
    const arm = elfPair(EM_AARCH64, 16, 3);
    const [a, b] = pair(
      [{ path: 'bin/a', data: notElf(x86.old) }, { path: 'bin/b', data: arm.old }],
      [{ path: 'bin/a', data: x86.neu }, { path: 'bin/b', data: x86.neu }],
    );
    const [oldImage, newImage] = [await buildDockerArchive(a), await buildDockerArchive(b)];
    const { patch } = await makePatch(oldImage, newImage);
    expect(windows(patch).some((w) => w.window.code)).toBe(false);
    expectSameBytes((await applyToBytes(oldImage, patch)).out, newImage);
  });
});

describe('forged code ranges', () => {
  let oldImage: Uint8Array;
  let newImage: Uint8Array;
  let patch: Uint8Array;
  let target: { frame: FrameAt; window: WindowData };
  beforeAll(async () => {
    const { old, neu } = elfPair(EM_AARCH64, 32, 7);
    const [a, b] = pair([{ path: 'bin/app', data: old }], [{ path: 'bin/app', data: neu }]);
    [oldImage, newImage] = [await buildDockerArchive(a), await buildDockerArchive(b)];
    ({ patch } = await makePatch(oldImage, newImage));
    target = windows(patch).find((w) => w.window.code)!;
  });
  const forged = (code: WindowData['code']) => replaceFrame(patch, target.frame, encodeFrame(FrameType.Window, encodeWindow({ ...target.window, code })));
  const refuse = (bytes: Uint8Array, code: string, what: string) => expectPatcherError(() => applyPatch(memorySource(oldImage), chunked(bytes), () => {}, { hasher: nodeHasher }), code, what);

  it('re-encoded unchanged, it still applies (the forging is sound)', async () => {
    expectSameBytes((await applyToBytes(oldImage, forged(target.window.code))).out, newImage);
  });

  // (Overlapping ranges cannot be written: each start is coded as a distance past the previous end.)
  it('ranges out of bounds or of an unknown kind: BAD_PATCH, one line', async () => {
    const { reference, target: out } = target.window.code!;
    const r = out[0];
    await refuse(forged({ reference, target: [{ ...r, length: r.length + (1 << 20) }] }), 'BAD_PATCH', 'output range past the window');
    await refuse(forged({ reference: [{ ...reference[0], start: 1 << 30 }], target: out }), 'BAD_PATCH', 'reference range past the reference');
    await refuse(forged({ reference, target: [{ ...r, kind: 9 as CodeKind }] }), 'BAD_PATCH', 'unknown kind');
  });

  it('ranges that are valid but wrong (shifted, dropped, other machine): the digest check refuses the output', async () => {
    const { reference, target: out } = target.window.code!;
    await refuse(forged({ reference, target: out.map((r) => ({ ...r, fileOffset: r.fileOffset + 4 })) }), 'DIGEST_MISMATCH', 'shifted file offset');
    await refuse(forged({ reference, target: [] }), 'DIGEST_MISMATCH', 'output left filtered');
    await refuse(forged({ reference: [], target: out }), 'DIGEST_MISMATCH', 'reference left plain');
    await refuse(forged({ reference, target: out.map((r) => ({ ...r, kind: CodeKind.X86_64 })) }), 'DIGEST_MISMATCH', 'x86 for arm');
  });
});

describe('the nginx pair through the CLI', () => {
  let dir: string;
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('create, apply -o: byte for byte; its libraries and nginx go filtered, the patch below 410 KB (424,207 B unfiltered)', () => {
    dir = unpackPair(NGINX.file);
    const [oldPath, newPath, patchPath, outPath] = [NGINX.old.name, NGINX.new.name, 'p.patch', 'out.tar'].map((n) => join(dir, n));
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/docker-patcher.js'), '-q', ...args], { timeout: 280_000 });
      expect(r.status, r.stderr.toString()).toBe(0);
    };
    run(['create', oldPath, newPath, patchPath]);
    run(['apply', oldPath, NGINX.new.id, patchPath, '-o', outPath]);
    expect(statSync(outPath).size).toBe(NGINX.new.size);
    expectSameBytes(readFileSync(outPath), readFileSync(newPath));
    const patch = readFileSync(patchPath);
    expect(patch.length).toBeLessThan(410_000);
    const coded = windows(patch).filter((w) => w.window.code);
    // libcrypto (4.7 MB: several 1 MiB windows), libssl, nginx, legacy.so and the three engines.
    expect(coded.length).toBeGreaterThanOrEqual(7);
    expect(coded.every((w) => w.window.code!.target.every((r) => r.kind === CodeKind.X86_64))).toBe(true);
  }, 300_000);
});
