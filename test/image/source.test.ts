import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { PatcherError } from '../../src/errors.js';
import { hashBytes, hashStream } from '../../src/image/hash.js';
import { blobSource, memorySource, type ByteSource } from '../../src/image/source.js';
import { fileSource, nodeHasher } from '../../src/image/source.node.js';
import { randomBytes } from '../fixtures/images.js';
import { collect } from './util.js';

const bytes = randomBytes(100_003, 42);
const dir = mkdtempSync(join(tmpdir(), 'dp-src-'));
const path = join(dir, 'data.bin');
writeFileSync(path, bytes);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sources: Array<[string, () => Promise<ByteSource>]> = [
  ['memorySource', async () => memorySource(bytes)],
  ['blobSource', async () => blobSource(new Blob([bytes as Uint8Array<ArrayBuffer>]))],
  ['fileSource', () => fileSource(path)],
];

describe.each(sources)('%s', (_name, make) => {
  test('reads at positions and streams in chunks', async () => {
    const src = await make();
    expect(src.size).toBe(bytes.length);
    expect(await src.read(1000, 77)).toEqual(bytes.subarray(1000, 1077));
    expect(await src.read(bytes.length, 0)).toEqual(new Uint8Array(0));
    expect(await collect(src.stream())).toEqual(bytes);
    const sizes: number[] = [];
    for await (const c of src.stream(5, 10_000, 4096)) sizes.push(c.length);
    expect(sizes).toEqual([4096, 4096, 1808]);
    expect(await collect(src.stream(99_000, undefined, 333))).toEqual(bytes.subarray(99_000));
    await src.close?.();
  });

  test('refuses reads past the end with a one-line error', async () => {
    const src = await make();
    const err = await src.read(bytes.length - 5, 10).catch((e) => e);
    expect(err).toBeInstanceOf(PatcherError);
    expect(err.code).toBe('IO');
    expect(err.message).toMatch(/^read past end of .*: 99998\+10 > 100003 bytes$/);
    await expect(collect(src.stream(0, bytes.length + 1))).rejects.toThrow(/read past end/);
    await src.close?.();
  });
});

describe('fileSource', () => {
  test('missing file, directory', async () => {
    const missing = await fileSource(join(dir, 'nope.tar')).catch((e) => e);
    expect(missing).toBeInstanceOf(PatcherError);
    expect(missing.code).toBe('IO');
    expect(missing.message).toBe(`cannot read ${join(dir, 'nope.tar')}: no such file or directory`);
    const isDir = await fileSource(dir).catch((e) => e);
    expect(isDir.message).toBe(`cannot read ${dir}: is a directory`);
  });
});

describe('hashing', () => {
  test('nodeHasher gives sha256:<hex>, whole or streamed', async () => {
    const want = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    expect(hashBytes(nodeHasher, bytes)).toBe(want);
    expect(await hashStream(nodeHasher, memorySource(bytes).stream(0, undefined, 1000))).toBe(want);
  });
});
