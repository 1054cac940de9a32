/**
 * Gzip files inside changed layers, diffed decoded (GZIP frames): chosen by
 * content when both sides re-encode exactly, round-tripped byte for byte
 * (synthetic pairs and the real nginx pair), refused with one line when the
 * record is tampered with, and carried as bytes when the codec cannot
 * reproduce a stream. Also: patches of another format version.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/delta/apply.js';
import { inspectPatch } from '../../src/delta/inspect.js';
import type { EntrySummary, PatchSummary } from '../../src/delta/types.js';
import { loadCore } from '../../src/core/index.js';
import { FORMAT_VERSION, FrameType, PATCH_MAGIC } from '../../src/format/image/frames.js';
import { decodeGzipHead, decodeGzipStructure, decodeGzipText, encodeGzipEntry, gzipEntryLimits, type GzipEntryData } from '../../src/format/image/gzip-entry.js';
import { VarintReader } from '../../src/format/varint.js';
import { fileSource } from '../../src/image/source.node.js';
import { buildDockerArchive, type FileSpec, type ImageSpec } from '../fixtures/images.js';
import { NGINX, unpackPair } from '../fixtures/shared.js';
import { decodePatch, encodePatch } from './forge.js';
import { applyToBytes, chunked, comparingSink, expectPatcherError, makePatch, nodeHasher, roundTrip } from './util.js';

/** Changelog-like text: `lines` lines of seeded pseudo-random words. */
function changelog(seed: number, lines: number): string {
  const words = ['fix', 'openssl', 'buffer', 'overflow', 'CVE', 'update', 'release', 'security', 'handshake', 'cipher', 'memory', 'leak', 'check', 'build'];
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) >>> 8;
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = 4 + (next() % 8);
    out.push(`  * ${Array.from({ length: n }, () => words[next() % words.length] + (next() % 97)).join(' ')}`);
  }
  return out.join('\n') + '\n';
}

const gz = (text: string, level = 9) => new Uint8Array(gzipSync(Buffer.from(text), { level: level as 9 }));
const OLD_TEXT = changelog(1, 3000);
/** New entries on top, one line edited in the middle. */
const NEW_TEXT = changelog(2, 20) + OLD_TEXT.replace(OLD_TEXT.slice(50_000, 50_040), 'edited line in the middle of the changelog');

function pair(newFiles: FileSpec[], oldFiles: FileSpec[]): [ImageSpec, ImageSpec] {
  const base: FileSpec[] = [{ path: 'etc/os-release', data: 'ID=test\n' }];
  return [{ layers: [base, oldFiles], tags: ['gz:1'] }, { layers: [base, newFiles], tags: ['gz:2'] }];
}

const gzipFiles = (s: PatchSummary): string[] => s.entries.flatMap((e: EntrySummary) => (e.gzip ?? []).map((g) => g.name));

