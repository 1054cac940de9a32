// The one tar writer (tar-header.ts encodeEntryHeader, used by build.ts for
// layers and outer archives): GNU tar and our reader must both see exactly
// the names, link targets, types and data that went in, long names included.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { memorySource } from '../../src/image/source.js';
import { splitUstarName } from '../../src/image/tar-header.js';
import { indexTar } from '../../src/image/tar.js';
import { buildLayerTar, type FileSpec } from '../fixtures/images.js';

const LONG_DIR = `opt/${'long-directory-name/'.repeat(6)}`;
const SPECS: FileSpec[] = [
  { path: 'opt', type: 'directory' },
  { path: 'opt/short.txt', data: 'short\n' },
  { path: `${LONG_DIR}file-needing-a-prefix.txt`, data: 'prefix\n' },
  { path: `opt/${'x'.repeat(120)}.bin`, data: new Uint8Array(1000).fill(7) },
  { path: `${LONG_DIR}${'ü'.repeat(60)}`, data: 'unicode\n' },
  { path: 'opt/long-link', type: 'symlink', linkname: `/${'target/'.repeat(20)}end` },
  { path: `${LONG_DIR}${'d'.repeat(110)}`, type: 'directory' },
  { path: 'opt/hard', type: 'link', linkname: 'opt/short.txt' },
];

describe('tar writer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dp-tarw-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('GNU tar lists exactly the entries written, long names and link targets included', async () => {
    const file = join(dir, 'layer.tar');
    writeFileSync(file, await buildLayerTar(SPECS));
    const listed = execFileSync('tar', ['--numeric-owner', '-tvf', file], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toHaveLength(SPECS.length);
    SPECS.forEach((spec, i) => {
      const name = spec.type === 'directory' ? `${spec.path}/` : spec.path;
      expect(listed[i]).toContain(name);
      if (spec.type === 'symlink') expect(listed[i]).toMatch(new RegExp(`^l.* -> ${spec.linkname}$`));
      if (spec.type === 'link') expect(listed[i]).toMatch(/^h.* link to opt\/short\.txt$/);
    });
    const extracted = join(dir, 'x');
    execFileSync('mkdir', ['-p', extracted]);
    execFileSync('tar', ['-xf', file, '-C', extracted]);
    expect(execFileSync('cat', [join(extracted, `${LONG_DIR}${'ü'.repeat(60)}`)], { encoding: 'utf8' })).toBe('unicode\n');
  });

  test('our reader resolves the same names, and uses PAX only where ustar cannot hold the name', async () => {
    const entries = (await indexTar(memorySource(await buildLayerTar(SPECS)))).entries;
    expect(entries.map((e) => e.name)).toEqual(SPECS.map((s) => (s.type === 'directory' ? `${s.path}/` : s.path)));
    expect(entries.map((e) => e.type)).toEqual(SPECS.map((s) => s.type ?? 'file'));
    expect(entries[5].linkname).toBe(SPECS[5].linkname);
    expect(entries[7].linkname).toBe('opt/short.txt');
    // short name, prefix split: one block; too long for any split, or a long link: PAX block + records + header.
    expect(entries.map((e) => e.header.length > 512)).toEqual([false, false, false, true, true, true, true, false]);
  });

  test('splits names as Go archive/tar does: the longest prefix up to 155 bytes', () => {
    const name = `${'a'.repeat(50)}/${'b'.repeat(50)}/${'c'.repeat(50)}/file`;
    expect(splitUstarName(name)).toEqual({ prefix: `${'a'.repeat(50)}/${'b'.repeat(50)}/${'c'.repeat(50)}`, name: 'file' });
    expect(splitUstarName(`${'a'.repeat(101)}`)).toBeUndefined();
    expect(splitUstarName(`${'a'.repeat(160)}/b`)).toBeUndefined();
    expect(splitUstarName(`dir/${'d'.repeat(99)}/`)).toEqual({ prefix: 'dir', name: `${'d'.repeat(99)}/` });
  });
});
