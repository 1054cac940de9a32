/**
 * saveImageToFile, loadArchive and loadWithFallback against the real daemon
 * at DOCKER_HOST (unreachable = failure, never a skip), and one library-level
 * round trip: createPatch from two saved images, applyPatch from the old
 * image in the daemon, partial load. Our CI daemon (Debian's docker.io 20.10,
 * classic store) accepts partial archives.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { DockerClient } from '../../src/docker/index.js';
import { loadArchive } from '../../src/docker/load.js';
import { loadWithFallback } from '../../src/device/load.js';
import { daemonOldImage } from '../../src/docker/old-image.js';
import { saveImageToFile } from '../../src/docker/save.js';
import { createPatch } from '../../src/delta/create.js';
import { applyPatch } from '../../src/delta/apply.js';
import { fileSource, nodeHasher } from '../../src/image/source.node.js';
import { chunked, legacyArchive, rejection, removeQuietly, requireDaemon, tarOf, uniqueRepo, type LegacyImage } from './helpers.js';

let client: DockerClient;
const repo = uniqueRepo('load');
let tmp = '';
let base: Buffer; // a layer the daemon holds (bottom of `held`)
let held: LegacyImage;
const toRemove: string[] = [];

/** The image ID a reference has in the daemon, or undefined. */
async function idOf(ref: string): Promise<string | undefined> {
  return client.inspectImage(ref).then(
    (info) => info.Id,
    () => undefined,
  );
}

function write(name: string, data: Uint8Array): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, data);
  return file;
}

/** A one-file layer unique to this run. */
function layer(name: string, data: string): Promise<Buffer> {
  return tarOf([{ name: `etc/${repo}/${name}`, data }]);
}

beforeAll(async () => {
  client = await requireDaemon();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-load-'));
  base = await layer('base', 'base layer\n'.repeat(2000));
  held = await legacyArchive([base, await layer('top', 'held top')], `${repo}:held`);
  await client.loadImage(chunked(held.archive));
  toRemove.push(`${repo}:held`, held.id);
});

