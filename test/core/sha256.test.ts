// The core's sha256 (assembly/sha256.ts through loadSha256): the FIPS 180-4
// examples, and node:crypto's digest on random inputs in random chunkings.
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSha256, type CoreHasher } from '../../src/core/index.js';
import type { HasherFactory } from '../../src/image/hash.js';
import { prng } from '../../src/image/sample.js';

let newHasher: () => CoreHasher;
beforeAll(async () => {
  newHasher = await loadSha256();
});

const nodeDigest = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function digestOf(parts: Uint8Array[]): string {
  const h = newHasher();
  for (const part of parts) h.update(part);
  return h.digest();
}

/** `bytes` cut at random points: empty pieces, single bytes, block-sized and large ones. */
function randomChunks(bytes: Uint8Array, next: () => number): Uint8Array[] {
  const sizes = [0, 1, 3, 63, 64, 65, 511, 4096, 70_000, 300_000];
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, next() % 2 ? next() % 200 : sizes[next() % sizes.length]);
    parts.push(bytes.subarray(at, at + n));
    at += n;
  }
  return parts;
}

describe('core sha256', () => {
  it('is a HasherFactory', () => {
    const factory: HasherFactory = newHasher;
    expect(factory().digest()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('gives the FIPS 180-4 example digests', () => {
    const text = (s: string) => digestOf([new TextEncoder().encode(s)]);
    expect(text('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(text('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      'sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(text('abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu')).toBe(
      'sha256:cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
    );
    expect(digestOf([new Uint8Array(1_000_000).fill(0x61)])).toBe(
      'sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('matches node:crypto at every length around the padding boundaries (0..300 bytes)', () => {
    const bytes = randomBytes(300);
    for (let n = 0; n <= 300; n++) expect(digestOf([bytes.subarray(0, n)]), `length ${n}`).toBe(nodeDigest(bytes.subarray(0, n)));
  });

  it('matches node:crypto on random lengths up to 10^6 in random chunkings', () => {
    const next = prng(0x5a256);
    for (let round = 0; round < 40; round++) {
      const size = next() % 1_000_001;
      const bytes = randomBytes(size);
      const parts = randomChunks(bytes, next);
      expect(digestOf(parts), `round ${round}: ${size} bytes in ${parts.length} pieces`).toBe(nodeDigest(bytes));
    }
  });

  it('keeps hashers apart: interleaved updates of several open hashers', () => {
    const inputs = [randomBytes(10_000), randomBytes(333_333), randomBytes(64)];
    const hashers = inputs.map(() => newHasher());
    for (let at = 0; at < 333_333; at += 1000) inputs.forEach((b, i) => hashers[i].update(b.subarray(at, at + 1000)));
    expect(hashers.map((h) => h.digest())).toEqual(inputs.map(nodeDigest));
  });

  it('hashes an input larger than its copy buffer in one update', () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 5);
    expect(digestOf([bytes])).toBe(nodeDigest(bytes));
  });

  it('matches node:crypto when a partial block is pending before a run of whole blocks', () => {
    // The core compresses all whole blocks of an update in one call: every
    // split point in the first two blocks, then the rest in one piece.
    const bytes = randomBytes(64 * 40 + 17);
    for (let cut = 0; cut <= 130; cut++) {
      expect(digestOf([bytes.subarray(0, cut), bytes.subarray(cut)]), `cut at ${cut}`).toBe(nodeDigest(bytes));
    }
    for (const size of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, (1 << 20) + 7, (1 << 20) + 63]) {
      const big = randomBytes(size);
      expect(digestOf([big]), `${size} bytes`).toBe(nodeDigest(big));
      expect(digestOf([big.subarray(0, 3), big.subarray(3)]), `${size} bytes after 3`).toBe(nodeDigest(big));
    }
  });

  it('refuses update or digest after digest', () => {
    const h = newHasher();
    h.digest();
    expect(() => h.update(new Uint8Array(1))).toThrow(/after digest/);
    expect(() => h.digest()).toThrow(/twice/);
  });
});
