/**
 * Bad inputs to createPatch / applyPatch / inspectPatch: each is refused with
 * a PatcherError of the right code and a one-line message, never a crash, a
 * hang or a wrong archive. Corrupt patches are made by cutting, flipping and
 * appending bytes, and by hand-crafted WINDOW frames with valid checksums.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createPatch } from '../../src/delta/create.js';
import { applyPatch } from '../../src/delta/apply.js';
import { inspectPatch } from '../../src/delta/inspect.js';
import type { OldImageProvider } from '../../src/delta/old-image.js';
import { encodeFrame, FrameType } from '../../src/format/image/frames.js';
import { decodeWindow, encodeWindow, type WindowData } from '../../src/format/image/window.js';
import { decodeHeader, type PatchHeader } from '../../src/format/image/container.js';
import { memorySource } from '../../src/image/source.js';
import { buildDockerArchive, randomBytes, samplePair, sharedLayerPair } from '../fixtures/images.js';
import { applyToBytes, chunked, concat, expectPatcherError, expectSameBytes, makePatch, nodeHasher, replaceFrame, walkFrames, watchedSource, type FrameAt } from './util.js';

let old: Uint8Array;
let neu: Uint8Array;
let other: Uint8Array;
let patch: Uint8Array;
let frames: FrameAt[];
let oldId: string;
let newId: string;

beforeAll(async () => {
  const pair = samplePair();
  [old, neu, other] = await Promise.all([buildDockerArchive(pair.old), buildDockerArchive(pair.new), buildDockerArchive(sharedLayerPair()[0])]);
  // Small windows: several WINDOW frames in the changed layer.
  const made = await makePatch(old, neu, { windowSize: 64 * 1024 });
  patch = made.patch;
  oldId = made.summary.oldImageId;
  newId = made.summary.newImageId;
  frames = walkFrames(patch);
});

const apply = (p: Uint8Array | AsyncIterable<Uint8Array>, o: Uint8Array = old, options = {}) => applyToBytes(o, p, options);
const sink = () => {};

it('the untouched patch applies (the baseline for everything below)', async () => {
  expectSameBytes((await apply(patch)).out, neu);
  expect(frames.filter((f) => f.type === FrameType.Window).length).toBeGreaterThan(1);
  expect(frames.at(-1)!.offset + 9 + frames.at(-1)!.length).toBe(patch.length);
});

describe('bad images', () => {
  it('an old input that is not a tar: BAD_IMAGE', async () => {
    const junk = randomBytes(100_000, 9);
    await expectPatcherError(() => apply(patch, junk), 'BAD_IMAGE');
    await expectPatcherError(() => apply(patch, new TextEncoder().encode('hello, not a tar\n')), 'BAD_IMAGE');
    await expectPatcherError(() => makePatch(junk, neu), 'BAD_IMAGE');
    await expectPatcherError(() => makePatch(old, junk), 'BAD_IMAGE');
  });

  it('a truncated archive: BAD_IMAGE', async () => {
    for (const cut of [0, 100, 600, Math.floor(old.length / 3), Math.floor(old.length / 2), old.length - 3000]) {
      const e = await expectPatcherError(() => apply(patch, old.subarray(0, cut)), 'BAD_IMAGE');
      expect(e.message, `cut at ${cut}`).not.toMatch(/^$/);
      await expectPatcherError(() => makePatch(old, neu.subarray(0, cut)), 'BAD_IMAGE');
    }
  });

  it('a tar that is not an image: BAD_IMAGE', async () => {
    const { buildLayerTar } = await import('../fixtures/images.js');
    const tar = await buildLayerTar([{ path: 'hello.txt', data: 'hello\n' }]);
    await expectPatcherError(() => apply(patch, tar), 'BAD_IMAGE');
  });
});

describe('the wrong image', () => {
  it('a patch for another old image: WRONG_IMAGE naming both IDs', async () => {
    const e = await expectPatcherError(() => apply(patch, other), 'WRONG_IMAGE');
    const otherId = (await makePatch(other, other)).summary.oldImageId;
    expect(e.message).toContain(oldId);
    expect(e.message).toContain(otherId);
  });

  it('an expected new ID that does not match: WRONG_IMAGE before the old image is read', async () => {
    const watched = watchedSource(old, true);
    const e = await expectPatcherError(() => applyPatch(watched, chunked(patch), sink, { hasher: nodeHasher, expectNewId: 'sha256:' + 'ab'.repeat(32) }), 'WRONG_IMAGE');
    expect(e.message).toContain(newId);
    expect(watched.reads).toBe(0);
    await expectPatcherError(() => applyPatch(watched, chunked(patch), sink, { hasher: nodeHasher, expectNewId: 'deadbeefdeadbeef' }), 'WRONG_IMAGE');
    expect(watched.reads).toBe(0);
    let opened = 0;
    const provider: OldImageProvider = { open: async () => (opened++, Promise.reject(new Error('must not be opened'))) };
    await expectPatcherError(() => applyPatch(provider, chunked(patch), sink, { hasher: nodeHasher, expectNewId: oldId }), 'WRONG_IMAGE');
    expect(opened).toBe(0);
  });

  it('the right expected ID, full, bare hex or short, is accepted', async () => {
    for (const expectNewId of [newId, newId.slice(7), newId.slice(7, 19), newId.toUpperCase().replace('SHA256:', 'sha256:')]) {
      expectSameBytes((await apply(patch, old, { expectNewId })).out, neu);
    }
  });
});

/** Applying `bad` fails with `code`; so does inspecting it unless `inspect` is false (inspect does not decode windows). */
async function expectRefused(bad: Uint8Array, code = 'BAD_PATCH', what = '', inspect = true): Promise<void> {
  const e = await expectPatcherError(() => apply(chunked(bad, 4099)), code, `apply, ${what}`);
  expect(e.message, what).toMatch(/patch|frame/);
  if (inspect) await expectPatcherError(() => inspectPatch(chunked(bad, 4099)), code, `inspect, ${what}`);
}
const expectApplyRefuses = (bad: Uint8Array, what: string) => expectRefused(bad, 'BAD_PATCH', what, false);

