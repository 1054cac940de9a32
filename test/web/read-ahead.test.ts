// web/read-ahead.ts on Node's Blob: every read, readInto and stream gives
// the Blob's bytes, across block edges and in any order.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prng } from '../../src/image/sample.js';
import { readAheadSource } from '../../web/read-ahead.js';

const BLOCK = 2 * 1024 * 1024;

describe('readAheadSource', () => {
  const bytes = new Uint8Array(randomBytes(5 * BLOCK + 12_345));
  const blob = new Blob([bytes]);

  it('reads any range, in and across blocks, forwards and backwards', async () => {
    let counted = 0;
    const source = readAheadSource(blob, { onRead: (n) => (counted += n) });
    expect(source.size).toBe(bytes.length);
    const next = prng(0x4ead);
    let asked = 0;
    const ranges: Array<[number, number]> = [
      [0, 0], [0, 1], [BLOCK - 1, 2], [BLOCK, BLOCK], [BLOCK - 5, 2 * BLOCK + 10], [bytes.length - 1, 1], [0, bytes.length],
    ];
    for (let i = 0; i < 200; i++) {
      const offset = next() % bytes.length;
      ranges.push([offset, next() % Math.min(bytes.length - offset + 1, 3 * BLOCK)]);
    }
    for (const [offset, length] of ranges) {
      const got = await source.read(offset, length);
      expect(got.length, `read ${offset}+${length}`).toBe(length);
      expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(offset, offset + length))), `read ${offset}+${length}`).toBe(true);
      const into = new Uint8Array(length);
      await source.readInto!(offset, into);
      expect(Buffer.from(into).equals(Buffer.from(bytes.subarray(offset, offset + length))), `readInto ${offset}+${length}`).toBe(true);
      asked += 2 * length;
    }
    expect(counted).toBe(asked);
  });

  it('streams a range in chunks', async () => {
    const source = readAheadSource(blob);
    const parts: Uint8Array[] = [];
    for await (const chunk of source.stream(777, bytes.length - 1000, 100_000)) parts.push(chunk.slice());
    expect(Buffer.concat(parts).equals(Buffer.from(bytes.subarray(777, bytes.length - 223)))).toBe(true);
  });

  it('refuses a range past the end with a one-line IO error', async () => {
    const source = readAheadSource(blob);
    await expect(source.read(bytes.length - 10, 11)).rejects.toMatchObject({ code: 'IO', message: expect.stringMatching(/outside its \d+ bytes/) });
    await expect(source.readInto!(-1, new Uint8Array(4))).rejects.toMatchObject({ code: 'IO' });
  });

  it('reports a Blob that fails to read, and reads again once it can', async () => {
    let fail = true;
    const flaky = {
      size: blob.size,
      slice: (a: number, b: number) => (fail ? { arrayBuffer: () => Promise.reject(new Error('NotReadableError')) } : blob.slice(a, b)),
    } as unknown as Blob;
    const source = readAheadSource(flaky);
    await expect(source.read(10, 20)).rejects.toThrow(/NotReadableError/);
    fail = false;
    expect(Buffer.from(await source.read(10, 20)).equals(Buffer.from(bytes.subarray(10, 30)))).toBe(true);
  });
});
