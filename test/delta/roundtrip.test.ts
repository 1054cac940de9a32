/**
 * createPatch -> applyPatch reproduces the new archive byte for byte: every
 * archive layout the builders write, the edge cases of layer tars, the two
 * real pairs, window sizes, odd chunking of the patch, and partial output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { inspectPatch } from '../../src/delta/inspect.js';
import { DEFAULT_WINDOW_SIZE } from '../../src/delta/create.js';
import { applyPatch } from '../../src/delta/apply.js';
import { openImageArchive } from '../../src/image/archive.js';
import { indexTar } from '../../src/image/tar.js';
import { hashBytes } from '../../src/image/hash.js';
import { memorySource, type ByteSource } from '../../src/image/source.js';
import { fileSource } from '../../src/image/source.node.js';
import type { EntrySummary, PatchSummary } from '../../src/delta/types.js';
import {
  buildDockerArchive, buildDockerOciArchive, buildLayerTar, buildOciArchive, emptyLayersSpec, randomBytes, editBytes,
  samplePair, sharedLayerPair, SAMPLE_LONG_PATH, type FileSpec, type ImageSpec,
} from '../fixtures/images.js';
import { NGINX, SMALL, unpackPair } from '../fixtures/shared.js';
import { applyToBytes, chunked, comparingSink, concat, expectSameBytes, makePatch, nodeHasher, roundTrip } from './util.js';

const layerEntries = (entries: EntrySummary[]) => entries.filter((e) => e.diffId !== undefined);

/** The patch's layer entries in the new image's stack order (archives list them in name order). */
async function stackOrder(summary: PatchSummary, neu: Uint8Array | ByteSource): Promise<EntrySummary[]> {
  const archive = await openImageArchive(neu instanceof Uint8Array ? memorySource(neu) : neu, { hasher: nodeHasher });
  return archive.layers.map((l) => {
    const entry = summary.entries.find((e) => e.name === l.entryName);
    expect(entry, l.entryName).toBeDefined();
    expect(entry!.diffId).toBe(l.diffId);
    return entry!;
  });
}
const kinds = async (summary: PatchSummary, neu: Uint8Array | ByteSource) => (await stackOrder(summary, neu)).map((e) => e.kind);

describe('layouts', () => {
  const pair = samplePair();

  it('legacy docker save: the sample pair (moved file, whiteouts, links, PAX, empty layer, shared layers)', async () => {
    const [old, neu] = [await buildDockerArchive(pair.old), await buildDockerArchive(pair.new)];
    const { patch, inspected } = await roundTrip(old, neu);
    const layers = await stackOrder(inspected, neu);
    expect(layers.map((e) => e.kind)).toEqual(['reuse', 'reuse', 'reuse', 'delta']);
    // The edited 200 KB random blob moved from layer 0 to layer 3: found in the old layer, not carried.
    expect(layers[3].size).toBeGreaterThan(200_000);
    expect(layers[3].patchBytes).toBeLessThan(20_000);
    expect(patch.length).toBeLessThan(neu.length * 0.05);
  });

  it('Docker >= 25 OCI-layout save', async () => {
    const [old, neu] = [await buildDockerOciArchive(pair.old), await buildDockerOciArchive(pair.new)];
    const { patch, inspected } = await roundTrip(old, neu);
    expect(await kinds(inspected, neu)).toEqual(['reuse', 'reuse', 'reuse', 'delta']);
    expect(patch.length).toBeLessThan(neu.length * 0.05);
  });

  it('OCI archive, uncompressed layers', async () => {
    const [old, neu] = [await buildOciArchive(pair.old, { gzip: false }), await buildOciArchive(pair.new, { gzip: false })];
    const { inspected } = await roundTrip(old, neu);
    expect(await kinds(inspected, neu)).toEqual(['reuse', 'reuse', 'reuse', 'delta']);
  });

  it('OCI archive, gzip layers: shared ones reused as stored, the changed one carried as stored, byte for byte', async () => {
    const [old, neu] = [await buildOciArchive(pair.old, { gzip: true }), await buildOciArchive(pair.new, { gzip: true })];
    const { inspected } = await roundTrip(old, neu);
    expect(await kinds(inspected, neu)).toEqual(['reuse', 'reuse', 'reuse', 'literal']);
  });

  it('old uncompressed, new gzip and across layouts', async () => {
    await roundTrip(await buildDockerArchive(pair.old), await buildOciArchive(pair.new, { gzip: true }));
    const neu = await buildDockerOciArchive(pair.new);
    const { inspected } = await roundTrip(await buildDockerArchive(pair.old), neu);
    expect(await kinds(inspected, neu)).toEqual(['reuse', 'reuse', 'reuse', 'delta']);
  });
});

