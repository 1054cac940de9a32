/**
 * `docker-patcher create / apply -o / inspect / demo` on image archives,
 * through the built CLI (no daemon): byte-exact outputs, stdin/stdout, JSON,
 * and bad inputs: a non-zero exit, exactly one `docker-patcher: ` line on
 * stderr, no stack trace, and no output or temp file left behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ensureBuilt, listDir, scratchDir } from './helpers.js';
import { buildDockerArchive, buildOciArchive, samplePair, sharedLayerPair } from '../fixtures/images.js';
import { SMALL, unpackPair } from '../fixtures/shared.js';
import { walkFrames } from '../delta/util.js';
import { openImageArchive } from '../../src/image/archive.js';
import { memorySource } from '../../src/image/source.js';
import { nodeHasher } from '../../src/image/source.node.js';

let dir: string;
let oldTar: string;
let newTar: string;
let patchPath: string;
let neu: Buffer;
let oldId: string;
let newId: string;
const cleanup: string[] = [];
afterAll(() => cleanup.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** One line on stderr, prefixed with the program name, no stack trace. */
function expectOneLine(stderr: string, pattern?: RegExp): void {
  expect(stderr.endsWith('\n'), stderr).toBe(true);
  expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1);
  expect(stderr).toMatch(/^docker-patcher: /);
  expect(stderr).not.toMatch(/\bat .*:\d+:\d+/);
  if (pattern) expect(stderr).toMatch(pattern);
}

beforeAll(async () => {
  ensureBuilt();
  dir = scratchDir();
  cleanup.push(dir);
  const pair = samplePair();
  oldTar = join(dir, 'old.tar');
  newTar = join(dir, 'new.tar');
  writeFileSync(oldTar, await buildDockerArchive(pair.old));
  neu = Buffer.from(await buildDockerArchive(pair.new));
  writeFileSync(newTar, neu);
  patchPath = join(dir, 'app.patch');
  const r = cli(['create', '--json', oldTar, newTar, patchPath]);
  expect(r.status, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout.toString());
  [oldId, newId] = [summary.oldImageId, summary.newImageId];
}, 300_000);

