import { beforeAll, describe, expect, test } from 'vitest';
import { PatcherError } from '../../src/errors.js';
import { layerStoredDigest, openImageArchive, openLayer, type ImageArchive } from '../../src/image/archive.js';
import { hashBytes } from '../../src/image/hash.js';
import { memorySource } from '../../src/image/source.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { indexTar } from '../../src/image/tar.js';
import {
  buildDockerArchive, buildDockerOciArchive, buildLayerTar, buildOciArchive, emptyLayersSpec,
  samplePair, sharedLayerPair, type ImageSpec,
} from '../fixtures/images.js';
import { collect } from './util.js';

const hasher = nodeHasher;
const open = (bytes: Uint8Array, image?: string) => openImageArchive(memorySource(bytes), { hasher, image });
const text = (u8: Uint8Array) => new TextDecoder().decode(u8);

const layouts: Array<[string, (s: ImageSpec) => Promise<Uint8Array>, ImageArchive['kind'], 'none' | 'gzip']> = [
  ['legacy docker save', buildDockerArchive, 'docker-legacy', 'none'],
  ['Docker 25 OCI save', buildDockerOciArchive, 'docker-oci', 'none'],
  ['OCI archive', (s) => buildOciArchive(s, { gzip: false }), 'oci-archive', 'none'],
  ['OCI archive, gzip layers', (s) => buildOciArchive(s, { gzip: true }), 'oci-archive', 'gzip'],
];

const pair = samplePair();
let layerTars: Uint8Array[];
beforeAll(async () => {
  layerTars = await Promise.all(pair.new.layers.map(buildLayerTar));
});

describe.each(layouts)('%s', (_name, build, kind, compression) => {
  test('parses kind, image ID, tags and layers', async () => {
    const bytes = await build(pair.new);
    const src = memorySource(bytes);
    const image = await openImageArchive(src, { hasher });
    expect(image.kind).toBe(kind);
    expect(image.imageId).toBe(hashBytes(hasher, image.config));
    expect(image.tags.some((t) => t.endsWith('dp-sample/app:v2'))).toBe(true);
    const config = JSON.parse(text(image.config));
    expect(image.layers.map((l) => l.diffId)).toEqual(config.rootfs.diff_ids);
    expect(image.layers.map((l) => l.compression)).toEqual(layerTars.map(() => compression));
    expect(image.entries).toEqual((await indexTar(src)).entries);
    for (const [i, layer] of image.layers.entries()) {
      expect(await collect(openLayer(src, image, i, { hasher, chunkSize: 1000 }))).toEqual(layerTars[i]);
      const stored = await src.read(layer.entry.dataOffset, layer.storedSize);
      expect(await layerStoredDigest(src, image, i, hasher)).toBe(hashBytes(hasher, stored));
    }
  });

  test('same config bytes, same image ID as the other layouts', async () => {
    const legacy = await open(await buildDockerArchive(pair.old));
    expect((await open(await build(pair.old))).imageId).toBe(legacy.imageId);
  });
});

describe('sample pair', () => {
  test('is deterministic in every layout', async () => {
    for (const [, build] of layouts) {
      const a = await build(samplePair().new);
      const b = await build(samplePair().new);
      expect(Buffer.compare(a, b)).toBe(0);
    }
  });
});