describe('layer contents', () => {
  it('a layer shared by both images is REUSE, the other is a delta', async () => {
    const [a, b] = sharedLayerPair();
    const [old, neu] = [await buildDockerArchive(a), await buildDockerArchive(b)];
    const { inspected } = await roundTrip(old, neu);
    const sharedDiffId = hashBytes(nodeHasher, await buildLayerTar(a.layers[0]));
    const layers = await stackOrder(inspected, neu);
    expect(layers).toHaveLength(2);
    expect(layers[0]).toMatchObject({ kind: 'reuse', diffId: sharedDiffId });
    expect(layers[1].kind).toBe('delta');
    // A reused layer costs a record, not its bytes.
    expect(layers[0].patchBytes).toBeLessThan(200);
  });

  it('empty layers (the legacy save links the second to the first)', async () => {
    const old: ImageSpec = { layers: [[{ path: 'hello.txt', data: 'hello, old\n' }]], tags: ['dp-test/empty:0'] };
    await roundTrip(await buildDockerArchive(old), await buildDockerArchive(emptyLayersSpec()));
    await roundTrip(await buildDockerArchive(emptyLayersSpec()), await buildDockerArchive(old));
    await roundTrip(await buildDockerOciArchive(old), await buildDockerOciArchive(emptyLayersSpec()));
  });

  it('several changed layers with whiteouts, opaque dirs, symlinks, hard links and PAX names', async () => {
    const big = randomBytes(300_000, 11);
    const long = `opt/${'ünïcödé-directory/'.repeat(6)}file.txt`;
    const linkTarget = `/usr/share/${'a-rather-long-link-target-'.repeat(6)}`;
    const base: FileSpec[] = [
      { path: 'opt', type: 'directory' }, { path: 'opt/big.bin', data: big }, { path: SAMPLE_LONG_PATH, data: 'long\n' },
      { path: long, data: 'unicode path\n' }, { path: 'opt/link', type: 'symlink', linkname: linkTarget },
    ];
    const old: ImageSpec = {
      layers: [base, [{ path: 'etc/a.conf', data: 'a = 1\n' }, { path: 'etc/b.conf', data: 'b = 1\n' }], [{ path: 'var/log/x.log', data: 'x\n'.repeat(1000) }]],
    };
    const neu: ImageSpec = {
      layers: [
        base,
        [{ path: 'etc/a.conf', data: 'a = 2\n' }, { path: 'etc/.wh.b.conf', data: '' }, { path: 'etc/hard', type: 'link', linkname: 'etc/a.conf' }],
        [{ path: 'var/log/.wh..wh..opq', data: '' }, { path: 'var/log/y.log', data: 'y\n'.repeat(1200) }],
        [{ path: 'opt/big.bin', data: editBytes(big, 5) }, { path: `${long}.new`, data: 'moved\n' }, { path: 'opt/link2', type: 'symlink', linkname: `${linkTarget}2` }],
        [{ path: 'opt/.wh.big.bin', data: '' }],
      ],
      tags: ['dp-test/many:2', 'dp-test/many:latest'],
    };
    const [o, n] = [await buildDockerArchive(old), await buildDockerArchive(neu)];
    const { inspected } = await roundTrip(o, n);
    expect(inspected.newTags).toEqual(['dp-test/many:2', 'dp-test/many:latest']);
    expect(await kinds(inspected, n)).toEqual(['reuse', 'delta', 'delta', 'delta', 'delta']);
    // big.bin, edited, in a new layer: diffed against the old copy, not carried.
    expect(inspected.patchSize).toBeLessThan(30_000);
    await roundTrip(await buildOciArchive(old, { gzip: false }), await buildOciArchive(neu, { gzip: false }));
  });

  it('identical images: everything reused', async () => {
    const archive = await buildDockerArchive(samplePair().new);
    const { inspected, patch } = await roundTrip(archive, archive);
    expect(layerEntries(inspected.entries).every((e) => e.kind === 'reuse')).toBe(true);
    expect(patch.length).toBeLessThan(8_000);
  });
});

