/**
 * DockerClient against the real daemon at DOCKER_HOST (see helpers.ts:
 * unreachable = failure, never a skip).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { DockerClient } from '../../src/docker/index.js';
import { chunked, legacyArchive, rejection, removeQuietly, requireDaemon, rootfsTar, tarOf, uniqueRepo } from './helpers.js';

let client: DockerClient;
const repo = uniqueRepo('client');
const ref = `${repo}:base`;
let imageId = '';
let tmp = '';

beforeAll(async () => {
  client = await requireDaemon();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-docker-'));
  const rootfs = await rootfsTar([{ name: 'etc/dp-test', data: repo }]);
  imageId = await client.importImage(chunked(rootfs, 4099), ref);
});

afterAll(async () => {
  if (client) await removeQuietly(client, [`${repo}:base`, `${repo}:again`, `${repo}:tagged`, imageId]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('DockerClient against a real daemon', () => {
  it('negotiates an API version and pings', async () => {
    expect(await client.apiVersion()).toMatch(/^1\.\d+$/);
    await client.ping();
  });

  it('inspects by name:tag, full ID, short ID and sha256:short', async () => {
    expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const byTag = await client.inspectImage(ref);
    expect(byTag.Id).toBe(imageId);
    expect(byTag.RepoTags).toContain(ref);
    expect(byTag.RootFS.Layers).toHaveLength(1);
    expect(byTag.RootFS.Layers[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(byTag.Size).toBeGreaterThan(1_000_000);

    const hex = imageId.slice('sha256:'.length);
    expect((await client.inspectImage(imageId)).Id).toBe(imageId);
    expect(await client.resolveImage(imageId)).toBe(imageId);
    expect(await client.resolveImage(hex)).toBe(imageId);
    expect(await client.resolveImage(hex.slice(0, 12))).toBe(imageId);
    expect(await client.resolveImage(`sha256:${hex.slice(0, 12)}`)).toBe(imageId);
    expect(await client.resolveImage(ref)).toBe(imageId);
  });

  it('reports an unknown image as NOT_FOUND', async () => {
    const err = await rejection(client.inspectImage(`${repo}:missing`));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(err.message).toBe(`image not found: ${repo}:missing`);
    const save = await rejection(
      (async () => {
        for await (const _ of client.saveImage(`${repo}:missing`));
      })(),
    );
    expect(save.code).toBe(ErrorCode.NotFound);
    expect((await rejection(client.tagImage(`${repo}:missing`, `${repo}:x`))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(client.removeImage(`${repo}:missing`))).code).toBe(ErrorCode.NotFound);
  });

  it('tags, then inspects by the new tag', async () => {
    await client.tagImage(imageId, `${repo}:tagged`);
    const info = await client.inspectImage(`${repo}:tagged`);
    expect(info.Id).toBe(imageId);
    expect(info.RepoTags).toEqual(expect.arrayContaining([ref, `${repo}:tagged`]));
    const removed = await client.removeImage(`${repo}:tagged`);
    expect(removed.untagged).toEqual([`${repo}:tagged`]);
    expect(removed.deleted).toEqual([]);
  });

  it('round-trips save -> remove -> load with the same image ID', async () => {
    const file = path.join(tmp, 'saved.tar');
    await pipeline(client.saveImage(ref), fs.createWriteStream(file));
    expect(fs.statSync(file).size).toBeGreaterThan(1_000_000);

    await client.removeImage(imageId, { force: true });
    expect((await rejection(client.inspectImage(imageId))).code).toBe(ErrorCode.NotFound);

    const messages: unknown[] = [];
    const result = await client.loadImage(fs.createReadStream(file, { highWaterMark: 7001 }), {
      quiet: false,
      onMessage: (m) => messages.push(m),
    });
    expect(result.loaded).toEqual([ref]);
    expect(messages.length).toBeGreaterThan(0);
    expect((await client.inspectImage(ref)).Id).toBe(imageId);
  });

  it('streams save straight into load', async () => {
    await client.tagImage(imageId, `${repo}:again`);
    const result = await client.loadImage(client.saveImage(`${repo}:again`));
    expect(result.loaded).toEqual([`${repo}:again`]);
    expect(await client.resolveImage(`${repo}:again`)).toBe(imageId);
  });

  it('turns a load failure inside the 200 stream into a DOCKER error (garbage)', async () => {
    const err = await rejection(client.loadImage(chunked(Buffer.alloc(10_000, 'garbage!'))));
    expect(err.code).toBe(ErrorCode.Docker);
    expect(err.message).toMatch(/^docker: image load failed: .*tar/);
    expect(err.message).not.toContain('\n');
  });

  it('turns a load failure inside the 200 stream into a DOCKER error (missing layer)', async () => {
    const layer = await tarOf([{ name: `etc/${repo}-only-here`, data: 'x' }]);
    const image = await legacyArchive([layer], `${repo}:broken`, [0]);
    const err = await rejection(client.loadImage(chunked(image.archive)));
    expect(err.code).toBe(ErrorCode.Docker);
    expect(err.message).toMatch(/^docker: image load failed: .*layer\.tar/);
    expect((await rejection(client.inspectImage(`${repo}:broken`))).code).toBe(ErrorCode.NotFound);
  });

  it('rethrows an error of the tar source unchanged and loads nothing', async () => {
    const layer = await tarOf([{ name: `etc/${repo}-aborted`, data: 'y'.repeat(300_000) }]);
    const image = await legacyArchive([layer], `${repo}:aborted`);
    const ours = new Error('source broke');
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield image.archive.subarray(0, 200_000);
      throw ours;
    }
    await expect(client.loadImage(broken())).rejects.toBe(ours);
    expect((await rejection(client.inspectImage(`${repo}:aborted`))).code).toBe(ErrorCode.NotFound);
  });

  it('fails with a one-line DOCKER error when the daemon is not there', async () => {
    const socket = path.join(tmp, 'no-such-dir', 'docker.sock');
    const err = await rejection(new DockerClient({ host: `unix://${socket}` }).inspectImage('x'));
    expect(err.code).toBe(ErrorCode.Docker);
    expect(err.message).toBe(`docker: cannot reach the daemon at unix://${socket} (ENOENT)`);
  });
});
