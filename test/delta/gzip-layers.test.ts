/**
 * Gzip-compressed layer blobs through the delta path: a changed blob that
 * Go's compress/gzip model rebuilds exactly has the tar inside diffed and
 * is re-compressed by apply (registry-gz, the real pair, byte for byte);
 * one the model does not reproduce (fflate's) is carried whole as before;
 * a tampered goGzip record is refused with one line.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/delta/apply.js';
import { inspectPatch } from '../../src/delta/inspect.js';
import type { PatchSummary } from '../../src/delta/types.js';
import { openImageArchive } from '../../src/image/archive.js';
import type { LayerSpool } from '../../src/image/layer-source.js';
import { fileSource, fileSpool } from '../../src/image/source.node.js';
import type { ByteSource } from '../../src/image/source.js';
import { buildOciArchive, type ImageSpec } from '../fixtures/images.js';
import { unpackPair } from '../fixtures/shared.js';
import { decodePatch, encodePatch } from './forge.js';
import { applyToBytes, chunked, comparingSink, expectPatcherError, makePatch, nodeHasher, roundTrip } from './util.js';

const REGISTRY_GZ = {
  file: 'registry-gz.tar.zst',
  old: 'registry-gz-old.tar',
  new: 'registry-gz-new.tar',
  /** Config digest of the new image (the image ID apply checks). */
  newId: 'sha256:4d8419d9cb53782b6de82f4b694abf0be76daf2c215e862e0161972f809ab2b5',
  /** The changed top layer's gzip blob. */
  topBlob: 'blobs/sha256/a483be10216236f8579b13c7e3be23d5d1e18ecde3f1c84b181836423851c8dc',
};