describe('options and feeding', () => {
  let old: Uint8Array;
  let neu: Uint8Array;
  beforeAll(async () => {
    const pair = samplePair();
    [old, neu] = [await buildDockerArchive(pair.old), await buildDockerArchive(pair.new)];
  });

  it.each([64 * 1024, 1 << 20, undefined])('window size %s round-trips', async (windowSize) => {
    const { summary } = await roundTrip(old, neu, { windowSize, workers: 2 });
    expect(summary.windowSize).toBe(windowSize ?? DEFAULT_WINDOW_SIZE);
  });

  // One worker vs three, on real worker threads: test/library/workers.test.ts (from sources the runner diffs inline).

  it.each([7, 321, 4099])('the patch fed in %i-byte chunks', async (size) => {
    const { patch } = await makePatch(old, neu, { windowSize: 64 * 1024 });
    const { out } = await applyToBytes(old, chunked(patch, size));
    expectSameBytes(out, neu);
    expect((await inspectPatch(chunked(patch, size))).patchSize).toBe(patch.length);
  });
});

/** The new archive minus the entries under the layer directories named, plus its trailer. */
async function withoutEntries(archive: Uint8Array, skip: (name: string) => boolean): Promise<Uint8Array> {
  const index = await indexTar(memorySource(archive));
  const parts: Uint8Array[] = [];
  index.entries.forEach((e, i) => {
    const end = i + 1 < index.entries.length ? index.entries[i + 1].headerOffset : index.end.offset;
    if (!skip(e.name)) parts.push(archive.subarray(e.headerOffset, end));
  });
  parts.push(index.end.trailer);
  return concat(parts);
}

/** Legacy layer directories of the layers both images have at the same stack positions. */
async function sharedPrefixDirs(old: ByteSource, neu: ByteSource): Promise<string[]> {
  const [a, b] = [await openImageArchive(old, { hasher: nodeHasher }), await openImageArchive(neu, { hasher: nodeHasher })];
  const dirs: string[] = [];
  for (let i = 0; i < b.layers.length && i < a.layers.length && a.layers[i].diffId === b.layers[i].diffId; i++) {
    dirs.push(b.layers[i].entryName.replace(/layer\.tar$/, ''));
  }
  return dirs;
}

describe('omitReused', () => {
  it('leaves out the shared-prefix layers, writes the rest byte for byte (delta reads a reused old layer)', async () => {
    const pair = samplePair();
    const [old, neu] = [await buildDockerArchive(pair.old), await buildDockerArchive(pair.new)];
    const { patch } = await makePatch(old, neu);
    const skipped = await sharedPrefixDirs(memorySource(old), memorySource(neu));
    expect(skipped).toHaveLength(3);
    // The moved blob's delta reads old layer 0, which is also reused whole (and left out).
    const { out, result } = await applyToBytes(old, patch, { omitReused: true });
    expect(result.partial).toBe(true);
    expectSameBytes(out, await withoutEntries(neu, (name) => skipped.some((d) => name.startsWith(d))));
  });

  it('still writes a layer reused at another stack position', async () => {
    const a: FileSpec[] = [{ path: 'a.txt', data: 'a\n' }];
    const b: FileSpec[] = [{ path: 'b.bin', data: randomBytes(50_000, 3) }];
    const c: FileSpec[] = [{ path: 'c.txt', data: 'c\n' }];
    const [old, neu] = [await buildDockerArchive({ layers: [a, b] }), await buildDockerArchive({ layers: [c, b] })];
    const { patch, summary } = await makePatch(old, neu);
    expect((await stackOrder(summary, neu))[1].kind).toBe('reuse');
    expect(await sharedPrefixDirs(memorySource(old), memorySource(neu))).toEqual([]);
    const { out, result } = await applyToBytes(old, patch, { omitReused: true });
    expect(result.partial).toBe(true);
    expectSameBytes(out, neu);
  });
});