describe('corrupt patches', () => {
  it('truncated at many cut points: BAD_PATCH', async () => {
    const cuts = new Set<number>([0, 1, 7, 8, 9, 12, patch.length - 1, patch.length - 4, patch.length - 9]);
    for (const f of frames) for (const d of [0, 1, 5, 9 + f.length - 1]) cuts.add(f.offset + d);
    for (let i = 0; i < 40; i++) cuts.add(Math.floor(((i + 0.37) / 40) * patch.length));
    cuts.delete(patch.length);
    for (const cut of [...cuts].sort((a, b) => a - b)) await expectRefused(patch.subarray(0, cut), 'BAD_PATCH', `cut at ${cut}`);
  });

  it('one byte flipped in the magic, or in any frame (type, length, payload, crc): BAD_PATCH', async () => {
    const spots: number[] = [0, 3, 6, 7];
    for (const f of frames) {
      spots.push(f.offset, f.offset + 1, f.offset + 4, f.offset + 5, f.offset + 5 + Math.floor(f.length / 2), f.offset + 4 + f.length, f.offset + 8 + f.length);
    }
    for (const at of spots) {
      for (const mask of [0x01, 0x80]) {
        const bad = patch.slice();
        bad[at] ^= mask;
        await expectRefused(bad, 'BAD_PATCH', `byte ${at} ^ ${mask}`);
      }
    }
  });

  it('garbage, a zero byte or a valid frame appended after the end: BAD_PATCH', async () => {
    for (const tail of [randomBytes(100, 4), new Uint8Array(1), new Uint8Array(512), encodeFrame(FrameType.End, new TextEncoder().encode('{}'))]) {
      await expectRefused(concat([patch, tail]), 'BAD_PATCH', `tail of ${tail.length}`);
    }
    // A second copy of the last entry after the end record.
    const entry = frames.filter((f) => f.type === FrameType.Entry).at(-1)!;
    await expectRefused(concat([patch, patch.subarray(entry.offset, entry.offset + 9 + entry.length)]));
  });

  it('frames out of order or missing: BAD_PATCH', async () => {
    const window = frames.find((f) => f.type === FrameType.Window)!;
    await expectApplyRefuses(replaceFrame(patch, window, new Uint8Array(0)), 'window dropped');
    const header = frames[0];
    await expectRefused(replaceFrame(patch, header, new Uint8Array(0)), 'BAD_PATCH', 'header dropped');
    const end = frames.at(-1)!;
    await expectRefused(replaceFrame(patch, end, new Uint8Array(0)), 'BAD_PATCH', 'end dropped');
    await expectRefused(concat([patch.subarray(0, 8), patch.subarray(header.offset, header.offset + 9 + header.length), patch.subarray(8)]), 'BAD_PATCH', 'header twice');
  });
});

