/**
 * apply ties its output to the image the user names, not to the patch's
 * word: forged patches whose own digests all agree (a changed Cmd, one
 * changed layer byte) are refused before the archive's last bytes reach the
 * sink. Plus the messages for OLD and NEW swapped and a NEW too short.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { hashBytes } from '../../src/image/hash.js';
import { buildDockerArchive, buildDockerOciArchive, samplePair } from '../fixtures/images.js';
import { asLiteral, dataOffsets, setData, decodePatch, encodePatch, type ForgedPatch } from './forge.js';
import { applyToBytes, chunked, expectPatcherError, expectSameBytes, makePatch, nodeHasher } from './util.js';
import { applyPatch } from '../../src/delta/apply.js';
import { memorySource } from '../../src/image/source.js';

const enc = new TextEncoder();

/** Where `needle` sits in `bytes`, or -1. */
function find(bytes: Uint8Array, needle: string): number {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(Buffer.from(needle));
}

/** Apply, collecting what reaches the sink even when apply fails. */
async function applyCollect(old: Uint8Array, patch: Uint8Array, expectNewId?: string): Promise<{ error: unknown; received: number }> {
  let received = 0;
  try {
    await applyPatch(memorySource(old), chunked(patch, 4099), (c) => void (received += c.length), { hasher: nodeHasher, expectNewId });
    return { error: undefined, received };
  } catch (error) {
    return { error, received };
  }
}

for (const layout of ['legacy', 'docker-oci'] as const) {
  describe(`forged patches, ${layout} layout`, () => {
    let old: Uint8Array;
    let neu: Uint8Array;
    let patch: Uint8Array;
    let newId: string;
    const forge = (): ForgedPatch => decodePatch(patch);

    beforeAll(async () => {
      const pair = samplePair();
      const build = layout === 'legacy' ? buildDockerArchive : buildDockerOciArchive;
      [old, neu] = await Promise.all([build(pair.old), build(pair.new)]);
      ({ patch, summary: { newImageId: newId } } = await makePatch(old, neu, { windowSize: 64 * 1024 }));
    });

    /** The forged patch is refused with one of `codes`, and the archive's end never reached the sink. */
    async function expectForgeryRefused(forged: Uint8Array, codes: string[], expectNewId?: string): Promise<void> {
      const { error, received } = await applyCollect(old, forged, expectNewId);
      expect(error, 'the forged patch was applied').toBeDefined();
      expect(codes, String((error as Error).message)).toContain((error as { code?: string }).code);
      expect((error as Error).message).not.toMatch(/\n|undefined|\[object Object\]/);
      expect(received).toBeLessThan(neu.length);
    }

    it('re-encoding without changes still applies (the forging is sound)', async () => {
      expectSameBytes((await applyToBytes(old, encodePatch(forge()), { expectNewId: newId })).out, neu);
      const p = forge();
      const layer = p.entries.findIndex((e) => e.record.kind === 'delta');
      const at = dataOffsets(p)[layer];
      asLiteral(p, layer, neu.slice(at, at + p.entries[layer].record.size));
      expectSameBytes((await applyToBytes(old, encodePatch(p), { expectNewId: newId })).out, neu);
    });

    it("a changed Cmd with the patch's own digests recomputed: refused", async () => {
      const p = forge();
      const config = p.entries.find((e) => e.data && find(e.data, '"/app/bin/run.sh"') >= 0)!;
      expect(config, 'the config entry').toBeDefined();
      const at = find(config.data!, '"/app/bin/run.sh"');
      config.data!.set(enc.encode('"/app/bin/pwn.sh"'), at);
      const forged = encodePatch(p);
      await expectForgeryRefused(forged, ['WRONG_IMAGE', 'DIGEST_MISMATCH'], newId);
      await expectForgeryRefused(forged, ['WRONG_IMAGE', 'DIGEST_MISMATCH']);
      // The header claiming the forged config's ID: NEW says no; without NEW the layout does.
      p.header.new.imageId = hashBytes(nodeHasher, config.data!);
      await expectForgeryRefused(encodePatch(p), ['WRONG_IMAGE'], newId);
      await expectForgeryRefused(encodePatch(p), ['WRONG_IMAGE', 'DIGEST_MISMATCH']);
    });

    it("one changed layer byte with the patch's own digests recomputed: DIGEST_MISMATCH", async () => {
      const p = forge();
      const layer = p.entries.findIndex((e) => e.record.kind === 'delta');
      const at = dataOffsets(p)[layer];
      const data = neu.slice(at, at + p.entries[layer].record.size);
      data[Math.floor(data.length / 2)] ^= 1;
      asLiteral(p, layer, data);
      await expectForgeryRefused(encodePatch(p), ['DIGEST_MISMATCH'], newId);
    });

    it('an extra image added to the archive: refused', async () => {
      const p = forge();
      const i = p.entries.findIndex((e) => e.data && new TextDecoder().decode(e.data).startsWith('[{'));
      expect(i, 'manifest.json').toBeGreaterThanOrEqual(0);
      // The same image listed again under another tag: docker load would tag it too.
      const [item] = JSON.parse(new TextDecoder().decode(p.entries[i].data!));
      setData(p, i, enc.encode(JSON.stringify([item, { ...item, RepoTags: ['dp-test/evil:1'] }])));
      await expectForgeryRefused(encodePatch(p), ['DIGEST_MISMATCH'], newId);
    });
  });
}

describe('which image is which', () => {
  let old: Uint8Array;
  let neu: Uint8Array;
  let patch: Uint8Array;
  let oldId: string;
  beforeAll(async () => {
    const pair = samplePair();
    [old, neu] = await Promise.all([buildDockerArchive(pair.old), buildDockerArchive(pair.new)]);
    ({ patch, summary: { oldImageId: oldId } } = await makePatch(old, neu));
  });

  it('the old image given is the patch\'s NEW: WRONG_IMAGE saying they look swapped', async () => {
    const e = await expectPatcherError(() => applyToBytes(neu, patch), 'WRONG_IMAGE');
    expect(e.message).toMatch(/swapped/);
  });

  it("NEW given is the patch's OLD: WRONG_IMAGE saying they look swapped", async () => {
    for (const id of [oldId, oldId.slice(7, 19)]) {
      const e = await expectPatcherError(() => applyToBytes(old, patch, { expectNewId: id }), 'WRONG_IMAGE');
      expect(e.message).toMatch(/swapped/);
    }
  });

  it('a NEW prefix too short to mean anything, or not hex: USAGE naming the minimum', async () => {
    for (const id of ['ef0', 'sha256:ef00d944', '4d8419d9cb5']) {
      const e = await expectPatcherError(() => applyToBytes(old, patch, { expectNewId: id }), 'USAGE');
      expect(e.message).toMatch(/at least 12 hex digits/);
    }
    for (const id of ['', 'nginx:latest', './new.tar']) await expectPatcherError(() => applyToBytes(old, patch, { expectNewId: id }), 'USAGE');
  });
});
