import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { browserHasher, sha256Bytes } from '../../src/image/sha256.js';
import type { HasherFactory } from '../../src/image/hash.js';

function nodeDigest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Feed `bytes` in random-size chunks (0..maxChunk bytes, empty chunks included). */
function chunkedDigest(bytes: Uint8Array, maxChunk: number, random: () => number): string {
  const hasher = browserHasher();
  for (let pos = 0; pos < bytes.length; ) {
    const n = Math.min(bytes.length - pos, Math.floor(random() * (maxChunk + 1)));
    hasher.update(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return hasher.digest();
}

/** A small seeded PRNG (mulberry32) so a failure can be rerun. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('browserHasher (pure-TS sha256)', () => {
  it('is a HasherFactory', () => {
    const factory: HasherFactory = browserHasher;
    expect(typeof factory().update).toBe('function');
  });

  it('matches the FIPS 180-4 examples', () => {
    const hash = (s: string) => {
      const h = browserHasher();
      h.update(new TextEncoder().encode(s));
      return h.digest();
    };
    expect(hash('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hash('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hash('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      'sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches node:crypto at every length around the padding boundaries (0..300 bytes)', () => {
    const bytes = randomBytes(300);
    for (let n = 0; n <= 300; n++) {
      const h = browserHasher();
      h.update(bytes.subarray(0, n));
      expect(h.digest(), `length ${n}`).toBe(nodeDigest(bytes.subarray(0, n)));
    }
  });

  it('matches node:crypto on random inputs fed in random chunks', () => {
    const random = prng(20240611);
    for (let round = 0; round < 60; round++) {
      const size = Math.floor(random() * (round < 40 ? 5000 : 300_000));
      const bytes = randomBytes(size);
      const maxChunk = [1, 7, 63, 64, 65, 321, 4096, 100_000][round % 8];
      expect(chunkedDigest(bytes, maxChunk, random), `round ${round}, size ${size}, chunks <= ${maxChunk}`).toBe(
        nodeDigest(bytes),
      );
    }
  });

  it('hashes a few MiB in one update like node:crypto', () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 17);
    const h = browserHasher();
    h.update(bytes);
    expect(h.digest()).toBe(nodeDigest(bytes));
  });

  it('sha256Bytes concatenates its parts', () => {
    const a = randomBytes(100);
    const b = randomBytes(29);
    expect(Buffer.from(sha256Bytes(a, b)).toString('hex')).toBe(
      createHash('sha256').update(a).update(b).digest('hex'),
    );
  });

  it('refuses update or digest after digest', () => {
    const h = browserHasher();
    h.digest();
    expect(() => h.update(new Uint8Array(1))).toThrow(/after digest/);
    expect(() => h.digest()).toThrow(/twice/);
  });
});
