/**
 * Against the real `docker save` archives in /work/shared/images (made by a
 * real Docker 20.10). Fails, never skips, when zstd or the files are missing.
 */

import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openImageArchive, openLayer, type ImageArchive } from '../../src/image/archive.js';
import { hashStream } from '../../src/image/hash.js';
import { ImageFileMap, indexLayer, type LayerIndex } from '../../src/image/layer-index.js';
import type { ByteSource } from '../../src/image/source.js';
import { fileSource, nodeHasher } from '../../src/image/source.node.js';
import { rebuildTar } from './util.js';
import { IMAGES_DIR } from '../fixtures/shared.js';

const IMAGES = IMAGES_DIR;

interface Pair {
  file: string;
  archives: Array<{ name: string; id: string; tag: string; size: number }>;
  /** A path present in both images, in the top layer. */
  changed: string;
}

const PAIRS: Pair[] = [
  {
    file: 'small.tar.zst',
    archives: [
      { name: 'small-old.tar', id: 'sha256:815ca3f24a1c48c1bf33e80d512e73899ad6038957e13068f9f1c4b52bd9169a', tag: 'dp-fixture/small:v1', size: 5_062_656 },
      { name: 'small-new.tar', id: 'sha256:ef00d94482b92bbaeeb1271ad68af9656bec1452830ce626bb32b54098553a7b', tag: 'dp-fixture/small:v2', size: 6_345_216 },
    ],
    changed: 'app/BUILD',
  },
  {
    file: 'nginx-shared.tar.zst',
    archives: [
      { name: 'shared-old.tar', id: 'sha256:529188256befe4228b9c38102c29184d050d60b5362bd62909ca474b86d0081c', tag: 'dp-fixture/nginx-shared:u9', size: 145_786_368 },
      { name: 'shared-new.tar', id: 'sha256:4d8419d9cb53782b6de82f4b694abf0be76daf2c215e862e0161972f809ab2b5', tag: 'dp-fixture/nginx-shared:u11', size: 145_812_480 },
    ],
    changed: 'usr/sbin/nginx',
  },
];

describe.each(PAIRS)('$file', (pair) => {
  let dir: string;
  const opened = new Map<string, { src: ByteSource; image: ImageArchive; indexes: LayerIndex[] }>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dp-real-'));
    execSync(`zstd -d --long=28 -c ${join(IMAGES, pair.file)} | tar -xf - -C ${dir}`, { shell: '/bin/bash', stdio: 'pipe' });
  });
  afterAll(async () => {
    for (const { src } of opened.values()) await src.close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  test.each(pair.archives)('$name: image ID, tags, layer diff_ids', async (archive) => {
    const src = await fileSource(join(dir, archive.name));
    expect(src.size).toBe(archive.size);
    const image = await openImageArchive(src, { hasher: nodeHasher });
    expect(image.kind).toBe('docker-legacy');
    expect(image.imageId).toBe(archive.id);
    expect(image.tags).toEqual([archive.tag]);
    const indexes: LayerIndex[] = [];
    for (let i = 0; i < image.layers.length; i++) {
      const index = await indexLayer(openLayer(src, image, i, { hasher: nodeHasher }), { hasher: nodeHasher });
      expect(index.diffId).toBe(image.layers[i].diffId);
      indexes.push(index);
    }
    opened.set(archive.name, { src, image, indexes });
  });

  test.each(pair.archives)('$name: outer tar and every layer tar round-trip byte for byte', async (archive) => {
    const src = await fileSource(join(dir, archive.name));
    try {
      const whole = await hashStream(nodeHasher, src.stream());
      const rebuilt = nodeHasher();
      let total = 0;
      await rebuildTar(src.stream(0, undefined, 64 * 1024 + 3), (b) => (rebuilt.update(b), (total += b.length)));
      expect(total).toBe(archive.size);
      expect(rebuilt.digest()).toBe(whole);

      const image = await openImageArchive(src, { hasher: nodeHasher });
      for (let i = 0; i < image.layers.length; i++) {
        const layerHash = nodeHasher();
        await rebuildTar(openLayer(src, image, i, { chunkSize: 4096 + 3 }), (b) => layerHash.update(b));
        expect(layerHash.digest()).toBe(image.layers[i].diffId);
      }
    } finally {
      await src.close?.();
    }
  });

  test('file maps: shared layers, a changed file in the top layer', () => {
    const [old, next] = pair.archives.map((a) => opened.get(a.name)!);
    const mapOf = (o: typeof old) => new ImageFileMap(o.image.layers.map((l, i) => ({ diffId: l.diffId, index: o.indexes[i] })));
    const oldMap = mapOf(old);
    const newMap = mapOf(next);
    expect(old.image.layers[0].diffId).toBe(next.image.layers[0].diffId);
    const before = oldMap.get(pair.changed)!;
    const after = newMap.get(pair.changed)!;
    expect(before.type).toBe('file');
    expect(after.layer).toBe(next.image.layers.length - 1);
    expect(after.diffId).not.toBe(before.diffId);
    expect(newMap.byBasename(pair.changed).some((l) => l.path === pair.changed)).toBe(true);
  });
});
