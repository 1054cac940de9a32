/**
 * daemonOldImage against the real daemon at DOCKER_HOST (unreachable =
 * failure, never a skip): one save pass, only the needed layers spooled and
 * checked, temp files gone after close(), NOT_FOUND / WRONG_IMAGE.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { DockerClient } from '../../src/docker/index.js';
import { daemonOldImage } from '../../src/docker/old-image.js';
import type { OldBlob } from '../../src/format/image/container.js';
import type { HasherFactory } from '../../src/image/hash.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { chunked, legacyArchive, rejection, removeQuietly, requireDaemon, sha256, tarOf, uniqueRepo, type LegacyImage } from './helpers.js';

let client: DockerClient;
const repo = uniqueRepo('oldimg');
const ref = `${repo}:v1`;
let image: LegacyImage;
/** Layer tars: A and B have the same size (so B's size alone does not find it), C is larger. */
let layers: Buffer[];
let tmp = '';
let tempDir = '';

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((name) => fs.statSync(path.join(dir, name)).isFile())
    .sort();
}

/** nodeHasher that counts how many hashers (spooled candidates) were made. */
function countingHasher(): { hasher: HasherFactory; count: () => number } {
  let n = 0;
  return {
    hasher: () => {
      n++;
      return nodeHasher();
    },
    count: () => n,
  };
}

function blob(i: number): OldBlob {
  return { diffId: image.diffIds[i], size: layers[i].length, whole: true, ranges: [] };
}

beforeAll(async () => {
  client = await requireDaemon();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-oldimg-'));
  layers = [
    await tarOf([{ name: `etc/${repo}/a`, data: 'A'.repeat(3000) }]),
    await tarOf([{ name: `etc/${repo}/b`, data: 'B'.repeat(3000) }]),
    await tarOf([{ name: `etc/${repo}/c`, data: 'C'.repeat(20000) }]),
  ];
  expect(layers[0].length).toBe(layers[1].length);
  expect(layers[2].length).not.toBe(layers[0].length);
  image = await legacyArchive(layers, ref);
  await client.loadImage(chunked(image.archive));
  expect((await client.inspectImage(ref)).Id).toBe(image.id);
});

beforeEach(() => {
  tempDir = fs.mkdtempSync(path.join(tmp, 'spool-'));
});

afterEach(() => {
  fs.rmSync(tempDir, { recursive: true, force: true });
});

afterAll(async () => {
  if (client) await removeQuietly(client, [ref, image?.id].filter(Boolean) as string[]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('daemonOldImage', () => {
  it('spools only the needed layer, verified, and close() removes it', async () => {
    const { hasher, count } = countingHasher();
    const old = await daemonOldImage(client, ref, { tempDir, hasher }).open([blob(1)]);
    expect(old.imageId).toBe(image.id);
    // B is found by hashing; A (same size) may have been a candidate, C never was.
    expect(count()).toBeGreaterThanOrEqual(1);
    expect(count()).toBeLessThanOrEqual(2);
    const files = filesUnder(tempDir);
    expect(files).toHaveLength(1);
    const bytes = fs.readFileSync(path.join(tempDir, files[0]));
    expect(`sha256:${sha256(bytes)}`).toBe(image.diffIds[1]);
    expect(bytes.equals(layers[1])).toBe(true);

    const source = await old.blob(blob(1));
    expect(source.size).toBe(layers[1].length);
    expect(Buffer.from(await source.read(512, 100)).equals(layers[1].subarray(512, 612))).toBe(true);
    const err = await rejection(old.blob(blob(0)));
    expect(err.code).toBe(ErrorCode.WrongImage);
    expect(err.message).toBe(`old image in the daemon lacks layer ${image.diffIds[0]}`);

    await old.close!();
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('hashes no layer of another size', async () => {
    const { hasher, count } = countingHasher();
    const old = await daemonOldImage(client, ref, { tempDir, hasher }).open([blob(2)]);
    expect(count()).toBe(1);
    expect(filesUnder(tempDir)).toHaveLength(1);
    const source = await old.blob(blob(2));
    expect(Buffer.from(await source.read(0, source.size)).equals(layers[2])).toBe(true);
    await old.close!();
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('finds several layers of the same size in one pass', async () => {
    const old = await daemonOldImage(client, ref, { tempDir, hasher: nodeHasher }).open([blob(0), blob(1), blob(2)]);
    expect(filesUnder(tempDir)).toHaveLength(3);
    for (const i of [0, 1, 2]) {
      const source = await old.blob(blob(i));
      expect(Buffer.from(await source.read(0, source.size)).equals(layers[i])).toBe(true);
    }
    await old.close!();
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('resolves short IDs, full IDs and name:tag; reads nothing when nothing is needed', async () => {
    const hex = image.id.slice('sha256:'.length);
    const { hasher, count } = countingHasher();
    for (const r of [ref, image.id, hex.slice(0, 12), `sha256:${hex.slice(0, 12)}`]) {
      const provider = daemonOldImage(client, r, { tempDir, hasher });
      const old = await provider.open([]);
      expect(old.imageId).toBe(image.id);
      expect((await rejection(old.blob(blob(0)))).code).toBe(ErrorCode.WrongImage);
      await old.close!();
    }
    expect(count()).toBe(0);
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('can be opened twice (apply opens it once per archive it makes)', async () => {
    const provider = daemonOldImage(client, ref, { tempDir, hasher: nodeHasher });
    const first = await provider.open([blob(2)]);
    const second = await provider.open([blob(0)]);
    expect(filesUnder(tempDir)).toHaveLength(2);
    await first.close!();
    expect(filesUnder(tempDir)).toHaveLength(1);
    expect((await second.blob(blob(0))).size).toBe(layers[0].length);
    await second.close!();
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('reports an unknown image as NOT_FOUND and leaves no temp files', async () => {
    const err = await rejection(daemonOldImage(client, `${repo}:nope`, { tempDir, hasher: nodeHasher }).open([blob(0)]));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(err.message).not.toContain('\n');
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('reports a needed layer the image lacks as WRONG_IMAGE, without reading the image for it', async () => {
    const missing: OldBlob = { diffId: `sha256:${'ab'.repeat(32)}`, size: layers[0].length, whole: false, ranges: [[0, 10]] };
    const { hasher, count } = countingHasher();
    const old = await daemonOldImage(client, ref, { tempDir, hasher }).open([missing]);
    expect(count()).toBe(0);
    const err = await rejection(old.blob(missing));
    expect(err.code).toBe(ErrorCode.WrongImage);
    expect(err.message).toBe(`old image in the daemon lacks layer ${missing.diffId}`);
    await old.close!();

    // Mixed: the layer it has is served, the other is not.
    const mixed = await daemonOldImage(client, ref, { tempDir, hasher: nodeHasher }).open([missing, blob(2)]);
    expect((await mixed.blob(blob(2))).size).toBe(layers[2].length);
    expect((await rejection(mixed.blob(missing))).code).toBe(ErrorCode.WrongImage);
    await mixed.close!();
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('fails with a one-line IO error and no leftovers when the temp dir is unusable', async () => {
    const err = await rejection(
      daemonOldImage(client, ref, { tempDir: path.join(tempDir, 'missing'), hasher: nodeHasher }).open([blob(0)]),
    );
    expect(err.code).toBe(ErrorCode.Io);
    expect(err.message).not.toContain('\n');
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });
});