describe('create', () => {
  it('writes a verified patch, and --json describes it', () => {
    const summary = JSON.parse(cli(['-q', 'create', '--json', oldTar, newTar, join(dir, 'again.patch')]).stdout.toString());
    expect(summary).toMatchObject({ oldImageId: oldId, newImageId: newId, newTags: samplePair().new.tags, newArchiveSize: neu.length });
    expect(summary.patchSize).toBe(readFileSync(patchPath).length);
    expect(summary.patchSize).toBeLessThan(neu.length * 0.05);
    expect(readFileSync(join(dir, 'again.patch')).equals(readFileSync(patchPath))).toBe(true);
    expect(summary.entries.filter((e: { kind: string }) => e.kind === 'reuse')).toHaveLength(3);
  });

  it('prints a summary and "verified" on stderr; -w, -j and --no-verify make the same kind of patch', () => {
    const work = scratchDir();
    const r = cli(['create', oldTar, newTar, join(work, 'p')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/verified/);
    expect(r.stderr).toContain(newId);
    const quick = cli(['-q', 'create', '-w', '64K', '-j', '1', '--no-verify', oldTar, newTar, join(work, 'q')]);
    expect(quick.status, quick.stderr).toBe(0);
    expect(quick.stderr).toBe('');
    expect(listDir(work)).toEqual(['p', 'q']);
    const back = cli(['-q', 'apply', oldTar, newId, join(work, 'q'), '-o', join(work, 'out.tar')]);
    expect(back.status, back.stderr).toBe(0);
    expect(readFileSync(join(work, 'out.tar')).equals(neu)).toBe(true);
  });

  it('writes the patch to stdout with -', () => {
    const r = cli(['-q', 'create', oldTar, newTar, '-']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(readFileSync(patchPath))).toBe(true);
  });
});

describe('apply -o', () => {
  it('rebuilds NEW byte for byte, by full or short ID, with --json', () => {
    const work = scratchDir();
    for (const id of [newId, newId.slice(7, 19)]) {
      const r = cli(['apply', oldTar, id, patchPath, '-o', join(work, 'out.tar')]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(/verified/);
      expect(readFileSync(join(work, 'out.tar')).equals(neu)).toBe(true);
    }
    const j = cli(['apply', '--json', oldTar, newId, patchPath, '-o', join(work, 'j.tar')]);
    expect(j.status, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout.toString())).toMatchObject({ newImageId: newId, bytesWritten: neu.length, partial: false });
    expect(listDir(work)).toEqual(['j.tar', 'out.tar']);
  });

  it('reads the patch from stdin (-), writes the archive to stdout (-o -)', () => {
    const work = scratchDir();
    const r = cli(['-q', 'apply', oldTar, newId, '-', '-o', join(work, 'out.tar')], readFileSync(patchPath));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(readFileSync(join(work, 'out.tar')).equals(neu)).toBe(true);
    const out = cli(['-q', 'apply', oldTar, newId, '-', '-o', '-'], readFileSync(patchPath));
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.equals(neu)).toBe(true);
  });

  it('round-trips the real small pair, OCI archives too', async () => {
    const pair = unpackPair(SMALL.file);
    cleanup.push(pair);
    const [o, n, p, out] = [join(pair, SMALL.old.name), join(pair, SMALL.new.name), join(pair, 'p'), join(pair, 'out.tar')];
    expect(cli(['-q', 'create', o, n, p]).status).toBe(0);
    const r = cli(['-q', 'apply', o, SMALL.new.id, p, '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out).equals(readFileSync(n))).toBe(true);
    const spec = samplePair();
    const [oo, on] = [join(pair, 'oci-old.tar'), join(pair, 'oci-new.tar')];
    writeFileSync(oo, await buildOciArchive(spec.old, { gzip: true }));
    writeFileSync(on, await buildOciArchive(spec.new, { gzip: true }));
    expect(cli(['-q', 'create', oo, on, p]).status).toBe(0);
    const id = JSON.parse(cli(['inspect', '--json', p]).stdout.toString()).newImageId;
    expect(cli(['-q', 'apply', oo, id, p, '-o', out]).status).toBe(0);
    expect(readFileSync(out).equals(readFileSync(on))).toBe(true);
  });
});

describe('inspect and demo', () => {
  it('inspect prints the table; --json the summary; - reads stdin', () => {
    const r = cli(['inspect', patchPath]);
    expect(r.status, r.stderr).toBe(0);
    const text = r.stdout.toString();
    expect(text).toContain(oldId);
    expect(text).toContain(newId);
    expect(text).toMatch(/^reuse /m);
    expect(text).toMatch(/^delta /m);
    const j = JSON.parse(cli(['inspect', '--json', patchPath]).stdout.toString());
    expect(j).toMatchObject({ formatVersion: 3, oldImageId: oldId, newImageId: newId, patchSize: readFileSync(patchPath).length });
    expect(j.entries.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['reuse', 'delta', 'literal']));
    const piped = cli(['inspect', '--json', '-'], readFileSync(patchPath));
    expect(JSON.parse(piped.stdout.toString())).toEqual(j);
  });

  it('demo works with no Docker and no files, and on two archives', () => {
    for (const args of [['demo'], ['demo', oldTar, newTar]]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.toString()).toMatch(/identical/);
      expect(r.stdout.toString()).not.toMatch(/DIFFERS/);
    }
  });
});