describe('real pairs', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('small: byte for byte, README image ID, small patch, odd chunks, omitReused', async () => {
    const dir = unpackPair(SMALL.file);
    dirs.push(dir);
    const [oldSrc, newSrc] = [await fileSource(join(dir, SMALL.old.name)), await fileSource(join(dir, SMALL.new.name))];
    try {
      const [old, neu] = [await oldSrc.read(0, oldSrc.size), await newSrc.read(0, newSrc.size)];
      expect(neu.length).toBe(SMALL.new.size);
      const { patch, summary, inspected, result } = await roundTrip(old, neu);
      expect(result.newImageId).toBe(SMALL.new.id);
      expect(summary.oldImageId).toBe(SMALL.old.id);
      expect(inspected.newTags).toEqual(['dp-fixture/small:v2']);
      const layers = await stackOrder(inspected, neu);
      expect(layers.map((e) => e.kind)).toEqual(['reuse', 'reuse', 'reuse', 'delta', 'delta']);
      const changed = layers.filter((e) => e.kind === 'delta').reduce((n, e) => n + e.size, 0);
      expect(patch.length).toBeLessThan(changed * 0.05);

      for (const size of [7, 321, 4099]) expectSameBytes((await applyToBytes(oldSrc, chunked(patch, size))).out, neu);
      for (const windowSize of [64 * 1024, 1 << 20]) await roundTrip(old, neu, { windowSize });

      // Partial: the three shared layers' directories are left out, the rest is the archive's bytes.
      const skipped = await sharedPrefixDirs(oldSrc, newSrc);
      expect(skipped).toHaveLength(3);
      const partial = await applyToBytes(oldSrc, patch, { omitReused: true });
      expect(partial.result).toMatchObject({ newImageId: SMALL.new.id, partial: true });
      expectSameBytes(partial.out, await withoutEntries(neu, (name) => skipped.some((d) => name.startsWith(d))));
    } finally {
      await oldSrc.close?.();
      await newSrc.close?.();
    }
  });

  it('nginx-shared: byte for byte, README image ID, patch under 5% of the changed layer', async () => {
    const dir = unpackPair(NGINX.file);
    dirs.push(dir);
    const [oldSrc, newSrc] = [await fileSource(join(dir, NGINX.old.name)), await fileSource(join(dir, NGINX.new.name))];
    try {
      const { patch, summary } = await makePatch(oldSrc, newSrc);
      expect(summary).toMatchObject({ oldImageId: NGINX.old.id, newImageId: NGINX.new.id, newArchiveSize: NGINX.new.size });
      const inspected = await inspectPatch(chunked(patch, 4099));
      expect(inspected.entries).toEqual(summary.entries);
      const layers = await stackOrder(inspected, newSrc);
      expect(layers.map((e) => e.kind)).toEqual(['reuse', 'delta']);
      expect(patch.length).toBeLessThan(layers[1].size * 0.05);

      const full = comparingSink(newSrc);
      const result = await applyPatch(oldSrc, chunked(patch, 321), full.sink, { hasher: nodeHasher, expectNewId: NGINX.new.id.slice(7, 19) });
      full.check();
      expect(result).toEqual({ newImageId: NGINX.new.id, tags: ['dp-fixture/nginx-shared:u11'], bytesWritten: NGINX.new.size, partial: false, layersVerified: 2 });

      // Partial: the 128 MB base layer is left out, the delta layer is still checked.
      const partial = await applyToBytes(oldSrc, patch, { omitReused: true });
      expect(partial.result.partial).toBe(true);
      expect(partial.out.length).toBeLessThan(20_000_000);
      const skipped = await sharedPrefixDirs(oldSrc, newSrc);
      expect(skipped).toHaveLength(1);
      const index = await indexTar(newSrc);
      const kept = index.entries.filter((e) => !skipped.some((d) => e.name.startsWith(d)));
      const partialIndex = await indexTar(memorySource(partial.out));
      expect(partialIndex.entries.map((e) => e.name)).toEqual(kept.map((e) => e.name));
      const changedLayer = partialIndex.entries.find((e) => e.name === layers[1].name)!;
      const layerBytes = partial.out.subarray(changedLayer.dataOffset, changedLayer.dataOffset + changedLayer.size);
      expect(hashBytes(nodeHasher, layerBytes)).toBe(layers[1].diffId);
    } finally {
      await oldSrc.close?.();
      await newSrc.close?.();
    }
  }, 300_000);
});
