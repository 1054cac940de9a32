/**
 * A deterministic old/new image pair that exercises what the patcher must
 * handle: a ~200 KB pseudo-random binary changed by small edits (and moved to
 * a later layer), a changed config file, a renamed file, a file deleted by a
 * whiteout, an opaque directory, symlinks, hard links, a PAX long path, an
 * empty layer, and three layers shared by both images. Drives the tests and
 * `docker-patcher demo`. Memory: the specs hold ~0.5 MB of file data.
 */

import type { FileSpec, ImageSpec } from './build.js';

/** mulberry32: a small seeded PRNG, returns a function giving uint32 values. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `size` pseudo-random bytes from `seed`. */
export function randomBytes(size: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 4) {
    const v = next();
    for (let k = 0; k < 4 && i + k < size; k++) out[i + k] = v >>> (8 * k);
  }
  return out;
}

/**
 * A copy of `base` with small edits: a few overwritten runs, an insertion
 * and a deletion, all chosen by `seed`. Most of the bytes stay in place.
 */
export function editBytes(base: Uint8Array, seed: number): Uint8Array {
  const next = prng(seed);
  const out = base.slice();
  for (let i = 0; i < 12; i++) {
    const at = next() % (out.length - 64);
    out.set(randomBytes(1 + (next() % 48), next()), at);
  }
  const insertAt = next() % out.length;
  const deleteAt = next() % (out.length - 4096);
  const inserted = randomBytes(300, next());
  const withInsert = new Uint8Array(out.length + inserted.length);
  withInsert.set(out.subarray(0, insertAt));
  withInsert.set(inserted, insertAt);
  withInsert.set(out.subarray(insertAt), insertAt + inserted.length);
  const result = new Uint8Array(withInsert.length - 1000);
  result.set(withInsert.subarray(0, deleteAt));
  result.set(withInsert.subarray(deleteAt + 1000), deleteAt);
  return result;
}

const dir = (path: string): FileSpec => ({ path, type: 'directory' });
const file = (path: string, data: Uint8Array | string, mode?: number): FileSpec => ({ path, data, mode });

/** A path over 100 bytes whose last component alone is too long for ustar: the writer puts a PAX header in front. */
export const SAMPLE_LONG_PATH = `app/share/${'deeply-nested-directory/'.repeat(3)}${'a-very-long-file-name-'.repeat(5)}.txt`;
/** A path over 100 bytes that ustar's prefix field can hold (no PAX). */
export const SAMPLE_PREFIX_PATH = `app/share/${'nested/'.repeat(14)}config-with-prefix.yaml`;

const BLOB_SIZE = 200 * 1024;
const runScript = '#!/bin/sh\nexec /app/bin/app "$@"\n';

/** Layers 0-2, identical in both images. */
function sharedLayers(blob: Uint8Array): FileSpec[][] {
  const base = [
    dir('app'), dir('app/bin'), dir('app/data'), dir('app/lib'), dir('app/cache'), dir('app/share'), dir('etc'),
    file('app/bin/run.sh', runScript, 0o755),
    file('app/data/blob.bin', blob),
    file('app/lib/libfoo.so.1.2.0', randomBytes(12 * 1024, 7)),
    file('app/notes.txt', 'notes that the new image deletes\n'),
    file('app/cache/a.tmp', 'cache entry a\n'),
    file('app/cache/b.tmp', 'cache entry b\n'),
    file(SAMPLE_LONG_PATH, 'a file whose path needs a PAX header\n'),
    file(SAMPLE_PREFIX_PATH, 'key: value\n'),
  ];
  const links = [
    { path: 'app/current', type: 'symlink', linkname: 'data/blob.bin' } as FileSpec,
    file('app/bin/start.sh', '#!/bin/sh\n/app/bin/run.sh start\n', 0o755),
    { path: 'app/bin/stop.sh', type: 'link', linkname: 'app/bin/start.sh' } as FileSpec,
  ];
  return [base, links, []];
}

const appConf = (version: number, workers: number) =>
  `# app.conf\nversion = ${version}\nworkers = ${workers}\nlisten = 0.0.0.0:8080\nlog_level = info\n`;

/**
 * The sample old/new pair. Old: layers 0-2 shared, layer 3 with the config
 * file. New: the same three layers, then a layer holding the edited blob
 * (moved up from layer 0), the new config file, the renamed library, the
 * whiteouts, an opaque cache dir and a new hard link.
 */
export function samplePair(): { old: ImageSpec; new: ImageSpec } {
  const blob = randomBytes(BLOB_SIZE, 1);
  const shared = sharedLayers(blob);
  const old: ImageSpec = {
    layers: [...shared, [file('etc/app.conf', appConf(1, 4)), file('app/BUILD', 'build 1\n')]],
    config: { config: { Cmd: ['/app/bin/run.sh', '--version'], Labels: { version: '1' } } },
    tags: ['dp-sample/app:v1'],
  };
  const libfoo = randomBytes(12 * 1024, 7);
  libfoo.set([1, 3], 100);
  const changes: FileSpec[] = [
    file('etc/app.conf', appConf(2, 8)),
    file('app/BUILD', 'build 2\n'),
    file('app/data/blob.bin', editBytes(blob, 2)),
    file('app/lib/libfoo.so.1.3.0', libfoo),
    file('app/lib/.wh.libfoo.so.1.2.0', ''),
    file('app/.wh.notes.txt', ''),
    file('app/cache/.wh..wh..opq', ''),
    file('app/cache/c.tmp', 'cache entry c\n'),
    file('app/bin/restart.sh', '#!/bin/sh\n/app/bin/run.sh restart\n', 0o755),
    { path: 'app/bin/reload.sh', type: 'link', linkname: 'app/bin/restart.sh' },
  ];
  const next: ImageSpec = {
    layers: [...shared, changes],
    config: { config: { Cmd: ['/app/bin/run.sh', '--serve'], Labels: { version: '2' } } },
    tags: ['dp-sample/app:v2'],
  };
  return { old, new: next };
}
