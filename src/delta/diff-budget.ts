/**
 * How many windows create diffs at once: as many as a memory budget holds,
 * not as many as there are processor cores.
 *
 * Memory budget (bytes), per window of reference n and new bytes m, in the
 * thread that diffs it:
 *   core (src/core/wasm.ts)        5.2n + 2m + 0.5 MiB
 *   the job's bytes (diff-job.ts)  n + m, plus a filtered copy of the
 *                                  reference (n) when it holds code
 *   fold and deflate of the window about 2m + 1.5 MiB (fflate's level-9
 *                                  hash table is 2 MiB at most)
 *   => windowMemory = 7n + 4m + 2 MiB (a gzip file's window decodes both
 *      files first: 24 (n + m) + 2 MiB, well above what they measure)
 * WASM memory never shrinks, so every core ends up holding about what the
 * largest window needs; a worker thread adds its own isolate and modules
 * (WORKER_OVERHEAD). k cores thus cost k x (largest window + overhead), and
 * create runs k = budget / that many windows at once (at most `workers`).
 * With one, the window runs on the calling thread (no worker at all).
 *
 * Measured on the nginx pair (2 cores, Node 20, 1 MiB windows; the largest
 * window has a 3 MiB reference, so 2 cores would need ~80 MiB): the whole
 * CLI create peaks at ~114 MB RSS with one core, at ~182 MB with two
 * workers, which are 1.1-1.4x faster on an idle machine.
 */
import type { PlannedWindow } from './plan.js';

const MiB = 1024 * 1024;

/**
 * Default budget: windows of the default 1 MiB with references up to about
 * 1.5 MiB run two at a time; larger ones run one at a time, which keeps the
 * nginx pair's create under 128 MB.
 */
export const DEFAULT_DIFF_MEMORY = 64 * MiB;

/** A worker thread's own memory: its isolate, the modules it loads, its heap (measured 10-16 MB on Node 20). */
export const WORKER_OVERHEAD = 12 * MiB;

/** Estimated peak memory of diffing one window (see the budget above). */
export function windowMemory(window: Pick<PlannedWindow, 'refBytes' | 'diffBytes' | 'gzip'>): number {
  const n = window.refBytes;
  const m = window.diffBytes;
  if (window.gzip) return 24 * (n + m) + 2 * MiB;
  return 7 * n + 4 * m + 2 * MiB;
}

/**
 * How many windows to diff at once: the most, up to `workers`, whose cores
 * (each as big as the largest window's need, plus a worker's overhead) fit
 * in `budget` bytes; at least 1.
 */
export function diffCores(windows: Iterable<Pick<PlannedWindow, 'refBytes' | 'diffBytes' | 'gzip'>>, workers: number, budget: number): number {
  let largest = 0;
  for (const w of windows) largest = Math.max(largest, windowMemory(w));
  if (largest === 0) return 1; // nothing to diff: no worker is worth starting
  const fit = Math.floor(budget / (largest + WORKER_OVERHEAD));
  return Math.max(1, Math.min(Math.floor(workers), fit));
}
