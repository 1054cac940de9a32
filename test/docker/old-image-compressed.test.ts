/**
 * daemonOldImage when the daemon's save holds layers compressed (the
 * containerd store saves pulled blobs as they are): a patch that reads an
 * uncompressed layer finds it inside a gzip or a zstd blob, checked against
 * its diff_id; data that only looks compressed is passed over. The daemon
 * here is a stand-in that answers inspect and save from memory (the real
 * daemons' saves are covered by test/docker/engines.test.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { DockerClient } from '../../src/docker/index.js';
import { daemonOldImage } from '../../src/docker/old-image.js';
import type { OldBlob } from '../../src/format/image/container.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { testTempDir } from '../temp-dirs.js';
import { chunked, rejection, sha256, tarOf } from './helpers.js';

const zstd = (data: Buffer): Buffer => execFileSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 26 });

/** A stand-in daemon holding one image whose save is `save`. */
function fakeDaemon(id: string, diffIds: string[], save: Buffer): DockerClient {
  return {
    resolveImage: async (ref: string) => (ref === id || ref === 'app:1' ? id : Promise.reject(new Error(`no ${ref}`))),
    inspectImage: async () => ({ Id: id, RootFS: { Type: 'layers', Layers: diffIds } }),
    saveImage: (ref: string) => {
      if (ref !== id) throw new Error(`save of ${ref}`);
      return chunked(save, 4096);
    },
  } as unknown as DockerClient;
}

async function layer(name: string, size: number): Promise<Buffer> {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + name.length) % 251;
  return tarOf([{ name, data }]);
}

describe('daemonOldImage with compressed blobs in the save', () => {
  it('finds uncompressed layers inside gzip and zstd blobs, inflated and checked', async () => {
    const tempDir = testTempDir('dp-oldcomp-');
    const layers = [await layer('a', 50_000), await layer('b', 70_000), await layer('c', 90_000)];
    const diffIds = layers.map((l) => `sha256:${sha256(l)}`);
    const blobs = [gzipSync(layers[0]), zstd(layers[1]), layers[2]];
    const save = await tarOf([
      { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
      // Looks like a zstd frame, is not one: passed over, not an error.
      { name: 'blobs/sha256/junk', data: Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100, 9)]) },
      ...blobs.map((data) => ({ name: `blobs/sha256/${sha256(data)}`, data })),
    ]);
    const id = `sha256:${'1'.repeat(64)}`;
    const need = (i: number): OldBlob => ({ diffId: diffIds[i], size: layers[i].length, whole: true, ranges: [] });
    const old = await daemonOldImage(fakeDaemon(id, diffIds, save), 'app:1', { tempDir, hasher: nodeHasher }).open([need(0), need(1), need(2)]);
    for (const i of [0, 1, 2]) {
      const source = await old.blob(need(i));
      expect(Buffer.from(await source.read(0, source.size)).equals(layers[i])).toBe(true);
    }
    await old.close!();
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('a zstd blob whose content is another tar does not pass for the layer', async () => {
    const tempDir = testTempDir('dp-oldcomp-');
    const wanted = await layer('a', 40_000);
    const other = await layer('b', 40_000);
    expect(other.length).toBe(wanted.length);
    const save = await tarOf([{ name: 'blobs/sha256/x', data: zstd(other) }]);
    const id = `sha256:${'2'.repeat(64)}`;
    const diffId = `sha256:${sha256(wanted)}`;
    const need: OldBlob = { diffId, size: wanted.length, whole: true, ranges: [] };
    const old = await daemonOldImage(fakeDaemon(id, [diffId], save), id, { tempDir, hasher: nodeHasher }).open([need]);
    const err = await rejection(old.blob(need));
    expect(err.code).toBe(ErrorCode.WrongImage);
    await old.close!();
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });
});
