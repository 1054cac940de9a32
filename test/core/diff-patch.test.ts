// diff/patch round trips, streaming output, and hostile deltas refused without a trap or hang.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore, type Delta } from '../../src/core/index.js';
import { roundTrip as checkedDelta } from './round-trip.js';
import { PatcherError } from '../../src/errors.js';
import { editBytes, prng, randomBytes } from '../../src/image/sample.js';

/** Uniform in [0, 1) from the seeded uint32 generator. */
const uniform = (seed: number) => {
  const next = prng(seed);
  return () => next() / 2 ** 32;
};

/** A few flipped, inserted and deleted bytes (works on any size). */
function mutate(base: Uint8Array, rand: () => number): Uint8Array {
  const out = Array.from(base);
  const edits = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = Math.floor(rand() * out.length);
    const what = rand();
    if (what < 0.5) out[at] = (out[at] + 1 + Math.floor(rand() * 255)) & 255;
    else if (what < 0.75) out.splice(at, 0, ...randomBytes(1 + Math.floor(rand() * 40), at));
    else out.splice(at, 1 + Math.floor(rand() * 40));
  }
  return Uint8Array.from(out);
}

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

const roundTrip = (old: Uint8Array, neu: Uint8Array): Delta => checkedDelta(core, old, neu);

describe('diff and patch', () => {
  it('round-trips random mutations byte for byte', () => {
    const rand = uniform(1);
    for (let trial = 0; trial < 300; trial++) {
      // Small alphabets make many competing matches; full bytes make few.
      const k = [2, 4, 256][trial % 3];
      const old = randomBytes(Math.floor(rand() * 20_000), trial).map((b) => b % k);
      roundTrip(old, mutate(old.subarray(Math.floor(rand() * 50)), rand));
    }
  });

  it('round-trips the edge cases', () => {
    const some = randomBytes(5000, 3);
    const pairs: Array<[Uint8Array, Uint8Array]> = [
      [new Uint8Array(0), new Uint8Array(0)],
      [new Uint8Array(0), some],
      [some, new Uint8Array(0)],
      [some, some],
      [Uint8Array.of(1), Uint8Array.of(2)],
      [new Uint8Array(100_000), new Uint8Array(100_001)],
      [some, some.slice().reverse()],
    ];
    for (const [old, neu] of pairs) roundTrip(old, neu);
  });

  it('finds shared content: an edited binary needs few extra bytes', () => {
    const old = readFileSync(process.execPath).subarray(0, 4 << 20);
    const neu = editBytes(old, 9);
    const delta = roundTrip(old, neu);
    expect(delta.extra.length).toBeLessThan(neu.length / 50);
  });

  // Quadratic behaviour here would take hours; speed itself is the bench's.
  it('ends on long runs and repeated blocks (worst cases)', () => {
    const zeros = new Uint8Array(8 << 20);
    const zerosEdited = zeros.slice();
    for (let i = 0; i < zerosEdited.length; i += 65_537) zerosEdited[i] = 1;
    roundTrip(zeros, zerosEdited);
    const block = randomBytes(4096, 5);
    const repeated = new Uint8Array(8 << 20);
    for (let i = 0; i < repeated.length; i += 4096) repeated.set(block, i);
    roundTrip(repeated, editBytes(repeated, 6));
  });

  it('streams output in chunks of the requested size', () => {
    const old = randomBytes(300_000, 11);
    const neu = editBytes(old, 12);
    const delta = core.diff(old, neu);
    // Chunks are views valid until the next step: keep copies.
    const chunks = Array.from(core.patchChunks(old, delta, neu.length, 4096), (c) => c.slice());
    expect(chunks.every((c) => c.length <= 4096)).toBe(true);
    expect(Buffer.compare(Buffer.concat(chunks), neu)).toBe(0);
  });
});

describe('hostile deltas', () => {
  const old = randomBytes(10_000, 21);
  const neu = editBytes(old, 22);
  const good = () => {
    const d = core.diff(old, neu);
    return { ctrl: d.ctrl.slice(), diff: d.diff.slice(), extra: d.extra.slice() };
  };
  const refused = (delta: Delta, size = neu.length) => {
    expect(() => core.patch(old, delta, size)).toThrow(PatcherError);
  };

  it('refuses negative or oversized lengths, short streams and bad sizes', () => {
    let d = good();
    d.ctrl[0] = -1;
    refused(d);
    d = good();
    d.ctrl[1] = 0x7fffffff;
    refused(d);
    d = good();
    refused({ ...d, diff: d.diff.subarray(0, d.diff.length - 1) });
    d = good();
    refused({ ctrl: Int32Array.of(0, 5, 0), diff: new Uint8Array(0), extra: new Uint8Array(4) }, 5);
    refused({ ctrl: Int32Array.of(0, 4, 0), diff: new Uint8Array(0), extra: new Uint8Array(5) }, 4);
    d = good();
    refused({ ...d, ctrl: d.ctrl.subarray(0, d.ctrl.length - 3) });
    d = good();
    refused(d, neu.length + 1);
    refused(good(), -1);
    d = good();
    refused({ ...d, ctrl: d.ctrl.subarray(0, 2) });
  });

  it('refuses seeks out of range and survives random corruption without trapping', () => {
    const d = good();
    d.ctrl[2] = 0x7fffffff;
    d.ctrl[5] = 0x7fffffff;
    refused(d);
    const rand = uniform(99);
    for (let trial = 0; trial < 500; trial++) {
      const x = good();
      for (let k = 0; k < 3; k++) x.ctrl[Math.floor(rand() * x.ctrl.length)] = Math.floor((rand() - 0.5) * 2 ** 32);
      try {
        core.patch(old, x, neu.length);
      } catch (err) {
        expect(err).toBeInstanceOf(PatcherError);
      }
    }
  });
});
