// planLayer on its own: small layer tars built in memory, old images of one
// or two layers, and the plan checked piece by piece. Every plan must tile
// the new layer exactly, and every COPY must name old bytes equal to the new
// ones (checkPlan), whatever else a test asserts.
import { describe, expect, test } from 'vitest';
import { planLayer, twinOf, type PlannedWindow } from '../../src/delta/plan.js';
import { buildLayerTar, type FileSpec } from '../../src/image/build.js';
import { ImageFileMap, indexLayerSource, type LayerIndex } from '../../src/image/layer-index.js';
import { memorySource } from '../../src/image/source.js';
import { paddingSize } from '../../src/image/tar-header.js';
import { randomBytes } from '../../src/image/sample.js';

interface OldLayer {
  diffId: string;
  bytes: Uint8Array;
  index: LayerIndex;
}

async function layer(diffId: string, files: FileSpec[]): Promise<OldLayer> {
  const bytes = await buildLayerTar(files);
  return { diffId, bytes, index: await indexLayerSource(memorySource(bytes)) };
}

/** Plan `newFiles` against the old layers (bottom to top; blob i = old layer i). */
async function plan(oldLayers: OldLayer[], newFiles: FileSpec[], windowSize = 64 * 1024) {
  const neu = await layer('new', newFiles);
  const fileMap = new ImageFileMap(oldLayers.map(({ diffId, index }) => ({ diffId, index })));
  const blobs = new Map(oldLayers.map((l, i) => [l.diffId, i]));
  const windows = await planLayer(neu.index, memorySource(neu.bytes), {
    fileMap,
    blobOf: (diffId) => blobs.get(diffId)!,
    oldLayer: (diffId) => memorySource(oldLayers[blobs.get(diffId)!].bytes),
    windowSize,
  });
  checkPlan(windows, neu.bytes, oldLayers);
  return { windows, neu, fileMap };
}

/** The pieces, in order, make exactly the new layer; COPY pieces name equal old bytes; refs stay inside their blobs. */
function checkPlan(windows: PlannedWindow[], neu: Uint8Array, old: OldLayer[]): void {
  let at = 0;
  for (const w of windows) {
    expect(w.pieces.length).toBeGreaterThan(0);
    for (const p of w.pieces) {
      if (p.copy) {
        expect(Buffer.from(old[p.blob].bytes.subarray(p.offset, p.offset + p.length)).equals(Buffer.from(neu.subarray(at, at + p.length)))).toBe(true);
      } else {
        expect(p.newOffset).toBe(at);
      }
      at += p.length;
    }
    for (const r of w.refs) expect(r.offset + r.length).toBeLessThanOrEqual(old[r.blob].bytes.length);
    expect(w.diffBytes).toBe(w.pieces.reduce((n, p) => n + (p.copy ? 0 : p.length), 0));
  }
  expect(at).toBe(neu.length);
}

const end = (e: { dataOffset: number; size: number }) => e.dataOffset + e.size + paddingSize(e.size);
const entry = (l: { index: LayerIndex }, path: string) => l.index.entries.find((e) => e.path === path)!;
const pieceKinds = (w: PlannedWindow) => w.pieces.map((p) => (p.copy ? `copy ${p.blob}` : 'diff'));

