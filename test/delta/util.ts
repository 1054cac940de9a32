/** Helpers for the image-patch tests: create/apply in memory, chunked feeding, byte-exact sinks. */
import { expect } from 'vitest';
import { createPatch } from '../../src/delta/create.js';
import { applyPatch } from '../../src/delta/apply.js';
import { inspectPatch } from '../../src/delta/inspect.js';
import type { ApplyOptions, ApplyResult, CreateOptions, PatchSummary } from '../../src/delta/types.js';
import type { OldImageInput } from '../../src/delta/old-image.js';
import { PatcherError } from '../../src/errors.js';
import { memorySource, type ByteSource } from '../../src/image/source.js';
import { nodeHasher } from '../../src/image/source.node.js';

export { nodeHasher };

const asSource = (x: Uint8Array | ByteSource): ByteSource => (x instanceof Uint8Array ? memorySource(x) : x);

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** Yield `bytes` in slices of `size` (the last may be shorter). */
export async function* chunked(bytes: Uint8Array, size = 1 << 20): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** createPatch into memory. */
export async function makePatch(old: Uint8Array | ByteSource, neu: Uint8Array | ByteSource, options: Partial<CreateOptions> = {}): Promise<{ patch: Uint8Array; summary: PatchSummary }> {
  const parts: Uint8Array[] = [];
  const summary = await createPatch(asSource(old), asSource(neu), (c) => void parts.push(c.slice()), { hasher: nodeHasher, ...options });
  const patch = concat(parts);
  expect(summary.patchSize).toBe(patch.length);
  return { patch, summary };
}

/** applyPatch into memory. */
export async function applyToBytes(old: Uint8Array | OldImageInput, patch: Uint8Array | AsyncIterable<Uint8Array>, options: Partial<ApplyOptions> = {}): Promise<{ out: Uint8Array; result: ApplyResult }> {
  const parts: Uint8Array[] = [];
  const input = patch instanceof Uint8Array ? chunked(patch) : patch;
  const result = await applyPatch(old instanceof Uint8Array ? memorySource(old) : old, input, (c) => void parts.push(c.slice()), { hasher: nodeHasher, ...options });
  const out = concat(parts);
  expect(result.bytesWritten).toBe(out.length);
  return { out, result };
}

/** Byte-for-byte equality with a useful failure message (first differing offset). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (actual.length === expected.length && Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.length))) return;
  let at = 0;
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++;
  expect.fail(`bytes differ at offset ${at} (lengths ${actual.length} vs ${expected.length})`);
}

/**
 * A sink that compares what it receives with `expected`, read range by range
 * (for images too big to collect). check() asserts all of it was matched.
 */
export function comparingSink(expected: ByteSource): { sink: (c: Uint8Array) => Promise<void>; check: () => void } {
  let at = 0;
  let firstDiff = -1;
  return {
    async sink(chunk) {
      if (firstDiff < 0) {
        if (at + chunk.length > expected.size) firstDiff = expected.size;
        else {
          const want = await expected.read(at, chunk.length);
          if (!Buffer.from(want.buffer, want.byteOffset, want.length).equals(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))) {
            let i = 0;
            while (want[i] === chunk[i]) i++;
            firstDiff = at + i;
          }
        }
      }
      at += chunk.length;
    },
    check() {
      expect(firstDiff, `output differs from the new archive at offset ${firstDiff}`).toBe(-1);
      expect(at).toBe(expected.size);
    },
  };
}

/** Create a patch, inspect it, apply it, and check the output is the new archive exactly. */
export async function roundTrip(old: Uint8Array, neu: Uint8Array, options: Partial<CreateOptions> = {}) {
  const { patch, summary } = await makePatch(old, neu, options);
  const inspected = await inspectPatch(chunked(patch, 4099));
  expect(inspected.entries).toEqual(summary.entries);
  expect(inspected.patchSize).toBe(patch.length);
  const { out, result } = await applyToBytes(old, patch);
  expectSameBytes(out, neu);
  expect(result.newImageId).toBe(summary.newImageId);
  expect(result.partial).toBe(false);
  return { patch, summary, inspected, result };
}

/** Run `fn`, expecting a PatcherError with `code` and a one-line message; returns the error. */
export async function expectPatcherError(fn: () => Promise<unknown>, code: string, what = ''): Promise<PatcherError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `${what}: expected a PatcherError, got success`).toBeDefined();
  if (!(caught instanceof PatcherError)) throw caught;
  expect(caught.code, `${what}: ${caught.message}`).toBe(code);
  expect(caught.message).not.toMatch(/\n/);
  expect(caught.message.length).toBeGreaterThan(0);
  return caught;
}

/** A source that counts (or refuses) reads: to prove an input is not read. */
export function watchedSource(bytes: Uint8Array, refuse = false): ByteSource & { reads: number } {
  const inner = memorySource(bytes);
  const source = {
    size: inner.size,
    reads: 0,
    async read(offset: number, length: number) {
      source.reads++;
      if (refuse) throw new Error('the old image must not be read');
      return inner.read(offset, length);
    },
    stream(offset?: number, length?: number, chunkSize?: number) {
      source.reads++;
      if (refuse) throw new Error('the old image must not be read');
      return inner.stream(offset, length, chunkSize);
    },
  };
  return source;
}

/** Where each frame of a patch sits: magic (8 bytes), then type(1) length(u32 LE) payload crc32(4). */
export interface FrameAt {
  offset: number;
  type: number;
  length: number;
  payload: Uint8Array;
}

export function walkFrames(patch: Uint8Array): FrameAt[] {
  const frames: FrameAt[] = [];
  const view = new DataView(patch.buffer, patch.byteOffset, patch.length);
  for (let at = 8; at < patch.length; ) {
    const length = view.getUint32(at + 1, true);
    frames.push({ offset: at, type: patch[at], length, payload: patch.subarray(at + 5, at + 5 + length) });
    at += 9 + length;
  }
  return frames;
}

/** `patch` with frame `frame` replaced by `replacement` (a whole encoded frame). */
export function replaceFrame(patch: Uint8Array, frame: FrameAt, replacement: Uint8Array): Uint8Array {
  return concat([patch.subarray(0, frame.offset), replacement, patch.subarray(frame.offset + 9 + frame.length)]);
}
