/**
 * Format version 2: the header names both identities of each image, its
 * config digest (the classic store's ID) and its manifest digest (the
 * containerd store's ID, a registry pin) when its archive holds a manifest.
 * apply takes NEW by either, full or short, takes an old archive known by
 * either, refuses a rebuilt archive that points to another manifest, and
 * checks the new fields like every other; a patch of version 1 gets one
 * line naming both versions.
 */
import { describe, expect, it } from 'vitest';
import { FORMAT_VERSION } from '../../src/format/image/frames.js';
import { openImageArchive } from '../../src/image/archive.js';
import { memorySource } from '../../src/image/source.js';
import { buildDockerArchive, buildDockerOciArchive, samplePair } from '../fixtures/images.js';
import { decodePatch, encodePatch } from './forge.js';
import { applyToBytes, expectPatcherError, expectSameBytes, makePatch, nodeHasher } from './util.js';

const short = (digest: string) => digest.slice(7, 19);

async function ociPair() {
  const pair = samplePair();
  const [old, neu] = [await buildDockerOciArchive(pair.old), await buildDockerOciArchive(pair.new)];
  const [o, n] = [await openImageArchive(memorySource(old), { hasher: nodeHasher }), await openImageArchive(memorySource(neu), { hasher: nodeHasher })];
  return { pair, old, neu, oldIdentity: { imageId: o.imageId, manifestDigest: o.manifestDigest! }, newIdentity: { imageId: n.imageId, manifestDigest: n.manifestDigest! } };
}

describe('both identities in the patch header', () => {
  it('records config and manifest digests of OCI-layout images; NEW is taken by either, full or short', async () => {
    const { old, neu, oldIdentity, newIdentity } = await ociPair();
    expect(FORMAT_VERSION).toBe(3);
    expect(newIdentity.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const { patch, summary } = await makePatch(old, neu);
    expect(summary).toMatchObject({ oldImageId: oldIdentity.imageId, oldManifestDigest: oldIdentity.manifestDigest, newImageId: newIdentity.imageId, newManifestDigest: newIdentity.manifestDigest });
    const { header } = decodePatch(patch);
    expect(header.formatVersion).toBe(3);
    expect(header.old).toMatchObject(oldIdentity);
    expect(header.new).toMatchObject(newIdentity);
    for (const expectNewId of [newIdentity.imageId, newIdentity.manifestDigest, short(newIdentity.imageId), short(newIdentity.manifestDigest), newIdentity.manifestDigest.slice(7)]) {
      expectSameBytes((await applyToBytes(old, patch, { expectNewId })).out, neu);
    }
  });

  it('refuses a NEW that is neither identity, or the old image by either (swapped), in one line', async () => {
    const { old, neu, oldIdentity } = await ociPair();
    const { patch } = await makePatch(old, neu);
    const wrong = await expectPatcherError(() => applyToBytes(old, patch, { expectNewId: 'ffffffffffff' }), 'WRONG_IMAGE', 'unknown NEW');
    expect(wrong.message).toContain('ffffffffffff');
    expect(wrong.message).toContain('manifest sha256:');
    for (const swapped of [oldIdentity.imageId, short(oldIdentity.manifestDigest)]) {
      const err = await expectPatcherError(() => applyToBytes(old, patch, { expectNewId: swapped }), 'WRONG_IMAGE', 'swapped NEW');
      expect(err.message).toContain('swapped');
    }
  });

  it('takes an old archive known by its config digest only (a legacy save of the same image)', async () => {
    const { pair, old, neu } = await ociPair();
    const { patch } = await makePatch(old, neu);
    const legacyOld = await buildDockerArchive(pair.old);
    expect((await openImageArchive(memorySource(legacyOld), { hasher: nodeHasher })).manifestDigest).toBeUndefined();
    expectSameBytes((await applyToBytes(legacyOld, patch)).out, neu);
  });

  it('a legacy pair records no manifest digests, and applies as before', async () => {
    const pair = samplePair();
    const [old, neu] = [await buildDockerArchive(pair.old), await buildDockerArchive(pair.new)];
    const { patch, summary } = await makePatch(old, neu);
    expect(summary.newManifestDigest).toBeUndefined();
    const { header } = decodePatch(patch);
    expect(header.old.manifestDigest).toBeUndefined();
    expect(header.new.manifestDigest).toBeUndefined();
    expectSameBytes((await applyToBytes(old, patch, { expectNewId: short(summary.newImageId) })).out, neu);
  });

  it('refuses a header whose manifest digest is not a digest, or names another manifest than the rebuilt archive', async () => {
    const { old, neu } = await ociPair();
    const { patch } = await makePatch(old, neu);
    const bad = decodePatch(patch);
    bad.header.new.manifestDigest = 'sha256:xyz';
    const err = await expectPatcherError(() => applyToBytes(old, encodePatch(bad)), 'BAD_PATCH', 'bad manifest digest');
    expect(err.message).toContain('manifestDigest');
    const other = decodePatch(patch);
    other.header.new.manifestDigest = `sha256:${'ab'.repeat(32)}`;
    const lie = await expectPatcherError(() => applyToBytes(old, encodePatch(other)), 'WRONG_IMAGE', 'another manifest');
    expect(lie.message).toContain('ab'.repeat(32));
  });

  it('a version 1 patch gets one line naming both versions', async () => {
    const { old, neu } = await ociPair();
    const { patch } = await makePatch(old, neu);
    const v1 = patch.slice();
    v1[7] = 1; // "DPATCH\0" then the version byte
    const err = await expectPatcherError(() => applyToBytes(old, v1), 'BAD_PATCH', 'version 1');
    expect(err.message).toMatch(/version 1\b.*version 3\b/);
  });
});
