/**
 * concatSources (reads across part boundaries, odd chunk sizes, slices)
 * and legacyArchiveSource: the classic docker save form it presents opens
 * as an image archive with the config digest as image ID, the tags given,
 * and each layer's bytes; a layer listed twice is stored once.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openImageArchive, openLayer } from '../../src/image/archive.js';
import { concatSources } from '../../src/image/concat-source.js';
import { buildLayerTar } from '../../src/image/build.js';
import { hashBytes } from '../../src/image/hash.js';
import { legacyArchiveSource } from '../../src/image/legacy-archive.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { memorySource } from '../../src/image/source.js';

const collect = async (chunks: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
};

describe('concatSources', () => {
  const pieces = [randomBytes(1000), randomBytes(0), randomBytes(1), randomBytes(4097), randomBytes(333)];
  const whole = Buffer.concat(pieces);
  const source = concatSources(pieces.map((p) => ({ source: memorySource(p) })));

  it('reads any range, across boundaries, as the concatenation', async () => {
    expect(source.size).toBe(whole.length);
    for (const [offset, length] of [[0, whole.length], [999, 3], [1000, 1], [1001, 4097], [5000, 431], [0, 0], [whole.length, 0]] as const) {
      expect(Buffer.from(await source.read(offset, length)).equals(whole.subarray(offset, offset + length))).toBe(true);
    }
  });

  it('streams in odd chunk sizes', async () => {
    for (const chunk of [1, 321, 4096, 1 << 20]) expect((await collect(source.stream(0, undefined, chunk))).equals(whole)).toBe(true);
    expect((await collect(source.stream(17, 3000, 321))).equals(whole.subarray(17, 3017))).toBe(true);
  });

  it('takes slices of its parts and refuses reads past the end', async () => {
    const sliced = concatSources([{ source: memorySource(whole), offset: 10, length: 20 }, { source: memorySource(whole), offset: 0, length: 5 }]);
    expect(Buffer.from(await sliced.read(0, 25)).equals(Buffer.concat([whole.subarray(10, 30), whole.subarray(0, 5)]))).toBe(true);
    await expect(sliced.read(20, 6)).rejects.toThrow(/read past end/);
  });
});

describe('legacyArchiveSource', () => {
  it('opens as a docker save archive with the config digest as ID, the tags and the layers', async () => {
    const layers = [await buildLayerTar([{ path: 'a', data: 'one' }]), await buildLayerTar([{ path: 'b', data: randomBytes(3000).toString('hex') }])];
    const diffIds = layers.map((l) => hashBytes(nodeHasher, l));
    const config = new TextEncoder().encode(JSON.stringify({ created: '2024-05-01T00:00:00Z', os: 'linux', architecture: 'arm64', rootfs: { type: 'layers', diff_ids: [diffIds[0], diffIds[1], diffIds[0]] } }));
    const configDigest = hashBytes(nodeHasher, config);
    const list = [0, 1, 0].map((i) => ({ diffId: diffIds[i]!, source: memorySource(layers[i]!) }));
    const src = legacyArchiveSource({ config, configDigest, tags: ['127.0.0.1:5000/app:2'], layers: list });
    const archive = await openImageArchive(src, { hasher: nodeHasher });
    expect(archive.kind).toBe('docker-legacy');
    expect(archive.imageId).toBe(configDigest);
    expect(archive.tags).toEqual(['127.0.0.1:5000/app:2']);
    expect(archive.layers.map((l) => l.diffId)).toEqual([diffIds[0], diffIds[1], diffIds[0]]);
    // Stored once: two layer.tar entries for three layers.
    expect(archive.entries.filter((e) => e.name.endsWith('/layer.tar'))).toHaveLength(2);
    for (const i of [0, 1, 2]) {
      const bytes = await collect(openLayer(src, archive, i, { hasher: nodeHasher }));
      expect(bytes.equals(Buffer.from(layers[[0, 1, 0][i]!]!))).toBe(true);
    }
    // Whole, it ends in two zero blocks, a multiple of 512 bytes.
    const whole = await collect(src.stream(0, undefined, 777));
    expect(whole.length % 512).toBe(0);
    expect(whole.subarray(-1024).every((b) => b === 0)).toBe(true);
  });
});
