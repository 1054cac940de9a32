/**
 * zstd-compressed layer blobs (made here with the `zstd` CLI; fails, never
 * skips, when it is missing): detected by media type or by magic, decoded
 * (src/image/zstd.ts, fzstd behind a frame-header walker) to index an old
 * layer and to check a layer's diff_id, carried as stored when they change,
 * and named 'zstd' by create's summary and by inspect (table and JSON).
 * Also inspect's account of gzip files inside a layer (count and bytes).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openImageArchive, compressionByMagic } from '../../src/image/archive.js';
import { MAX_ZSTD_WINDOW, ZstdDecoder } from '../../src/image/zstd.js';
import { memorySource } from '../../src/image/source.js';
import { formatSummary } from '../../src/cli/report.js';
import type { PatchSummary } from '../../src/delta/types.js';
import { buildOciArchive, randomBytes, type ImageSpec } from '../fixtures/images.js';
import { nodeHasher, roundTrip } from '../delta/util.js';

const zstd = (data: Uint8Array, ...args: string[]): Uint8Array => new Uint8Array(execFileSync('zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 30 }));

/** Decode with ZstdDecoder, pushed in `piece`-byte slices. */
function decode(stream: Uint8Array, piece = 321): Uint8Array {
  const out: Uint8Array[] = [];
  const decoder = new ZstdDecoder((d) => out.push(d.slice()));
  for (let at = 0; at < stream.length; at += piece) decoder.push(stream.subarray(at, at + piece), false);
  decoder.push(new Uint8Array(0), true);
  return Buffer.concat(out);
}

const text = (v: number) => Array.from({ length: 6000 }, (_, i) => `line ${i} of the app, version ${i % 211 === 0 ? v : 1}\n`).join('');
const spec = (v: number): ImageSpec => ({
  layers: [[{ path: 'etc/os-release', data: 'ID=test\n' }], [{ path: 'usr/share/app/data.txt', data: text(v) }, { path: 'usr/lib/app.bin', data: randomBytes(100_000, 5) }]],
  tags: [`zstd:${v}`],
});
const ZSTD_TYPE = 'application/vnd.oci.image.layer.v1.tar+zstd';
const zstdLayers = { mediaType: ZSTD_TYPE, encode: (tar: Uint8Array) => zstd(tar, '-3') };

/** The summary's layer entries in the image's layer order (an OCI layout stores blobs by digest). */
async function layerEntries(archive: Uint8Array, summary: PatchSummary) {
  const { layers } = await openImageArchive(memorySource(archive), { hasher: nodeHasher });
  return layers.map((l) => summary.entries.find((e) => e.diffId === l.diffId)!);
}

describe('ZstdDecoder', () => {
  const data = new Uint8Array(Buffer.from(text(3).repeat(4)));

  it('decodes what the zstd CLI writes, pushed in 321-byte pieces', () => {
    for (const args of [['-1'], ['-19'], ['--no-check', '-3'], ['-3', '--long=26']]) {
      expect(Buffer.from(decode(zstd(data, ...args))).equals(Buffer.from(data)), args.join(' ')).toBe(true);
    }
  });

  it('decodes several frames and skips skippable frames between them', () => {
    const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 7, 7, 7]);
    const stream = Buffer.concat([zstd(data.subarray(0, 1000), '-3'), skippable, zstd(data.subarray(1000), '-5'), zstd(new Uint8Array(0))]);
    expect(Buffer.from(decode(stream, 7)).equals(Buffer.from(data))).toBe(true);
  });

  it('refuses a frame whose window is over MAX_ZSTD_WINDOW before decoding it', () => {
    const long = zstd(data, '-1', '--long=28');
    expect(MAX_ZSTD_WINDOW).toBe(128 << 20);
    expect(() => decode(long)).toThrow(/window is 268435456 bytes/);
  });

  it('refuses tiny blocks under a big window (fzstd moves the window per block) before decoding them', () => {
    const frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3]; // a 128 MiB window
    const rle = [0x02, 0x00, 0x10, 0x61]; // RLE block, 128 KiB of 'a', not the last
    const bytes = new Uint8Array([...frame, ...Array.from({ length: 20_000 }, () => rle).flat()]);
    expect(() => decode(bytes, 16 * 1024)).toThrow(/more decoding work than its \d+ bytes allow/);
  }, 120_000); // refused after about 8 blocks of 128 MiB moves, where all 20,000 would take hours

  it('refuses a stream cut inside a frame, and bytes that are not zstd', () => {
    const whole = zstd(data, '-3');
    expect(() => decode(whole.subarray(0, whole.length - 10))).toThrow(/ends inside a frame/);
    expect(() => decode(new Uint8Array([1, 2, 3, 4, 5, 6]))).toThrow(/not a zstd frame/);
  });
});

