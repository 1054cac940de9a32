/**
 * What a daemon with the classic image store (moby/moby#18727) accepts from
 * POST /images/load when a legacy `docker save` archive leaves out layers it
 * already holds. These pin down the archive shape a later src/docker/partial.ts
 * will write; they run against the real daemon at DOCKER_HOST (our CI daemon
 * is Debian's docker.io 20.10, classic store). The containerd image store and
 * podman refuse such archives: not covered here.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { DockerClient } from '../../src/docker/index.js';
import { chunked, legacyArchive, removeQuietly, requireDaemon, tarOf, uniqueRepo, type TarFile } from './helpers.js';

let client: DockerClient;
const repo = uniqueRepo('partial');
let shared: Buffer; // L1: the layer both images start with
let topA: Buffer;
let topB: Buffer;

/** A distinct top layer per test, so that no test finds its new layer already held. */
function top(version: string): Promise<Buffer> {
  return tarOf([{ name: 'etc/version', data: version }]);
}

async function loadError(archive: Buffer): Promise<string> {
  const err = await client.loadImage(chunked(archive)).then(
    () => 'loaded',
    (e: Error) => e.message,
  );
  return err;
}

/** Every entry of a tar archive, in order. */
async function entries(archive: Buffer): Promise<TarFile[]> {
  const out: TarFile[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (part: unknown) => parts.push(part as Buffer));
    stream.on('end', () => {
      if (header.type === 'file') out.push({ name: header.name, data: Buffer.concat(parts), mode: header.mode });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', (err: unknown) => reject(err));
    Readable.from([archive]).pipe(extract);
  });
  return out;
}

beforeAll(async () => {
  client = await requireDaemon();
  shared = await tarOf([{ name: `etc/${repo}-base`, data: 'base layer '.repeat(1000) }]);
  topA = await top('a');
  topB = await top('b');
  const old = await legacyArchive([shared, topA], `${repo}:a`);
  expect(await client.loadImage(chunked(old.archive))).toEqual({ loaded: [`${repo}:a`] });
});

afterAll(async () => {
  if (client) await removeQuietly(client, ['a', 'b', 'c', 'empty', 'short', 'saved', 'gone'].map((t) => `${repo}:${t}`));
});

describe('partial docker-save archives (classic store)', () => {
  it('accepts an archive without the held layer: no <dir>/ entries at all, manifest still lists its path', async () => {
    const image = await legacyArchive([shared, topB], `${repo}:b`, [0]);
    const names = (await entries(image.archive)).map((e) => e.name);
    expect(names).not.toContain(image.manifest.Layers[0]);
    expect(image.manifest.Layers).toHaveLength(2);
    expect(await client.loadImage(chunked(image.archive))).toEqual({ loaded: [`${repo}:b`] });
    const info = await client.inspectImage(`${repo}:b`);
    expect(info.Id).toBe(image.id);
    expect(info.RootFS.Layers).toEqual(image.diffIds);
  });

  it('also accepts an empty path in manifest.json for the held layer', async () => {
    const image = await legacyArchive([shared, await top('empty')], `${repo}:empty`, [0]);
    const manifest = { ...image.manifest, Layers: ['', image.manifest.Layers[1]] };
    const files = (await entries(image.archive)).map((e) =>
      e.name === 'manifest.json' ? { ...e, data: JSON.stringify([manifest]) } : e,
    );
    expect(await client.loadImage(chunked(await tarOf(files)))).toEqual({ loaded: [`${repo}:empty`] });
  });

  it('refuses a manifest that drops the held layer from Layers', async () => {
    const image = await legacyArchive([shared, await top('short')], `${repo}:short`, [0]);
    const manifest = { ...image.manifest, Layers: [image.manifest.Layers[1]] };
    const files = (await entries(image.archive)).map((e) =>
      e.name === 'manifest.json' ? { ...e, data: JSON.stringify([manifest]) } : e,
    );
    expect(await loadError(await tarOf(files))).toMatch(/layers length mismatch: expected 1, got 2/);
  });

  it('reuses by chain ID, not by diff_id: a held layer at another depth must be sent', async () => {
    const base = await tarOf([{ name: `etc/${repo}-other`, data: 'other' }]);
    const image = await legacyArchive([base, shared, await top('c')], `${repo}:c`, [1]);
    expect(await loadError(image.archive)).toMatch(/layer\.tar: no such file or directory/);
  });

  it('accepts a real `docker save` of the new image with the held layer entries cut out', async () => {
    const full = await legacyArchive([shared, await top('saved')], `${repo}:saved`);
    await client.loadImage(chunked(full.archive));
    const parts: Uint8Array[] = [];
    for await (const part of client.saveImage(`${repo}:saved`)) parts.push(part);
    const saved = Buffer.concat(parts);
    // Untagging the only tag deletes the image and its top layer; L1 stays, held by :a.
    expect((await client.removeImage(`${repo}:saved`)).deleted).toContain(full.id);
    const files = await entries(saved);
    const manifest = JSON.parse(String(files.find((e) => e.name === 'manifest.json')!.data))[0];
    const heldDir = manifest.Layers[0].split('/')[0];
    const kept = files.filter((e) => !e.name.startsWith(`${heldDir}/`));
    expect(kept.length).toBeLessThan(files.length);
    expect((await client.loadImage(chunked(await tarOf(kept)))).loaded).toEqual([`${repo}:saved`]);
    expect(await client.resolveImage(`${repo}:saved`)).toBe(full.id);
  });

  it('fails inside the 200 stream once the daemon no longer holds the layer', async () => {
    const image = await legacyArchive([shared, await top('gone')], `${repo}:gone`, [0]);
    await removeQuietly(client, ['a', 'b', 'empty', 'saved'].map((t) => `${repo}:${t}`));
    expect(await loadError(image.archive)).toMatch(
      /^docker: image load failed: open .*\/layer\.tar: no such file or directory$/,
    );
  });
});
