import { beforeAll, describe, expect, test } from 'vitest';
import { openImageArchive, openLayer, type ImageArchive } from '../../src/image/archive.js';
import { ImageFileMap, indexLayer, normalizePath, type LayerIndex } from '../../src/image/layer-index.js';
import { memorySource, type ByteSource } from '../../src/image/source.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { buildDockerArchive, buildLayerTar, SAMPLE_LONG_PATH, samplePair, type FileSpec } from '../fixtures/images.js';
import { chunked } from './util.js';

const hasher = nodeHasher;

/** Index every layer of an archive; return the map and the source to read data from. */
async function mapOf(bytes: Uint8Array) {
  const src = memorySource(bytes);
  const image = await openImageArchive(src, { hasher });
  const indexes: LayerIndex[] = [];
  for (let i = 0; i < image.layers.length; i++) indexes.push(await indexLayer(openLayer(src, image, i), { hasher }));
  const map = new ImageFileMap(image.layers.map((l, i) => ({ diffId: l.diffId, index: indexes[i] })));
  return { src, image, indexes, map };
}

/** The bytes of `path` as stored in its layer. */
async function dataOf(src: ByteSource, image: ImageArchive, map: ImageFileMap, path: string): Promise<string> {
  const loc = map.resolve(path)!;
  const layer = image.layers[loc.layer].entry; // uncompressed legacy layers: offsets add up
  return new TextDecoder().decode(await src.read(layer.dataOffset + loc.dataOffset, loc.size));
}

const pair = samplePair();
let oldMap: Awaited<ReturnType<typeof mapOf>>;
let newMap: Awaited<ReturnType<typeof mapOf>>;
beforeAll(async () => {
  oldMap = await mapOf(await buildDockerArchive(pair.old));
  newMap = await mapOf(await buildDockerArchive(pair.new));
});

describe('indexLayer', () => {
  test('normalizes paths', () => {
    expect(['./a/b/', '/a/b', 'a/b', '././a/b//', './', '.', ''].map(normalizePath)).toEqual(['a/b', 'a/b', 'a/b', 'a/b', '', '', '']);
  });

  test('records paths, types, offsets and the diff_id in one pass', async () => {
    const { image, indexes } = oldMap;
    indexes.forEach((index, i) => {
      expect(index.diffId).toBe(image.layers[i].diffId);
      expect(index.size).toBe(image.layers[i].storedSize);
    });
    const layer1 = indexes[1].entries.map(({ path, type, linkname, size, headerSize }) => ({ path, type, linkname, size, headerSize }));
    expect(layer1).toEqual([
      { path: 'app/current', type: 'symlink', linkname: 'data/blob.bin', size: 0, headerSize: 512 },
      { path: 'app/bin/start.sh', type: 'file', linkname: '', size: 32, headerSize: 512 },
      { path: 'app/bin/stop.sh', type: 'link', linkname: 'app/bin/start.sh', size: 0, headerSize: 512 },
    ]);
    const long = indexes[0].entries.find((e) => e.path === SAMPLE_LONG_PATH)!;
    expect(long.headerSize).toBe(long.dataOffset - long.headerOffset);
    expect(long.headerSize).toBeGreaterThan(512);
    expect(indexes[2].entries).toEqual([]); // the empty layer
  });

  test('gives the same result whatever the chunking', async () => {
    const tar = await buildLayerTar(pair.new.layers[3]);
    const whole = await indexLayer(chunked(tar, tar.length));
    for (const size of [1, 7, 321, 4099]) expect(await indexLayer(chunked(tar, size))).toEqual(whole);
  });

  test('directories keep no trailing slash; a root entry becomes ""', async () => {
    const tar = await buildLayerTar([{ path: './', type: 'directory' }, { path: './etc', type: 'directory' }, { path: './etc/x', data: 'x' }]);
    expect((await indexLayer(chunked(tar, 512))).entries.map((e) => e.path)).toEqual(['', 'etc', 'etc/x']);
  });
});

describe('ImageFileMap', () => {
  test('later layers win; a file can move up a layer', async () => {
    expect(oldMap.map.get('app/data/blob.bin')?.layer).toBe(0);
    expect(newMap.map.get('app/data/blob.bin')?.layer).toBe(3);
    expect(newMap.map.get('/app/data/blob.bin')?.diffId).toBe(newMap.image.layers[3].diffId);
    expect(await dataOf(newMap.src, newMap.image, newMap.map, 'etc/app.conf')).toContain('version = 2');
    expect(await dataOf(oldMap.src, oldMap.image, oldMap.map, 'etc/app.conf')).toContain('version = 1');
  });

  test('whiteouts delete, opaque directories hide lower children', () => {
    const { map } = newMap;
    expect(oldMap.map.has('app/notes.txt')).toBe(true);
    expect(map.has('app/notes.txt')).toBe(false);
    expect(map.has('app/lib/libfoo.so.1.2.0')).toBe(false);
    expect(map.has('app/lib/libfoo.so.1.3.0')).toBe(true);
    expect(['a.tmp', 'b.tmp', 'c.tmp'].map((f) => map.has(`app/cache/${f}`))).toEqual([false, false, true]);
    expect(map.has('app/cache')).toBe(true);
    expect([...map.entries()].some(([p]) => p.includes('.wh.'))).toBe(false);
  });

  test('symlinks as stored, hard links resolve to their data', async () => {
    const { map, src, image } = newMap;
    expect(map.get('app/current')).toMatchObject({ type: 'symlink', linkname: 'data/blob.bin', layer: 1 });
    expect(map.get('app/bin/reload.sh')).toMatchObject({ type: 'link', linkname: 'app/bin/restart.sh' });
    expect(map.resolve('app/bin/reload.sh')?.path).toBe('app/bin/restart.sh');
    expect(await dataOf(src, image, map, 'app/bin/stop.sh')).toContain('run.sh start');
  });

  test('candidates for renamed or versioned paths', () => {
    const { map } = newMap;
    expect(map.byBasename('/somewhere/else/run.sh').map((l) => l.path)).toEqual(['app/bin/run.sh']);
    expect(oldMap.map.byStem('app/lib/libfoo.so.1.3.0').map((l) => l.path)).toEqual(['app/lib/libfoo.so.1.2.0']);
    expect(oldMap.map.candidates('app/lib/libfoo.so.1.3.0').map((l) => l.path)).toEqual(['app/lib/libfoo.so.1.2.0']);
    expect(map.byBasename('nothing-like-it')).toEqual([]);
  });

  test('a file replacing a directory hides the directory tree; whiteout of a directory hides its tree', async () => {
    const layers: FileSpec[][] = [
      [{ path: 'a', type: 'directory' }, { path: 'a/x', data: 'x' }, { path: 'b', type: 'directory' }, { path: 'b/y', data: 'y' }],
      [{ path: 'a', data: 'now a file' }, { path: '.wh.b', data: '' }, { path: 'b2/z', data: 'z' }],
    ];
    const indexes = await Promise.all(layers.map(async (l) => indexLayer(chunked(await buildLayerTar(l), 1000))));
    const map = new ImageFileMap(indexes.map((index, i) => ({ diffId: `sha256:${String(i).repeat(64)}`, index })));
    expect([...map.entries()].map(([p, l]) => [p, l.layer])).toEqual([['a', 1], ['b2/z', 1]]);
  });
});