describe('hostile WINDOW frames with valid checksums', () => {
  let header: PatchHeader;
  let target: FrameAt;
  let window: WindowData;
  beforeAll(() => {
    header = decodeHeader(frames[0].payload, 1 << 30);
    // The first window of the changed layer: later windows follow it, so it has room to grow.
    target = frames.find((f) => f.type === FrameType.Window)!;
    window = decodeWindow(target.payload, header.old.blobs.length, { maxDiffBytes: 1 << 30, maxRefBytes: 1 << 30 });
  });

  const refBytes = () => window.refs.reduce((n, r) => n + r.length, 0);
  const withWindow = (w: Partial<WindowData>) => replaceFrame(patch, target, encodeFrame(FrameType.Window, encodeWindow({ ...window, ...w })));
  const withCtrl = (ctrl: number[]) => withWindow({ delta: { ...window.delta, ctrl: Int32Array.from(ctrl) } });

  it('re-encoding the window unchanged still applies (the crafting is sound)', async () => {
    expect(window.delta.ctrl.length).toBeGreaterThanOrEqual(3);
    expectSameBytes((await apply(withWindow({}))).out, neu);
  });

  it('ctrl triples that seek or read out of range: BAD_PATCH', async () => {
    const ctrl = [...window.delta.ctrl];
    await expectApplyRefuses(withCtrl([0, 0, -(2 ** 30), ...ctrl]), 'seek before the reference');
    await expectApplyRefuses(withCtrl([0, 0, refBytes() + 1000, ...ctrl]), 'seek past the reference');
    await expectApplyRefuses(withCtrl([0, 0, 2 ** 31 - 1, 0, 0, 2 ** 31 - 1, ...ctrl]), 'seek overflow');
    await expectApplyRefuses(withCtrl([-5, 5, 0, ...ctrl]), 'negative add');
    await expectApplyRefuses(withCtrl([2 ** 31 - 1, 0, 0, ...ctrl]), 'huge add');
    await expectApplyRefuses(withCtrl([ctrl[0] + 1, ...ctrl.slice(1)]), 'one byte too many');
    await expectApplyRefuses(withCtrl(ctrl.slice(0, -3).length ? ctrl.slice(0, -3) : [0, 0, 0]), 'a triple missing');
    await expectApplyRefuses(withCtrl([...ctrl, 0, 1, 0]), 'extra copy');
  });

  it('many empty triples: refused, not looped over', async () => {
    await expectApplyRefuses(withCtrl([...new Array(3 * 200_000).fill(0), ...window.delta.ctrl]), 'empty triples');
  });

  it('references outside the old layers: BAD_PATCH', async () => {
    const blob = window.refs[0]?.blob ?? 0;
    const size = header.old.blobs[blob].size;
    const refs = window.refs.length ? window.refs : [{ blob, offset: 0, length: 0 }];
    const shifted = (offset: number) => refs.map((r, i) => (i === 0 ? { ...r, offset } : r));
    await expectApplyRefuses(withWindow({ refs: shifted(size + 4096) }), 'reference past the layer');
    await expectApplyRefuses(withWindow({ refs: shifted(size - 1) }), 'reference running off the layer');
    await expectApplyRefuses(withWindow({ refs: refs.map((r) => ({ ...r, blob: header.old.blobs.length })) }), 'unknown layer');
  });

  it('copies outside the old layers: BAD_PATCH', async () => {
    const blob = window.refs[0]?.blob ?? 0;
    const size = header.old.blobs[blob].size;
    await expectApplyRefuses(withWindow({ pieces: [{ copy: true, blob: header.old.blobs.length, offset: 0, length: 100 }, ...window.pieces] }), 'unknown layer');
    // A copy piece prepended: the window's output grows by 100 bytes, within the room the later windows leave.
    for (const offset of [size - 10, size + 1_000_000]) {
      await expectApplyRefuses(withWindow({ pieces: [{ copy: true, blob, offset, length: 100 }, ...window.pieces] }), `copy at ${offset}`);
    }
  });

  it('lengths past the limits or the entry: BAD_PATCH before allocating', async () => {
    const huge = 2 ** 31 - 1; // the largest piece length a window's u32 varints hold
    await expectApplyRefuses(withWindow({ pieces: [{ copy: false, length: huge }] }), 'huge diff piece');
    await expectApplyRefuses(withWindow({ refs: [{ blob: 0, offset: 0, length: huge }] }), 'huge reference');
    await expectApplyRefuses(withWindow({ pieces: [...window.pieces, { copy: true, blob: 0, offset: 0, length: huge }] }), 'huge copy');
    // Hand-written payload: a layout section claiming 2^40 bytes.
    const claim = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x01, 0x00);
    await expectApplyRefuses(replaceFrame(patch, target, encodeFrame(FrameType.Window, claim)), 'huge section');
  });
});

describe('createPatch refuses bad options', () => {
  it('window sizes out of range: USAGE', async () => {
    for (const windowSize of [0, 1000, 64 * 1024 - 1, 2 ** 40, 1.5 * 65536 + 0.5]) {
      await expectPatcherError(() => createPatch(memorySource(old), memorySource(neu), sink, { hasher: nodeHasher, windowSize }), 'USAGE');
    }
  });
});
