import { beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ensureBuilt, listDir, scratchDir } from './helpers.js';
import { debianBsdiff, encodeBsdiff43, mutate, randomBytes } from '../format/helpers.js';
import { decodeClassicPatch } from '../../src/format/single/classic.js';
import { crc32 } from '../../src/format/single/checksum.js';
import { reportError } from '../../src/cli/main.js';
import { PatcherError } from '../../src/errors.js';

const old = randomBytes(200_000, 5);
const neu = mutate(old, 80, 9);
let dir: string;
let patchPath: string;

/** One line on stderr, prefixed with the program name. */
function expectOneLine(stderr: string, pattern?: RegExp): void {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(/^docker-patcher: /);
  if (pattern) expect(stderr).toMatch(pattern);
}

beforeAll(() => {
  ensureBuilt();
  dir = scratchDir();
  writeFileSync(join(dir, 'old'), old);
  writeFileSync(join(dir, 'new'), neu);
  patchPath = join(dir, 'good.patch');
  const r = cli(['-q', 'diff', join(dir, 'old'), join(dir, 'new'), patchPath]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 300_000);

describe('docker-patcher diff / patch', () => {
  it('round-trips files', () => {
    const r = cli(['patch', join(dir, 'old'), patchPath, join(dir, 'out')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/sha256 verified/);
    expect(readFileSync(join(dir, 'out')).equals(Buffer.from(neu))).toBe(true);
  });

  it('reads the patch from stdin and writes NEW to stdout', () => {
    const r = cli(['--quiet', 'patch', join(dir, 'old'), '-', '-'], readFileSync(patchPath));
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.equals(Buffer.from(neu))).toBe(true);
  });

  it('diffs NEW from stdin to a patch on stdout', () => {
    const r = cli(['-q', 'diff', join(dir, 'old'), '-', '-'], neu);
    expect(r.status).toBe(0);
    writeFileSync(join(dir, 'piped.patch'), r.stdout);
    const back = cli(['-q', 'patch', join(dir, 'old'), join(dir, 'piped.patch'), '-']);
    expect(back.stdout.equals(Buffer.from(neu))).toBe(true);
  });

  it('applies classic patches: Debian bsdiff and both BSDIFF43 variants', () => {
    const p40 = debianBsdiff(old, neu);
    const { delta } = decodeClassicPatch(p40);
    for (const [name, bytes] of [['p40', p40], ['p43le', encodeBsdiff43(delta, neu.length, 'le')], ['p43be', encodeBsdiff43(delta, neu.length, 'be')]] as const) {
      writeFileSync(join(dir, name), bytes);
      const r = cli(['patch', join(dir, 'old'), join(dir, name), join(dir, `${name}.out`)]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/size verified/);
      expect(readFileSync(join(dir, `${name}.out`)).equals(Buffer.from(neu))).toBe(true);
    }
  });
});

describe('failures leave nothing behind', () => {
  function expectFailure(args: string[], status: number, pattern: RegExp, input?: Uint8Array): void {
    const work = scratchDir();
    writeFileSync(join(work, 'old'), old);
    writeFileSync(join(work, 'patch'), readFileSync(patchPath));
    const before = listDir(work);
    const r = cli(args.map((a) => a.replace('$W', work)), input);
    expect(r.status, r.stderr).toBe(status);
    expectOneLine(r.stderr, pattern);
    expect(listDir(work)).toEqual(before);
  }

  it('refuses the wrong OLD (exit 6)', () => {
    expectFailure(['patch', '$W/patch', '$W/patch', '$W/out'], 6, /not the file this patch was made from/);
  });

  it('refuses a corrupt patch (exit 5)', () => {
    const bad = readFileSync(patchPath);
    bad[bad.length - 10] ^= 0x40;
    expectFailure(['patch', '$W/old', '-', '$W/out'], 5, /patch corrupt: .*checksum mismatch/, bad);
  });

  it('refuses a truncated patch (exit 5)', () => {
    expectFailure(['patch', '$W/old', '-', '$W/out'], 5, /patch corrupt/, readFileSync(patchPath).subarray(0, 150));
  });

  it('refuses an unknown format (exit 5)', () => {
    expectFailure(['patch', '$W/old', '-', '$W/out'], 5, /unknown patch format/, Buffer.from('hello, not a patch'));
  });

  it('removes the output when the sha256 promise is broken (exit 7)', () => {
    const bad = readFileSync(patchPath);
    bad[70] ^= 1; // inside sha256(new); re-seal the header checksum
    bad.writeUInt32LE(crc32(bad.subarray(0, 96)), 96);
    expectFailure(['patch', '$W/old', '-', '$W/out'], 7, /sha256 .* promised/, bad);
  });

  it('reports a missing file (exit 3)', () => {
    expectFailure(['patch', '$W/nope', '$W/patch', '$W/out'], 3, /cannot read OLD '.*nope': no such file/);
    expectFailure(['diff', '$W/old', '$W/old', '$W/no/such/dir/p'], 3, /cannot create PATCH/);
  });

  it('reports usage errors (exit 2)', () => {
    expectFailure(['patch', '$W/old'], 2, /missing required argument/);
    expectFailure(['diff', '-', '-', '$W/p'], 2, /only one input can be '-'/);
    expectFailure(['frobnicate'], 2, /unknown command/);
    expectFailure(['diff', '--level', '12', '$W/old', '$W/old', '$W/p'], 2, /0 to 9/);
  });
});

describe('help and errors', () => {
  it('prints help for the program and each command', () => {
    for (const args of [['--help'], ['diff', '--help'], ['patch', '--help'], ['help', 'patch']]) {
      const r = cli(args);
      expect(r.status).toBe(0);
      expect(r.stdout.toString()).toMatch(/Usage: docker-patcher/);
    }
  });

  it('reports unexpected errors as internal, stack only with --debug', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(reportError(new TypeError('x is undefined'), false)).toBe(1);
      expect(String(write.mock.calls[0][0])).toBe('docker-patcher: internal error: x is undefined (run with --debug for details)\n');
      expect(write).toHaveBeenCalledTimes(1);
      expect(reportError(new PatcherError('IO', 'disk on fire'), true)).toBe(3);
      expect(String(write.mock.calls[2][0])).toMatch(/^PatcherError: disk on fire\n\s+at /);
    } finally {
      write.mockRestore();
    }
  });
});