describe('zstd layer blobs in an image', () => {
  it('are detected by media type and, without one, by magic', async () => {
    expect(compressionByMagic(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    for (const mediaType of [ZSTD_TYPE, 'application/vnd.oci.image.layer.v1.tar']) {
      const bytes = await buildOciArchive(spec(1), { gzip: false, compress: { ...zstdLayers, mediaType } });
      const archive = await openImageArchive(memorySource(bytes), { hasher: nodeHasher });
      expect(archive.layers.map((l) => l.compression), mediaType).toEqual(['zstd', 'zstd']);
    }
  });

  it('a changed zstd layer round-trips carried as stored, named zstd by create and inspect; the shared one is reused', async () => {
    const [old, neu] = [await buildOciArchive(spec(1), { gzip: false, compress: zstdLayers }), await buildOciArchive(spec(2), { gzip: false, compress: zstdLayers })];
    const { summary, inspected, patch } = await roundTrip(old, neu); // inspect's entries equal create's, apply's output is NEW byte for byte
    const layers = await layerEntries(neu, summary);
    expect(layers.map((e) => [e.kind, e.compressed])).toEqual([['reuse', undefined], ['literal', 'zstd']]);
    expect(inspected.entries.find((e) => e.kind === 'literal' && e.diffId)?.compressed).toBe('zstd');
    expect(layers[1].patchBytes).toBeGreaterThan(0.9 * layers[1].size); // carried whole (its literal frames deflate a little)
    expect(patch.length).toBeGreaterThan(layers[1].patchBytes);
    const table = formatSummary(inspected);
    expect(table).toMatch(/literal .* blobs\/sha256\/[0-9a-f]{64} \(zstd, carried as stored\)/);
    expect(JSON.parse(JSON.stringify(inspected)).entries.some((e: any) => e.compressed === 'zstd')).toBe(true);
  });

  it('an old zstd layer is decoded as the reference of a changed uncompressed one (a delta, not a literal)', async () => {
    const old = await buildOciArchive(spec(1), { gzip: false, compress: zstdLayers });
    const neu = await buildOciArchive(spec(2), { gzip: false });
    const { summary, patch } = await roundTrip(old, neu);
    const top = (await layerEntries(neu, summary))[1];
    expect(top.kind).toBe('delta');
    expect(top.compressed).toBeUndefined();
    expect(patch.length).toBeLessThan(8000);
  });
});

describe('inspect table: gzip files inside a layer', () => {
  it('lists each gzip file with its cost and, for several, their count and bytes in all', () => {
    const summary: PatchSummary = {
      formatVersion: 2, oldImageId: 'sha256:' + 'a'.repeat(64), newImageId: 'sha256:' + 'b'.repeat(64), newTags: [], newArchiveSize: 10_000_000,
      patchSize: 30_000, windowSize: 1 << 20,
      entries: [{
        name: 'blobs/sha256/' + 'c'.repeat(64), kind: 'delta', size: 7_000_000, patchBytes: 25_000, diffId: 'sha256:' + 'd'.repeat(64), compressed: 'gzip (Go, level 6)',
        gzip: [{ name: 'usr/share/doc/a/changelog.gz', size: 90_000, patchBytes: 2_000 }, { name: 'usr/share/doc/b/changelog.gz', size: 10_000, patchBytes: 500 }],
      }],
    };
    const table = formatSummary(summary);
    expect(table).toMatch(/delta .* \(gzip \(Go, level 6\), tar diffed inside\)/);
    expect(table).toMatch(/usr\/share\/doc\/a\/changelog\.gz \(diffed decoded, 2000 bytes\)/);
    expect(table).toMatch(/2 gzip files diffed decoded in all \(100000 bytes -> 2500 in the patch\)/);
  });
});
