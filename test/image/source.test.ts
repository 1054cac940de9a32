import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { PatcherError } from '../../src/errors.js';
import { hashBytes, hashStream } from '../../src/image/hash.js';
import { blobSource, memorySource, streamAhead, type ByteSource } from '../../src/image/source.js';
import { fileSource, nodeHasher } from '../../src/image/source.node.js';
import { sliceSource } from '../../src/image/layer-source.js';
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

describe('streamAhead', () => {
  /** memorySource with its reads logged: [offset, length, started while how many others were unresolved]. */
  function loggedSource(data: Uint8Array) {
    const inner = memorySource(data);
    const reads: Array<[number, number, number]> = [];
    let open = 0;
    const source = {
      size: inner.size,
      async read(offset: number, length: number) {
        reads.push([offset, length, open]);
        open++;
        await new Promise((r) => setTimeout(r, 1));
        open--;
        return inner.read(offset, length);
      },
    };
    return { source, reads };
  }

  test('reads 2 MiB at a time, one read ahead, and hands out chunks of at most chunkSize', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 12_345, 7);
    const { source, reads } = loggedSource(data);
    const sizes: number[] = [];
    const chunks: Uint8Array[] = [];
    const readsSeen: number[] = [];
    for await (const c of streamAhead(source, 100, data.length - 100, 300_000)) {
      sizes.push(c.length);
      chunks.push(c.slice());
      readsSeen.push(reads.length);
    }
    // The second read is under way when the first chunk of the first is handed out.
    expect(readsSeen[0]).toBe(2);
    expect(Buffer.concat(chunks).equals(Buffer.from(data.subarray(100)))).toBe(true);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(300_000);
    const MiB2 = 2 * 1024 * 1024;
    expect(reads.map(([o, l]) => [o, l])).toEqual([[100, MiB2], [100 + MiB2, MiB2], [100 + 2 * MiB2, data.length - 100 - 2 * MiB2]]);
    // Never two reads pending at once.
    expect(reads.map(([, , open]) => open)).toEqual([0, 0, 0]);
  });

  test('a chunk size above 2 MiB is the read size; an empty range reads nothing; past the end is refused', async () => {
    const data = randomBytes(9 * 1024 * 1024, 8);
    const { source, reads } = loggedSource(data);
    expect(Buffer.concat(await collectAll(streamAhead(source, 0, undefined, 4 << 20))).equals(Buffer.from(data))).toBe(true);
    expect(reads.map(([, l]) => l)).toEqual([4 << 20, 4 << 20, 1 << 20]);
    reads.length = 0;
    expect(await collectAll(streamAhead(source, 10, 0))).toEqual([]);
    expect(reads).toEqual([]);
    await expect(collectAll(streamAhead(source, 0, data.length + 1))).rejects.toThrow(/read past end/);
  });
});

describe('sliceSource', () => {
  test("streams its range through the source's own stream (a Blob's reads ahead)", async () => {
    const data = randomBytes(3 * 1024 * 1024, 9);
    const blob = blobSource(new Blob([data as Uint8Array<ArrayBuffer>]));
    const ranges: Array<[number | undefined, number | undefined]> = [];
    const spy: ByteSource = { ...blob, stream: (offset, length, chunk) => (ranges.push([offset, length]), blob.stream(offset, length, chunk)) };
    const slice = sliceSource(spy, 1000, data.length - 2000);
    expect(Buffer.concat(await collectAll(slice.stream(10, undefined, 65536))).equals(Buffer.from(data.subarray(1010, data.length - 1000)))).toBe(true);
    expect(ranges).toEqual([[1010, data.length - 2010]]);
    await expect(collectAll(slice.stream(0, data.length))).rejects.toThrow(/read past end of layer/);
  });
});

async function collectAll(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c.slice());
  return out;
}

describe('hashing', () => {
  test('nodeHasher gives sha256:<hex>, whole or streamed', async () => {
    const want = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    expect(hashBytes(nodeHasher, bytes)).toBe(want);
    expect(await hashStream(nodeHasher, memorySource(bytes).stream(0, undefined, 1000))).toBe(want);
  });
});
