// Match selection in the bsdiff search (assembly/bsdiff.ts): the cost model
// keeps the current alignment across cheap mismatches, and among equal
// matches the one whose surroundings agree wins. Checked by round trip and
// by where the triples point, not by patch sizes.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore, type Delta } from '../../src/core/index.js';
import { roundTrip as checkedDelta } from './round-trip.js';
import { randomBytes } from '../../src/image/sample.js';

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

const roundTrip = (old: Uint8Array, neu: Uint8Array): Delta => checkedDelta(core, old, neu);

/** The old position the delta reads for new byte `at`, or -1 when it is an extra byte. */
function oldPositionOf(delta: Delta, at: number): number {
  const { ctrl } = delta;
  let [newPos, oldPos] = [0, 0];
  for (let t = 0; t < ctrl.length; t += 3) {
    const [add, copy, seek] = [ctrl[t], ctrl[t + 1], ctrl[t + 2]];
    if (at < newPos + add) return oldPos + (at - newPos);
    if (at < newPos + add + copy) return -1;
    newPos += add + copy;
    oldPos += add + seek;
  }
  return -1;
}

describe('match selection', () => {
  it('stays on the alignment across shifted offsets rather than seek to a slightly longer exact copy', () => {
    // NEW is OLD with every 24th byte moved by the same amount (offsets
    // shifted by one constant). OLD also holds, far away, an exact copy of
    // 168 bytes of NEW: 7 more matching bytes than the alignment gives
    // there, which the classic loop (a gain of 6) would seek to and back.
    const base = randomBytes(1 << 16, 11);
    const neu = base.slice();
    for (let i = 0; i < neu.length; i += 24) neu[i] = (neu[i] + 0x10) & 255;
    const old = base.slice();
    old.set(neu.subarray(9601, 9601 + 168), 50_000);
    const delta = roundTrip(old, neu);
    // Every byte of the copied span still comes from its own place in OLD.
    for (const at of [9601, 9700, 9768]) expect(oldPositionOf(delta, at)).toBe(at);
    // One triple up to the overwritten span of OLD, a few around it.
    expect(delta.ctrl.length / 3).toBeLessThanOrEqual(4);
  });

  it('among equal-length matches takes the one whose surroundings agree', () => {
    // A 64-byte block B sits five times in OLD: four times in random bytes,
    // once (at `truth`) in the context NEW has around it, with every fourth
    // byte of that context changed, so no exact match reaches past B and
    // all five share exactly B with NEW.
    const old = randomBytes(40_000, 21);
    const block = randomBytes(64, 22);
    const truth = 24_000;
    for (const at of [4_000, 9_000, 15_000, truth, 33_000]) old.set(block, at);
    const context = 256;
    const prefix = randomBytes(2_000, 23);
    const neu = new Uint8Array(prefix.length + 2 * context + block.length + 1_000);
    neu.set(prefix);
    const start = prefix.length + context; // where B begins in NEW
    neu.set(old.subarray(truth - context, truth + block.length + context), start - context);
    for (let d = 1; d <= context; d += 4) {
      neu[start - d] ^= 0x5a;
      neu[start + block.length - 1 + d] ^= 0x5a;
    }
    neu.set(randomBytes(1_000, 24), start + block.length + context);
    const delta = roundTrip(old, neu);
    expect(oldPositionOf(delta, start)).toBe(truth);
    expect(oldPositionOf(delta, start + block.length - 1)).toBe(truth + block.length - 1);
  });

  it('round-trips pairs built to make the candidates and the cost model disagree', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const base = randomBytes(20_000 + seed * 997, 100 + seed);
      const neu = base.slice();
      const step = 5 + seed * 3;
      for (let i = seed; i < neu.length; i += step) neu[i] = (neu[i] + seed) & 255;
      const old = base.slice();
      // Copies of NEW's bytes and of one block placed around OLD as decoys.
      for (let k = 0; k < 6; k++) old.set(neu.subarray(1_000 * k + 37, 1_000 * k + 37 + 40 + k * 30), 10_000 + k * 1_500);
      roundTrip(old, neu);
      roundTrip(neu, old);
    }
  });
});