describe('bad inputs leave nothing behind', () => {
  /** Run in a fresh dir holding the fixtures; the dir (and the temp dir) must be unchanged afterwards. */
  function expectFailure(args: string[], status: number, pattern: RegExp, input?: Uint8Array): string {
    const work = scratchDir();
    cleanup.push(work);
    writeFileSync(join(work, 'old.tar'), readFileSync(oldTar));
    writeFileSync(join(work, 'new.tar'), neu);
    writeFileSync(join(work, 'patch'), readFileSync(patchPath));
    mkdirSync(join(work, 'tmp'));
    const before = listDir(work);
    const r = cli(args.map((a) => a.replaceAll('$W', work)), input);
    expect(r.status, r.stderr).toBe(status);
    expectOneLine(r.stderr, pattern);
    expect(listDir(work)).toEqual(before);
    expect(listDir(join(work, 'tmp'))).toEqual([]);
    return r.stderr;
  }
  const applyTo = (old: string, patch = '$W/patch', id = newId) => ['apply', '-e', '$W/tmp', old, id, patch, '-o', '$W/out.tar'];
  const write = (name: string, bytes: Uint8Array) => {
    writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };

  it('OLD that is not a tar, or truncated: exit 4', () => {
    const junk = write('junk.tar', Buffer.from('hello, not a tar\n'.repeat(100)));
    expectFailure(applyTo(junk), 4, /./);
    const cut = write('cut.tar', readFileSync(oldTar).subarray(0, 5000));
    expectFailure(applyTo(cut), 4, /./);
    expectFailure(['create', '-e', '$W/tmp', junk, '$W/new.tar', '$W/out.patch'], 4, /./);
    expectFailure(['create', '-e', '$W/tmp', '$W/old.tar', cut, '$W/out.patch'], 4, /./);
  });

  it('a patch for another OLD: exit 6, naming both IDs', async () => {
    const bytes = await buildDockerArchive(sharedLayerPair()[0]);
    const other = write('other.tar', bytes);
    const stderr = expectFailure(applyTo(other), 6, /./);
    expect(stderr).toContain(oldId);
    expect(stderr).toContain((await openImageArchive(memorySource(bytes), { hasher: nodeHasher })).imageId);
  });

  it('a NEW ID that does not match: exit 6', () => {
    expectFailure(applyTo('$W/old.tar', '$W/patch', 'sha256:' + 'ab'.repeat(32)), 6, new RegExp(newId.slice(7, 19)));
    expectFailure(applyTo('$W/old.tar', '$W/patch', 'deadbeef0123'), 6, /./);
  });

  it('truncated, flipped or extended patches, from a file or stdin: exit 5', () => {
    const good = readFileSync(patchPath);
    const frames = walkFrames(good);
    const bad: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['cut in the header', good.subarray(0, 40)],
      ['cut in the middle', good.subarray(0, Math.floor(good.length / 2))],
      ['cut before the end frame', good.subarray(0, frames.at(-1)!.offset)],
      ['garbage after the end', Buffer.concat([good, Buffer.from('trailing garbage')])],
    ];
    for (const f of [frames[0], frames[Math.floor(frames.length / 2)], frames.at(-1)!]) {
      const flipped = Buffer.from(good);
      flipped[f.offset + 5 + Math.floor(f.length / 2)] ^= 0x10;
      bad.push([`flipped in frame at ${f.offset}`, flipped]);
    }
    for (const [what, bytes] of bad) {
      const stderr = expectFailure(applyTo('$W/old.tar', '-'), 5, /patch/, bytes);
      expect(stderr, what).toMatch(/^docker-patcher: /);
      writeFileSync(join(dir, 'bad.patch'), bytes);
      expectFailure(applyTo('$W/old.tar', join(dir, 'bad.patch')), 5, /patch/);
      expectFailure(['inspect', join(dir, 'bad.patch')], 5, /patch/);
    }
  });

  it('missing files and usage errors', () => {
    expectFailure(applyTo('$W/nope.tar'), 3, /nope\.tar/);
    expectFailure(applyTo('$W/old.tar', '$W/nope.patch'), 3, /nope\.patch/);
    expectFailure(['create', '-e', '$W/tmp', '$W/old.tar', '$W/new.tar', '$W/no/such/dir/p'], 3, /./);
    expectFailure(['create', '-w', '1K', '$W/old.tar', '$W/new.tar', '$W/p'], 2, /window/);
    expectFailure(['create', '-j', '0', '$W/old.tar', '$W/new.tar', '$W/p'], 2, /./);
    expectFailure(['demo', '$W/old.tar'], 2, /both/);
  });
});