afterAll(async () => {
  if (client) await removeQuietly(client, toRemove);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('saveImageToFile + loadArchive', () => {
  it('saves a real image, and loads it back after removal with its ID and our tags', async () => {
    const image = await legacyArchive([base, await layer('saved', 'saved top')], `${repo}:saved`);
    await client.loadImage(chunked(image.archive));
    toRemove.push(`${repo}:saved`, `${repo}:x`, `${repo}:y`, image.id);
    const file = path.join(tmp, 'saved.tar');
    let counted = 0;
    await saveImageToFile(client, image.id.slice(7, 19), file, (n) => (counted += n));
    expect(counted).toBe(fs.statSync(file).size);
    expect(counted).toBeGreaterThan(base.length);

    await client.removeImage(`${repo}:saved`, { force: true });
    expect(await idOf(image.id)).toBeUndefined();
    const lines: string[] = [];
    await loadArchive(client, file, { expectedId: image.id, tags: [`${repo}:x`, `${repo}:y`], onMessage: (l) => lines.push(l) });
    const info = await client.inspectImage(`${repo}:x`);
    expect(info.Id).toBe(image.id);
    expect(info.RepoTags.sort()).toEqual([`${repo}:x`, `${repo}:y`]); // saved by ID: the archive carries no tag
    expect(info.RootFS.Layers).toEqual(image.diffIds);
    expect(lines.join('\n')).toContain(`Loaded image ID: ${image.id}`);
  });

  it('reports an unknown image as NOT_FOUND and leaves no file', async () => {
    const file = path.join(tmp, 'unknown.tar');
    const err = await rejection(saveImageToFile(client, `${repo}:nope`, file));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('reports an unwritable path as a one-line IO error', async () => {
    const err = await rejection(saveImageToFile(client, `${repo}:held`, path.join(tmp, 'no/such/dir.tar')));
    expect(err.code).toBe(ErrorCode.Io);
    expect(err.message).not.toContain('\n');
  });

  it('turns a load failure inside the 200 stream into one DOCKER line and tags nothing', async () => {
    // A partial archive that leaves out a layer the daemon does not hold.
    const image = await legacyArchive([await layer('unheld', 'x'), await layer('over', 'y')], `${repo}:broken`, [0]);
    const err = await rejection(loadArchive(client, write('broken.tar', image.archive), { expectedId: image.id, tags: [`${repo}:t1`] }));
    expect(err.code).toBe(ErrorCode.Docker);
    expect(err.message).toMatch(/^docker: image load failed: /);
    expect(err.message).not.toContain('\n');
    expect(await idOf(`${repo}:t1`)).toBeUndefined();
    expect(await idOf(image.id)).toBeUndefined();

    const garbage = await rejection(loadArchive(client, write('garbage.tar', Buffer.alloc(4096, 7)), { expectedId: image.id, tags: [`${repo}:t1`] }));
    expect(garbage.code).toBe(ErrorCode.Docker);
    expect(garbage.message).not.toContain('\n');
    expect(await idOf(`${repo}:t1`)).toBeUndefined();
  });

  it('reports another image ID as DIGEST_MISMATCH naming both, and tags nothing', async () => {
    const image = await legacyArchive([base, await layer('mismatch', 'm')], `${repo}:mismatch`);
    toRemove.push(`${repo}:mismatch`, image.id, `${repo}:t2`);
    const file = write('mismatch.tar', image.archive);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const err = await rejection(loadArchive(client, file, { expectedId: wrong, tags: [`${repo}:t2`] }));
    expect(err.code).toBe(ErrorCode.DigestMismatch);
    expect(err.message).toContain(image.id);
    expect(err.message).toContain(wrong);
    expect(await idOf(`${repo}:t2`)).toBeUndefined();

    // An ID the daemon does hold, but not the one this archive makes, is a mismatch too.
    const other = await rejection(loadArchive(client, file, { expectedId: held.id, tags: [`${repo}:t2`] }));
    expect(other.code).toBe(ErrorCode.DigestMismatch);
    expect(other.message).toContain(image.id);
    expect(await idOf(`${repo}:t2`)).toBeUndefined();

    // A missing archive file is IO.
    expect((await rejection(loadArchive(client, path.join(tmp, 'none.tar'), { expectedId: image.id, tags: [] }))).code).toBe(ErrorCode.Io);
  });
});

describe('loadWithFallback', () => {
  it('loads a partial archive the daemon accepts', async () => {
    const top = await layer('partial-ok', 'p');
    const image = await legacyArchive([base, top], `${repo}:pok`, [0]);
    toRemove.push(`${repo}:pok`, `${repo}:pok2`, image.id);
    const calls: boolean[] = [];
    const notes: string[] = [];
    const result = await loadWithFallback(client, {
      expectedId: image.id,
      tags: [`${repo}:pok2`],
      makeArchive: async (partial) => (calls.push(partial), write('pok.tar', image.archive)),
      info: (m) => notes.push(m),
    });
    expect(result).toEqual({ partial: true, loadedId: image.id });
    expect(calls).toEqual([true]);
    expect(notes).toEqual([]);
    expect(await idOf(`${repo}:pok2`)).toBe(image.id);
  });

  it('sends the full image when the daemon refuses the partial archive', async () => {
    const layers = [await layer('unheld-base', 'u'.repeat(5000)), await layer('refused', 'r')];
    const partial = await legacyArchive(layers, `${repo}:ref`, [0]);
    const full = await legacyArchive(layers, `${repo}:ref`);
    expect(full.id).toBe(partial.id);
    toRemove.push(`${repo}:ref`, `${repo}:ref2`, full.id);
    const calls: boolean[] = [];
    const notes: string[] = [];
    const result = await loadWithFallback(client, {
      expectedId: full.id,
      tags: [`${repo}:ref2`],
      makeArchive: async (p) => (calls.push(p), write(p ? 'ref-partial.tar' : 'ref-full.tar', (p ? partial : full).archive)),
      info: (m) => notes.push(m),
    });
    expect(result).toEqual({ partial: false, loadedId: full.id });
    expect(calls).toEqual([true, false]);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^daemon refused the partial archive \(image load failed: .+\); sending the full image$/);
    expect(await idOf(`${repo}:ref2`)).toBe(full.id);
  });

  it('does not retry a DIGEST_MISMATCH, nor an unreachable daemon', async () => {
    const image = await legacyArchive([base, await layer('noretry', 'n')], `${repo}:noretry`, [0]);
    toRemove.push(`${repo}:noretry`, image.id);
    const calls: boolean[] = [];
    const make = async (p: boolean) => (calls.push(p), write('noretry.tar', image.archive));
    const wrong = `sha256:${'1'.repeat(64)}`;
    const err = await rejection(loadWithFallback(client, { expectedId: wrong, tags: [`${repo}:nr`], makeArchive: make }));
    expect(err.code).toBe(ErrorCode.DigestMismatch);
    expect(calls).toEqual([true]);
    expect(await idOf(`${repo}:nr`)).toBeUndefined();

    calls.length = 0;
    const gone = new DockerClient({ host: `unix://${path.join(tmp, 'nonexistent.sock')}`, apiVersion: '1.41' });
    const down = await rejection(loadWithFallback(gone, { expectedId: image.id, tags: [], makeArchive: make }));
    expect(down.code).toBe(ErrorCode.Docker);
    expect(down.message).not.toContain('\n');
    expect(calls).toEqual([true]);
  });
});

describe('create -> apply from the daemon -> partial load', () => {
  it('rebuilds the new image from the old one in the daemon, sending only the changed layer', async () => {
    const blob = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251));
    const v2blob = Buffer.concat([blob.subarray(0, 100_000), Buffer.from('patched!'), blob.subarray(100_000)]);
    const app1 = await tarOf([{ name: `opt/${repo}/app.bin`, data: blob }, { name: `etc/${repo}/version`, data: '1' }]);
    const app2 = await tarOf([{ name: `opt/${repo}/app.bin`, data: v2blob }, { name: `etc/${repo}/version`, data: '2' }]);
    const v1 = await legacyArchive([base, app1], `${repo}:v1`);
    const v2 = await legacyArchive([base, app2], `${repo}:v2`);
    await client.loadImage(chunked(v1.archive));
    await client.loadImage(chunked(v2.archive));
    toRemove.push(`${repo}:v1`, `${repo}:v2`, `${repo}:v2-again`, v1.id, v2.id);
    const oldFile = path.join(tmp, 'v1.tar');
    const newFile = path.join(tmp, 'v2.tar');
    await saveImageToFile(client, `${repo}:v1`, oldFile);
    await saveImageToFile(client, `${repo}:v2`, newFile);
    const patchChunks: Uint8Array[] = [];
    const [oldSrc, newSrc] = [await fileSource(oldFile), await fileSource(newFile)];
    await createPatch(oldSrc, newSrc, (c) => void patchChunks.push(c.slice()), { hasher: nodeHasher, workers: 1 });
    await oldSrc.close?.();
    await newSrc.close?.();
    await client.removeImage(`${repo}:v2`, { force: true });
    expect(await idOf(v2.id)).toBeUndefined();

    const spool = fs.mkdtempSync(path.join(tmp, 'spool-'));
    const old = daemonOldImage(client, v1.id.slice(7, 19), { tempDir: spool, hasher: nodeHasher });
    const result = await loadWithFallback(client, {
      expectedId: v2.id,
      tags: [`${repo}:v2-again`],
      makeArchive: async (partial) => {
        const out = path.join(tmp, partial ? 'v2-partial.tar' : 'v2-full.tar');
        const fd = fs.openSync(out, 'w');
        await applyPatch(old, chunked(Buffer.concat(patchChunks)), (c) => void fs.writeSync(fd, c), { hasher: nodeHasher, omitReused: partial });
        fs.closeSync(fd);
        return out;
      },
    });
    expect(result).toEqual({ partial: true, loadedId: v2.id });
    expect(fs.statSync(path.join(tmp, 'v2-partial.tar')).size).toBeLessThan(fs.statSync(newFile).size - base.length / 2);
    expect(fs.readdirSync(spool)).toEqual([]);
    const info = await client.inspectImage(`${repo}:v2-again`);
    expect(info.Id).toBe(v2.id);
    expect(info.RootFS.Layers).toEqual(v2.diffIds);

    // The full rebuild from the daemon's old image is the saved v2 archive, byte for byte.
    const full: Uint8Array[] = [];
    await applyPatch(old, chunked(Buffer.concat(patchChunks)), (c) => void full.push(c.slice()), { hasher: nodeHasher });
    expect(Buffer.concat(full).equals(fs.readFileSync(newFile))).toBe(true);
    expect(fs.readdirSync(spool)).toEqual([]);
  });
});