describe('gzip files inside layers', () => {
  let old: Uint8Array;
  let neu: Uint8Array;
  let patch: Uint8Array;
  let summary: PatchSummary;

  beforeAll(async () => {
    const [o, n] = pair(
      [{ path: 'usr/share/doc/pkg/changelog.gz', data: gz(NEW_TEXT) }, { path: 'usr/bin/tool', data: 'v2' }],
      [{ path: 'usr/share/doc/pkg/changelog.gz', data: gz(OLD_TEXT) }, { path: 'usr/bin/tool', data: 'v1' }],
    );
    [old, neu] = await Promise.all([buildDockerArchive(o), buildDockerArchive(n)]);
    ({ patch, summary } = await roundTrip(old, neu));
  });

  it('diffs a changed .gz decoded and round-trips byte for byte; inspect names it and its cost', async () => {
    expect(gzipFiles(summary)).toEqual(['usr/share/doc/pkg/changelog.gz']);
    const inspected = await inspectPatch(chunked(patch, 777));
    const layer = inspected.entries.find((e) => e.gzip)!;
    expect(layer.gzip![0].size).toBe(gz(NEW_TEXT).length);
    expect(layer.gzip![0].patchBytes).toBeLessThan(layer.patchBytes);
    // As bytes, the rewritten .gz barely diffs: decoded, it costs a fraction.
    expect(layer.gzip![0].patchBytes).toBeLessThan(gz(NEW_TEXT).length / 4);
    expect(patch.length).toBeLessThan(gz(NEW_TEXT).length / 2);
  });

  it('is found by content, not by name: a gzip stream named .dat goes the same way; a plain .gz name does not', async () => {
    const [o, n] = pair(
      [{ path: 'opt/data.dat', data: gz(NEW_TEXT, 6) }, { path: 'opt/plain.gz', data: NEW_TEXT }],
      [{ path: 'opt/data.dat', data: gz(OLD_TEXT, 6) }, { path: 'opt/plain.gz', data: OLD_TEXT }],
    );
    const { summary: s } = await roundTrip(await buildDockerArchive(o), await buildDockerArchive(n));
    expect(gzipFiles(s)).toEqual(['opt/data.dat']);
  });

  it('carries a stream the codec cannot reproduce (bad CRC) as bytes, and tiny ones too; both still round-trip', async () => {
    const broken = gz(NEW_TEXT);
    broken[broken.length - 6] ^= 1; // CRC32 of the member: decoding refuses it
    const core = await loadCore();
    expect(core.exactForm(broken, 'gzip', { maxOutput: 1 << 24, maxStructure: 1 << 22 })).toBeNull();
    const [o, n] = pair(
      [{ path: 'a/broken.gz', data: broken }, { path: 'a/tiny.gz', data: gz('tiny v2\n') }, { path: 'a/trailing.gz', data: new Uint8Array([...gz(NEW_TEXT), 0, 1, 2, 3]) }],
      [{ path: 'a/broken.gz', data: gz(OLD_TEXT) }, { path: 'a/tiny.gz', data: gz('tiny v1\n') }, { path: 'a/trailing.gz', data: gz(OLD_TEXT) }],
    );
    const { summary: s } = await roundTrip(await buildDockerArchive(o), await buildDockerArchive(n));
    // Trailing bytes after the member are part of the exact form: that one still goes decoded.
    expect(gzipFiles(s)).toEqual(['a/trailing.gz']);
  });

  describe('a tampered GZIP record is refused with one line', () => {
    const gzipFrame = () => {
      const forged = decodePatch(patch);
      const entry = forged.entries.find((e) => e.frames.some((f) => f.type === FrameType.Gzip))!;
      return { forged, frame: entry.frames.find((f) => f.type === FrameType.Gzip)! };
    };
    /** The old form, which the deltas were made against, and the core that predicts from the new text. */
    let oldForm: { text: Uint8Array; structure: Uint8Array };
    let core: Awaited<ReturnType<typeof loadCore>>;
    beforeAll(async () => {
      core = await loadCore();
      oldForm = core.gunzipExact(gz(OLD_TEXT), { maxOutput: 1 << 24, maxStructure: 1 << 22 });
    });
    const decodeRecord = (payload: Uint8Array): GzipEntryData => {
      const input = new VarintReader(payload, 'test');
      const limits = gzipEntryLimits(1 << 20);
      const head = decodeGzipHead(input, 100, limits);
      const text = decodeGzipText(input, head, oldForm.text.length);
      const prediction = head.model ? core.zlibPredict(core.patch(oldForm.text, text, head.textSize), head.model, limits.maxStructure) : new Uint8Array(0);
      return { ...head, text, structure: decodeGzipStructure(input, head, oldForm.structure.length + prediction.length) };
    };
    const applyForged = (mutate: (g: GzipEntryData) => void) => {
      const { forged, frame } = gzipFrame();
      const record = decodeRecord(frame.payload);
      mutate(record);
      frame.payload = encodeGzipEntry(record);
      return applyToBytes(old, encodePatch(forged));
    };

    it('the record decodes back to what create wrote (the test tool itself is sound)', async () => {
      const { out } = await applyForged(() => {});
      expect(out).toEqual(neu);
    });

    it('a different promised sha256', async () => {
      const e = await expectPatcherError(() => applyForged((g) => (g.sha256[0] ^= 1)), 'DIGEST_MISMATCH', 'sha256');
      expect(e.message).toContain('changelog.gz');
    });

    it('a flipped byte of the new text', async () => {
      // A match over the changed byte no longer agrees with the text (BAD_PATCH), or the CRC/digest differs.
      await expect(applyForged((g) => (g.text.extra[0] ^= 0x20))).rejects.toMatchObject({ code: expect.stringMatching(/^(BAD_PATCH|DIGEST_MISMATCH)$/), message: expect.not.stringMatching(/\n/) });
    });

    it('a flipped byte of the structure', async () => {
      let caught = '';
      for (const at of [0, 5, 100, 1000]) {
        try {
          await applyForged((g) => {
            const target = g.structure.extra.length > at ? g.structure.extra : g.structure.diff;
            target[at % target.length] ^= 0x11;
          });
        } catch (err) {
          caught = (err as { code?: string }).code ?? 'not a PatcherError';
          expect(['BAD_PATCH', 'DIGEST_MISMATCH']).toContain(caught);
          expect((err as Error).message).not.toMatch(/\n/);
          continue;
        }
        throw new Error(`structure flip at ${at} was accepted`);
      }
    });

    it('a prediction model out of range, or another than create chose', async () => {
      const e = await expectPatcherError(() => applyForged((g) => (g.model = 10)), 'BAD_PATCH', 'model 10');
      expect(e.message).toMatch(/prediction model 10/);
      for (const model of [0, 1, 6, 9]) {
        const { frame } = gzipFrame();
        if (decodeRecord(frame.payload).model === model) continue;
        await expect(applyForged((g) => (g.model = model))).rejects.toMatchObject({ code: expect.stringMatching(/^(BAD_PATCH|DIGEST_MISMATCH)$/), message: expect.not.stringMatching(/\n/) });
      }
    });

    it('the structure went against a zlib prediction (the test stream is zlib-made)', () => {
      const { frame } = gzipFrame();
      expect(decodeRecord(frame.payload).model).toBeGreaterThan(0);
    });

    it('an old range that is not the twin', async () => {
      await expectPatcherError(() => applyForged((g) => (g.old.offset += 512)), 'BAD_PATCH', 'old offset');
      await expectPatcherError(() => applyForged((g) => (g.old.blob = 99)), 'BAD_PATCH', 'old blob');
    });

    it('sizes past the limits, or that disagree with the deltas', async () => {
      await expectPatcherError(() => applyForged((g) => (g.textSize = 1 << 30)), 'BAD_PATCH', 'text size');
      await expectPatcherError(() => applyForged((g) => (g.structureSize += 1)), 'BAD_PATCH', 'structure size');
      await expectPatcherError(() => applyForged((g) => (g.newSize = 1 << 29)), 'BAD_PATCH', 'new size');
    });

    it('random bytes of the payload (checksum fixed up): an error or the right bytes, never a crash', async () => {
      const { frame } = gzipFrame();
      let seed = 7;
      for (let i = 0; i < 40; i++) {
        const { forged, frame: f } = gzipFrame();
        seed = (seed * 1103515245 + 12345) >>> 0;
        const at = seed % frame.payload.length;
        f.payload = f.payload.slice();
        f.payload[at] ^= 1 + ((seed >>> 16) % 255);
        try {
          const { out } = await applyToBytes(old, encodePatch(forged));
          expect(out).toEqual(neu);
        } catch (err) {
          expect(['BAD_PATCH', 'DIGEST_MISMATCH'], String(err)).toContain((err as { code?: string }).code);
          expect((err as Error).message).not.toMatch(/\n/);
        }
      }
    });
  });
});