describe('registry-gz: Go-made gzip layer blobs', () => {
  let dir: string;
  let oldSrc: ByteSource & { close?: () => Promise<void> };
  let newSrc: ByteSource & { close?: () => Promise<void> };
  let patch: Uint8Array;
  let summary: PatchSummary;

  beforeAll(async () => {
    dir = unpackPair(REGISTRY_GZ.file);
    oldSrc = await fileSource(join(dir, REGISTRY_GZ.old));
    newSrc = await fileSource(join(dir, REGISTRY_GZ.new));
    ({ patch, summary } = await makePatch(oldSrc, newSrc));
  }, 600_000);
  afterAll(async () => {
    await oldSrc?.close?.();
    await newSrc?.close?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('diffs the tar inside the changed blob and names it; the patch is far below the 7 MB blob', async () => {
    const top = summary.entries.find((e) => e.name === REGISTRY_GZ.topBlob)!;
    expect(top.kind).toBe('delta');
    expect(top.compressed).toBe('gzip (Go, level 6)');
    expect(top.size).toBe(7_050_543);
    expect(top.gzip?.length).toBe(4); // the Debian changelogs inside go decoded too
    expect(patch.length).toBeLessThan(460_000); // 7,010,685 carried whole
    const inspected = await inspectPatch(chunked(patch, 4099));
    expect(inspected.entries).toEqual(summary.entries);
  });

  it('apply rebuilds the new archive byte for byte, every digest checked', async () => {
    const full = comparingSink(newSrc);
    const result = await applyPatch(oldSrc, chunked(patch, 65_537), full.sink, { hasher: nodeHasher, expectNewId: REGISTRY_GZ.newId });
    full.check();
    expect(result.layersVerified).toBe(2);
  }, 600_000);

  const tampered = (edit: (record: any) => void): Uint8Array => {
    const forged = decodePatch(patch);
    const entry = forged.entries.find((e) => e.record.goGzip)!;
    edit(entry.record);
    return encodePatch(forged);
  };

  it('refuses a goGzip record whose level was changed (the blob re-compresses to other bytes)', async () => {
    const bad = tampered((r) => (r.goGzip.level = 5));
    const err = await expectPatcherError(() => applyToBytes(oldSrc, bad), 'DIGEST_MISMATCH', 'level 5');
    expect(err.message).toMatch(/re-compressed .* does not match/);
  }, 600_000);

  it('refuses a goGzip record whose gzip header was changed', async () => {
    const bad = tampered((r) => (r.goGzip.header = r.goGzip.header.slice(0, 8) + 'ff' + r.goGzip.header.slice(10)));
    await expectPatcherError(() => applyToBytes(oldSrc, bad), 'DIGEST_MISMATCH', 'header');
  }, 600_000);

  it('with a file spool (as the CLI), the old gzip layer goes to one temp file, removed at the end; same bytes out', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'dp-spool-'));
    try {
      const spool = fileSpool(spoolDir);
      const spooled: string[] = [];
      const watching: LayerSpool = async (gzip, limit, what) => {
        const source = await spool(gzip, limit, what);
        spooled.push(what);
        expect(readdirSync(spoolDir)).toHaveLength(spooled.length);
        return source;
      };
      const full = comparingSink(newSrc);
      await applyPatch(oldSrc, chunked(patch, 65_537), full.sink, { hasher: nodeHasher, expectNewId: REGISTRY_GZ.newId, spool: watching });
      full.check();
      expect(spooled).toHaveLength(1); // the old top layer; the shared base is reused as stored
      expect(readdirSync(spoolDir)).toEqual([]);
    } finally {
      rmSync(spoolDir, { recursive: true, force: true });
    }
  }, 600_000);

  it('streams the re-compressed blob out, but never its last bytes when it does not match', async () => {
    const archive = await openImageArchive(newSrc, { hasher: nodeHasher });
    const top = archive.layers.find((l) => l.entryName === REGISTRY_GZ.topBlob)!;
    const [start, end] = [top.entry.dataOffset, top.entry.dataOffset + top.storedSize];
    for (const [what, edit] of [
      ['level 5', (r: any) => (r.goGzip.level = 5)],
      ['another OS byte in the header', (r: any) => (r.goGzip.header = r.goGzip.header.slice(0, 18) + '03')],
    ] as const) {
      let received = 0;
      const err = await expectPatcherError(
        () => applyPatch(oldSrc, chunked(tampered(edit), 65_537), (c) => void (received += c.length), { hasher: nodeHasher }),
        'DIGEST_MISMATCH',
        what,
      );
      expect(err.message, what).toMatch(/re-compressed .* does not match/);
      expect(received, what).toBeGreaterThan(start + 1_000_000); // the blob was streaming out
      expect(received, what).toBeLessThan(end);
    }
  }, 600_000);

  it('refuses malformed goGzip fields before any work', async () => {
    for (const [what, edit] of [
      ['level 42', (r: any) => (r.goGzip.level = 42)],
      ['short header', (r: any) => (r.goGzip.header = '1f8b08')],
      ['text larger than deflate can give', (r: any) => (r.goGzip.textSize = 1033 * r.size)],
      ['not an object', (r: any) => (r.goGzip = 'gzip')],
      ['on a literal entry', (r: any) => (r.kind = 'literal')],
    ] as const) {
      const err = await expectPatcherError(() => applyToBytes(oldSrc, tampered(edit)), 'BAD_PATCH', what);
      expect(err.message).toMatch(/goGzip/);
    }
  });
});

describe('gzip layer blobs the Go model does not reproduce', () => {
  it('an OCI archive with fflate-made gzip layers round-trips, the changed blob carried whole', async () => {
    const base = [{ path: 'etc/os-release', data: 'ID=test\n' }];
    const text = (v: number) => Array.from({ length: 4000 }, (_, i) => `line ${i} of version ${i % 97 === 0 ? v : 1}\n`).join('');
    const spec = (v: number): ImageSpec => ({ layers: [base, [{ path: 'usr/share/app/data.txt', data: text(v) }]], tags: [`gz:${v}`] });
    const [old, neu] = [await buildOciArchive(spec(1), { gzip: true }), await buildOciArchive(spec(2), { gzip: true })];
    const { summary } = await roundTrip(old, neu);
    const layers = summary.entries.filter((e) => e.diffId !== undefined);
    expect(layers.some((e) => e.kind === 'literal')).toBe(true);
    // Named by its bytes as a gzip blob carried as stored, never as re-compressed by the Go model.
    expect(layers.filter((e) => e.kind === 'literal').every((e) => e.compressed === 'gzip')).toBe(true);
  });
});
