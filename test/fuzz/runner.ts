/**
 * One interface over the three fuzz targets, and an in-process runner for
 * the tests (the script runs the same targets in child processes).
 */
import type { CaseResult } from './oracle.js';

export type Format = 'image' | 'raw' | 'classic';
export const FORMATS: Format[] = ['image', 'raw', 'classic'];

export interface Target {
  run(seed: number, timeLimitMs: number): Promise<CaseResult>;
}

export async function loadTarget(format: Format, cacheDir?: string): Promise<Target> {
  if (format === 'image') {
    const { loadImageInputs, runImageCase } = await import('./image.js');
    const inputs = await loadImageInputs(cacheDir);
    return { run: (seed, ms) => runImageCase(inputs, seed, ms) };
  }
  if (format === 'raw' || format === 'classic') {
    const { loadSingleInputs, runSingleCase } = await import('./single.js');
    const inputs = await loadSingleInputs(format);
    return { run: (seed, ms) => runSingleCase(inputs, seed, ms) };
  }
  throw new Error(`unknown format ${String(format)} (image, raw or classic)`);
}

export interface Tally {
  cases: number;
  counts: Record<string, number>;
  failures: Array<{ seed: number } & CaseResult>;
  /** Outcomes worth a look that are not failures (same-image-different-bytes), with seeds. */
  notes: Array<{ seed: number } & CaseResult>;
}

export function newTally(): Tally {
  return { cases: 0, counts: {}, failures: [], notes: [] };
}

export function record(t: Tally, seed: number, r: CaseResult): void {
  t.cases++;
  t.counts[r.outcome] = (t.counts[r.outcome] ?? 0) + 1;
  if (r.outcome.startsWith('fail:')) t.failures.push({ seed, ...r });
  else if (r.outcome.startsWith('same-image-') && t.notes.length < 200) t.notes.push({ seed, ...r });
}

/** Run seeds [first, first + count) in this process. */
export async function runCases(format: Format, first: number, count: number, timeLimitMs = 20_000, cacheDir?: string): Promise<Tally> {
  const target = await loadTarget(format, cacheDir);
  const t = newTally();
  for (let seed = first; seed < first + count; seed++) record(t, seed, await target.run(seed, timeLimitMs));
  return t;
}