describe('format version', () => {
  let patch: Uint8Array;
  let old: Uint8Array;
  beforeAll(async () => {
    const [o, n] = pair([{ path: 'x', data: 'two' }], [{ path: 'x', data: 'one' }]);
    old = await buildDockerArchive(o);
    ({ patch } = await makePatch(old, await buildDockerArchive(n)));
  });

  it('is 3, in the magic and the header', () => {
    expect(FORMAT_VERSION).toBe(3);
    expect(patch[PATCH_MAGIC.length]).toBe(3);
  });

  it('a version-1 or version-2 patch read by this version: one line naming both', async () => {
    for (const version of [1, 2]) {
      const older = patch.slice();
      older[PATCH_MAGIC.length] = version;
      const e = await expectPatcherError(() => applyToBytes(old, older), 'BAD_PATCH', `v${version}`);
      expect(e.message).toBe(`unsupported patch format version ${version}; this docker-patcher reads version 3`);
      await expectPatcherError(() => inspectPatch(chunked(older)), 'BAD_PATCH', `inspect v${version}`);
    }
  });

  it('a patch of a later version: the same shape', async () => {
    const v4 = patch.slice();
    v4[PATCH_MAGIC.length] = 4;
    const e = await expectPatcherError(() => applyPatch(old, chunked(v4), () => {}, { hasher: nodeHasher }), 'BAD_PATCH', 'v4');
    expect(e.message).toBe('unsupported patch format version 4; this docker-patcher reads version 3');
  });
});

describe('the nginx pair', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('its 4 changed Debian changelogs go decoded; round trip byte for byte', async () => {
    const dir = unpackPair(NGINX.file);
    dirs.push(dir);
    const [oldSrc, newSrc] = [await fileSource(join(dir, NGINX.old.name)), await fileSource(join(dir, NGINX.new.name))];
    try {
      const { patch, summary } = await makePatch(oldSrc, newSrc);
      expect(gzipFiles(summary).sort()).toEqual([
        'usr/share/doc/libssl3/changelog.Debian.gz',
        'usr/share/doc/libssl3/changelog.gz',
        'usr/share/doc/nginx-common/changelog.Debian.gz',
        'usr/share/doc/nginx/changelog.Debian.gz',
      ]);
      const changelog = summary.entries.flatMap((e) => e.gzip ?? []).find((g) => g.name.endsWith('libssl3/changelog.gz'))!;
      expect(changelog.size).toBe(254_900);
      // As bytes ~250 KB; decoded against the old structure alone 25,294 B; with zlib's prediction 9,340 B.
      expect(changelog.patchBytes).toBeLessThan(12_000);
      expect(patch.length).toBeLessThan(410_000); // 650,914 as bytes, 424,207 without the prediction
      const full = comparingSink(newSrc);
      await applyPatch(oldSrc, chunked(patch, 321), full.sink, { hasher: nodeHasher, expectNewId: NGINX.new.id });
      full.check();
    } finally {
      await oldSrc.close?.();
      await newSrc.close?.();
    }
  });
});
