// One window's diff job (diff-job.ts) reads its bytes into the core and
// folds against the core's own copy of the reference: the payload must be
// the one the plain path makes (copies in and out, a filtered copy of the
// reference for the fold), byte for byte, also when the suffix sort grows
// the core's memory mid-run. And how many windows create runs at once
// under a memory budget (diff-budget.ts).
import { describe, expect, it } from 'vitest';
import { CodeKind, foldShortMatches, loadCore, type CodeFilters } from '../../src/core/index.js';
import { WINDOW_MIN_MATCH, runDiffJob, type DiffJob } from '../../src/delta/diff-job.js';
import { DEFAULT_DIFF_MEMORY, WORKER_OVERHEAD, diffCores, windowMemory } from '../../src/delta/diff-budget.js';
import { encodeWindow } from '../../src/format/image/window.js';
import { editBytes, randomBytes } from '../../src/image/sample.js';
import { EM_X86_64, elfPair } from '../fixtures/elf.js';
import { expectSameBytes } from './util.js';

const MiB = 1 << 20;

function job(reference: Uint8Array, target: Uint8Array, code?: CodeFilters): DiffJob {
  return {
    refs: [{ blob: 0, offset: 0, length: reference.length }],
    pieces: [{ copy: false, length: target.length }],
    reference,
    target,
    level: 9,
    ...(code ? { code } : {}),
  };
}

/** The payload made the plain way: copies in and out of the core, the fold reading a filtered copy of the reference. */
async function plainPayload(j: DiffJob): Promise<Uint8Array> {
  const core = await loadCore();
  const delta = core.diff(j.reference, j.target, j.code ? { code: j.code } : {});
  let searched = j.reference;
  if (j.code) {
    searched = j.reference.slice();
    core.filterCode(searched, j.code.reference, true);
  }
  const folded = foldShortMatches(searched, delta, WINDOW_MIN_MATCH);
  return encodeWindow({ refs: j.refs, pieces: j.pieces, delta: folded, ...(j.code ? { code: j.code } : {}) }, j.level);
}

const wholeCode = (reference: Uint8Array, target: Uint8Array): CodeFilters => ({
  reference: [{ start: 0, length: reference.length, kind: CodeKind.X86_64, fileOffset: 0 }],
  target: [{ start: 0, length: target.length, kind: CodeKind.X86_64, fileOffset: 0 }],
});

/** New bytes with a 10-byte piece of `reference` every 50: matches the fold turns into literals, so it reads the reference. */
function shortMatches(reference: Uint8Array, size: number): Uint8Array {
  const out = randomBytes(size, 11);
  const at = randomBytes(4 * Math.ceil(size / 50), 12);
  for (let i = 0, k = 0; i + 50 <= size; i += 50, k += 4) {
    const from = ((at[k] << 16) | (at[k + 1] << 8) | at[k + 2]) % (reference.length - 10);
    out.set(reference.subarray(from, from + 10), i + 40);
  }
  return out;
}

describe('runDiffJob', () => {
  it('makes the plain path’s payload for plain bytes', async () => {
    const reference = randomBytes(300_000, 5);
    const target = editBytes(reference.subarray(20_000, 280_000), 6);
    const j = job(reference, target);
    expectSameBytes(runDiffJob(await loadCore(), j), await plainPayload(j));
  });

  it('makes the plain path’s payload for machine code (the fold reads the filtered reference)', async () => {
    const { old, neu } = elfPair(EM_X86_64, 64, 3);
    const j = job(old, neu, wholeCode(old, neu));
    expectSameBytes(runDiffJob(await loadCore(), j), await plainPayload(j));
  });

  it('makes the plain path’s payload when the suffix sort grows the core’s memory mid-run', async () => {
    // A random half written twice makes SA-IS take scratch beyond what
    // prepareDiff reserves: views made before the run are detached by it.
    const half = randomBytes(MiB, 9);
    const reference = new Uint8Array(2 * MiB);
    reference.set(half, 0);
    reference.set(half, MiB);
    const target = shortMatches(reference, 256 * 1024);
    const j = job(reference, target, wholeCode(reference, target));
    const reserved = await loadCore();
    reserved.prepareDiff(reference.length, target.length);
    const core = await loadCore();
    const payload = runDiffJob(core, j);
    expect(core.memoryBytes()).toBeGreaterThan(reserved.memoryBytes()); // the case grew the memory
    expectSameBytes(payload, await plainPayload(j));
  });
});

describe('diffCores: windows at once within a memory budget', () => {
  const window = (refBytes: number, diffBytes: number, gzip = false) => ({ refBytes, diffBytes, ...(gzip ? { gzip: { name: 'x.gz' } } : {}) });

  it('estimates 7n + 4m + 2 MiB a window, 24 (n + m) + 2 MiB a gzip file', () => {
    expect(windowMemory(window(3 * MiB, MiB))).toBe(27 * MiB);
    expect(windowMemory(window(MiB, MiB, true))).toBe(50 * MiB);
  });

  it('runs as many as the largest window fits, at most `workers`, at least one', () => {
    const small = window(MiB, MiB); // 13 MiB + a worker's 12 MiB: two fit in 64 MiB
    const large = window(3 * MiB, MiB); // 27 + 12 MiB: one
    expect(diffCores([small, small], 2, DEFAULT_DIFF_MEMORY)).toBe(2);
    expect(diffCores([small, large, small], 2, DEFAULT_DIFF_MEMORY)).toBe(1);
    expect(diffCores([small], 8, 4 * (13 * MiB + WORKER_OVERHEAD))).toBe(4);
    expect(diffCores([small], 1, 1 << 30)).toBe(1);
    expect(diffCores([large], 2, 0)).toBe(1);
  });

  it('starts no worker when there is nothing to diff', () => {
    expect(diffCores([], 4, DEFAULT_DIFF_MEMORY)).toBe(1);
  });
});