describe('planLayer', () => {
  test('unchanged files are reused: one COPY of headers and data', async () => {
    const files: FileSpec[] = [
      { path: 'usr', type: 'directory' },
      { path: 'usr/a.bin', data: randomBytes(5000, 1) },
      { path: 'usr/b.txt', data: 'bbb\n' },
    ];
    const old = await layer('old0', files);
    const { windows, neu } = await plan([old], files);
    expect(windows).toHaveLength(1);
    // A directory has no data to compare: its header is diffed against its twin's (a 512-byte reference);
    // the two unchanged files then make one COPY of headers, data and padding.
    expect(pieceKinds(windows[0])).toEqual(['diff', 'copy 0', 'diff']);
    expect(windows[0].refs).toEqual([{ blob: 0, offset: 0, length: 512 }]);
    const firstFile = entry(neu, 'usr/a.bin').headerOffset;
    const lastEnd = end(entry(neu, 'usr/b.txt'));
    expect(windows[0].pieces[1]).toEqual({ copy: true, blob: 0, offset: firstFile, length: lastEnd - firstFile });
    expect(windows[0].pieces[2]).toEqual({ copy: false, newOffset: lastEnd, length: 1024 });
    expect(windows[0].diffBytes).toBe(512 + 1024);
  });

  test('a file that moved (other layer, other position, new header) copies its data from where it is', async () => {
    const a = randomBytes(3000, 2);
    const b = randomBytes(7000, 3);
    const old0 = await layer('old0', [{ path: 'opt/a.bin', data: a }]);
    const old1 = await layer('old1', [{ path: 'opt/b.bin', data: b }]);
    // b first, then a with a new mode (so its header differs).
    const { windows, neu } = await plan([old0, old1], [{ path: 'opt/b.bin', data: b }, { path: 'opt/a.bin', data: a, mode: 0o600 }]);
    expect(windows).toHaveLength(1);
    const [w] = windows;
    expect(w.pieces[0]).toEqual({ copy: true, blob: 1, offset: 0, length: end(entry(neu, 'opt/b.bin')) });
    // a: its new header diffed against the old header (a reference), its data copied from blob 0.
    const oldA = entry(old0, 'opt/a.bin');
    expect(w.pieces.slice(1).map((p) => (p.copy ? { blob: p.blob, offset: p.offset, length: p.length } : 'diff'))).toEqual([
      'diff',
      { blob: 0, offset: oldA.dataOffset, length: a.length },
      'diff',
    ]);
    expect(w.refs).toEqual([{ blob: 0, offset: oldA.headerOffset, length: oldA.dataOffset - oldA.headerOffset }]);
  });

  test('a changed file is diffed against its old version, found by path in whatever layer holds it', async () => {
    const lib = randomBytes(9000, 4);
    const old0 = await layer('old0', [{ path: 'lib/libz.so', data: lib }]);
    const old1 = await layer('old1', [{ path: 'etc/other', data: 'x'.repeat(100) }]);
    const edited = lib.slice();
    edited.set([1, 2, 3], 4000);
    const { windows } = await plan([old0, old1], [{ path: 'lib/libz.so', data: edited }]);
    const twin = entry(old0, 'lib/libz.so');
    expect(windows[0].refs).toEqual([{ blob: 0, offset: twin.headerOffset, length: end(twin) - twin.headerOffset }]);
    expect(pieceKinds(windows[0])).toEqual(['diff']);
  });

  test('renamed: falls back to the same basename, then the same stem, at a similar size', async () => {
    const old0 = await layer('old0', [
      { path: 'usr/lib/libssl.so.3.0.17', data: randomBytes(8000, 5) },
      { path: 'usr/share/tiny.txt', data: 'small\n' },
      { path: 'usr/share/huge.dat', data: randomBytes(40_000, 6) },
    ]);
    const { fileMap } = await plan([old0], []);
    const probe = async (spec: FileSpec) => twinOf(entry(await layer('p', [spec]), spec.path), fileMap)?.path;
    // Same basename, other directory.
    expect(await probe({ path: 'usr/lib64/libssl.so.3.0.17', data: randomBytes(8100, 7) })).toBe('usr/lib/libssl.so.3.0.17');
    // Same stem: the version digits changed.
    expect(await probe({ path: 'usr/lib/libssl.so.3.0.22', data: randomBytes(7900, 8) })).toBe('usr/lib/libssl.so.3.0.17');
    // Too small to guess (< 64 bytes), or a size too far off (> 4x): no twin.
    expect(await probe({ path: 'opt/tiny.txt', data: 'small\n' })).toBeUndefined();
    expect(await probe({ path: 'opt/huge.dat', data: randomBytes(9000, 9) })).toBeUndefined();

    const { windows } = await plan([old0], [{ path: 'usr/lib/libssl.so.3.0.22', data: randomBytes(7900, 8) }]);
    const twin = entry(old0, 'usr/lib/libssl.so.3.0.17');
    expect(windows[0].refs).toEqual([{ blob: 0, offset: twin.headerOffset, length: end(twin) - twin.headerOffset }]);
  });

  test('files with no twin are literals: diffed against no reference', async () => {
    const old0 = await layer('old0', [{ path: 'a', data: 'old\n' }]);
    const { windows } = await plan([old0], [{ path: 'new-dir', type: 'directory' }, { path: 'new-dir/f.bin', data: randomBytes(3000, 10) }]);
    expect(windows).toHaveLength(1);
    expect(windows[0].refs).toEqual([]);
    expect(pieceKinds(windows[0])).toEqual(['diff']);
  });

  test('windows close at entry bounds once full; a file bigger than a window is cut into window-sized chunks', async () => {
    const WINDOW = 8192;
    const smallFiles = Array.from({ length: 12 }, (_, i): FileSpec => ({ path: `d/f${i}.bin`, data: randomBytes(3000, 20 + i) }));
    const big = randomBytes(30_000, 40);
    const oldFiles = [...smallFiles, { path: 'd/big.bin', data: big }];
    const old0 = await layer('old0', oldFiles);
    const changed = (f: FileSpec, seed: number): FileSpec => {
      const data = (f.data as Uint8Array).slice();
      data.set(randomBytes(16, seed), 100);
      return { ...f, data };
    };
    const newFiles = oldFiles.map((f, i) => changed(f, 60 + i));
    const { windows, neu } = await plan([old0], newFiles, WINDOW);

    const bounds = new Set(neu.index.entries.map(end));
    const bigEntry = entry(neu, 'd/big.bin');
    let at = 0;
    for (const w of windows) {
      at += w.pieces.reduce((n, p) => n + p.length, 0);
      const inBig = at > bigEntry.headerOffset && at < end(bigEntry);
      // Small-file windows end at an entry's end; chunks of the big file end every WINDOW bytes.
      if (!inBig && at !== neu.bytes.length) expect(bounds.has(at)).toBe(true);
      if (inBig) expect((at - bigEntry.headerOffset) % WINDOW).toBe(0);
      expect(w.diffBytes).toBeLessThanOrEqual(WINDOW + 3584); // closes after the entry that fills it
    }
    const smallWindows = windows.filter((w) => w.pieces.every((p) => !p.copy && p.newOffset + p.length <= bigEntry.headerOffset));
    expect(smallWindows.length).toBeGreaterThanOrEqual(4); // 12 x ~3.5 KiB in 8 KiB windows
    const bigWindows = windows.filter((w) => w.pieces.some((p) => !p.copy && p.newOffset >= bigEntry.headerOffset && p.newOffset < end(bigEntry)));
    expect(bigWindows).toHaveLength(Math.ceil((end(bigEntry) - bigEntry.headerOffset) / WINDOW));
    // Each chunk references the old big file (with a margin, so here all of it): never another file.
    const oldBig = entry(old0, 'd/big.bin');
    for (const w of bigWindows) {
      expect(w.refs).toHaveLength(1);
      expect(w.refs[0].offset).toBeGreaterThanOrEqual(oldBig.headerOffset);
      expect(w.refs[0].offset + w.refs[0].length).toBeLessThanOrEqual(end(oldBig));
    }
  });
});