describe('legacy docker save layout', () => {
  test('entries are laid out as Docker 20.10 writes them', async () => {
    const image = await open(await buildDockerArchive(pair.old));
    const names = image.entries.map((e) => e.name);
    const ids = image.layers.map((l) => l.entryName.split('/')[0]);
    const perLayer = (id: string) => [`${id}/`, `${id}/VERSION`, `${id}/json`, `${id}/layer.tar`];
    const expected = [...ids.map((id) => perLayer(id)), [`${image.imageId.slice(7)}.json`], ['manifest.json', 'repositories']];
    expect(names).toEqual(expected.flat().sort((a, b) => (a.split('/')[0] < b.split('/')[0] ? -1 : a.split('/')[0] > b.split('/')[0] ? 1 : 0)));
    const entry = (name: string) => image.entries.find((e) => e.name === name)!;
    const src = memorySource(await buildDockerArchive(pair.old));
    const read = async (name: string) => text(await src.read(entry(name).dataOffset, entry(name).size));
    expect(await read(`${ids[0]}/VERSION`)).toBe('1.0');
    expect(JSON.parse(await read('manifest.json'))).toEqual([
      { Config: `${image.imageId.slice(7)}.json`, RepoTags: ['dp-sample/app:v1'], Layers: ids.map((id) => `${id}/layer.tar`) },
    ]);
    expect(JSON.parse(await read('repositories'))).toEqual({ 'dp-sample/app': { v1: ids[ids.length - 1] } });
    expect(JSON.parse(await read(`${ids[1]}/json`)).parent).toBe(ids[0]);
    expect(image.end.trailer).toEqual(new Uint8Array(1024));
  });

  test('a repeated layer is saved once and linked; the link is followed', async () => {
    const bytes = await buildDockerArchive(emptyLayersSpec());
    const src = memorySource(bytes);
    const image = await openImageArchive(src, { hasher });
    const links = image.entries.filter((e) => e.type === 'symlink');
    expect(links).toHaveLength(1);
    expect(links[0].linkname).toMatch(/^\.\.\/[0-9a-f]{64}\/layer\.tar$/);
    expect(image.layers[1].diffId).toBe(image.layers[2].diffId);
    expect(image.layers[2].entryName).toBe(image.layers[1].entryName);
    for (let i = 0; i < 3; i++) await collect(openLayer(src, image, i, { hasher }));
  });

  test('two images sharing a layer, in one archive and in two', async () => {
    const [one, two] = sharedLayerPair();
    const a = await open(await buildDockerArchive(one));
    const b = await open(await buildDockerArchive(two));
    expect(a.layers[0].diffId).toBe(b.layers[0].diffId);
    expect(a.layers[0].entryName).toBe(b.layers[0].entryName);
    expect(a.imageId).not.toBe(b.imageId);
    const both = await buildDockerArchive([one, two]);
    expect((await open(both)).imageId).toBe(a.imageId);
    expect((await open(both, 'dp-test/two:1')).imageId).toBe(b.imageId);
    expect((await open(both, b.imageId)).tags).toEqual(['dp-test/two:1']);
    expect((await open(both)).entries.filter((e) => e.name.endsWith('/layer.tar'))).toHaveLength(3);
    const missing = await open(both, 'dp-test/three:1').catch((e) => e);
    expect(missing).toMatchObject({ code: 'NOT_FOUND', message: 'image dp-test/three:1 is not in the archive' });
  });
});

describe('bad archives', () => {
  const expectBad = async (bytes: Uint8Array, message: RegExp) => {
    const err = await open(bytes).catch((e) => e);
    expect(err).toBeInstanceOf(PatcherError);
    expect(err.code).toBe('BAD_IMAGE');
    expect(err.message).toMatch(message);
  };

  test('a tar that is not an image, and a file that is not a tar', async () => {
    await expectBad(await buildLayerTar([{ path: 'a.txt', data: 'a' }, { path: 'b', type: 'directory' }]), /^not a docker save or OCI archive: found a.txt, b\/$/);
    await expectBad(new TextEncoder().encode('{}'.repeat(600)), /^not a tar archive: /);
  });

  test('a config that does not match its digest', async () => {
    for (const build of [buildDockerArchive, buildDockerOciArchive]) {
      const bytes = await build(pair.old);
      const image = await open(bytes);
      const config = image.entries.find((e) => e.name.includes(image.imageId.slice(7)))!;
      bytes[config.dataOffset + 2] ^= 1;
      await expectBad(bytes, /does not match its digest/);
    }
  });

  test('missing layer, manifest without layers', async () => {
    const bytes = await buildDockerArchive(pair.old);
    const image = await open(bytes);
    const layer = image.entries.find((e) => e.name === image.layers[2].entryName)!;
    bytes.set(new TextEncoder().encode('X'), layer.headerOffset); // rename it (header checksum fixed below)
    fixChecksum(bytes, layer.headerOffset);
    await expectBad(bytes, /^bad image archive: layer .* is missing$/);
  });

  test('a layer whose content does not match its diff_id', async () => {
    const bytes = await buildDockerArchive(pair.old);
    const image = await open(bytes);
    const layer = image.layers[0].entry;
    bytes[layer.dataOffset + layer.size - 2000] ^= 0xff; // inside blob.bin's data
    const src = memorySource(bytes);
    const err = await collect(openLayer(src, await openImageArchive(src, { hasher }), 0, { hasher })).catch((e) => e);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  test('a truncated gzip layer', async () => {
    const bytes = await buildOciArchive(pair.old, { gzip: true });
    const src = memorySource(bytes);
    const image = await openImageArchive(src, { hasher });
    const cut = { ...image, layers: image.layers.map((l) => ({ ...l, storedSize: l.storedSize - 1000 })) };
    const err = await collect(openLayer(src, cut, 0)).catch((e) => e);
    expect(err).toBeInstanceOf(PatcherError);
    expect(err.message).toMatch(/^corrupt gzip layer blobs\/sha256\/[0-9a-f]+: /);
  });
});

/** Recompute a ustar header checksum in place. */
function fixChecksum(bytes: Uint8Array, at: number): void {
  const h = bytes.subarray(at, at + 512);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
}
