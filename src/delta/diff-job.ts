/**
 * One window's diff, the unit of parallel work: bytes in, an encoded WINDOW
 * (or GZIP) payload out. Runs wherever a DiffCore is (a worker thread, the
 * browser's worker, or inline).
 */
import { foldShortMatches, type CodeFilters, type DiffCore, type ExactBudget } from '../core/index.js';
import { encodeGzipEntry } from '../format/image/gzip-entry.js';
import { encodeWindow, type OldRange, type Piece } from '../format/image/window.js';

export interface DiffJob {
  refs: OldRange[];
  pieces: Piece[];
  /** The reference: old bytes of `refs`, concatenated. */
  reference: Uint8Array;
  /** The new bytes of the DIFF pieces, concatenated. */
  target: Uint8Array;
  level: number;
  /** Machine code to filter in `reference` and `target` (plan.ts), carried into the window. */
  code?: CodeFilters;
  /**
   * Set for a gzip file rebuilt through its exact form: `reference` is the
   * old twin's data (refs[0]), `target` the new file's, both already found
   * to re-encode exactly within `budget`.
   */
  gzip?: { name: string; sha256: Uint8Array; budget: ExactBudget };
}

export function runDiffJob(core: DiffCore, job: DiffJob): Uint8Array {
  if (job.gzip) return runGzipJob(core, job, job.gzip);
  const delta = core.diff(job.reference, job.target, job.code ? { code: job.code } : {});
  return encodeWindow({ refs: job.refs, pieces: job.pieces, delta, ...(job.code ? { code: job.code } : {}) }, job.level);
}

/**
 * Matches of the text shorter than this go as literal bytes (measured on the
 * nginx pair's changelogs: 16-32 best; the structure is best left as is).
 */
const TEXT_MIN_MATCH = 32;

/** Diff two gzip files in the decoded domain: text against text, structure against structure. */
function runGzipJob(core: DiffCore, job: DiffJob, gzip: NonNullable<DiffJob['gzip']>): Uint8Array {
  const oldForm = core.gunzipExact(job.reference, gzip.budget);
  const newForm = core.gunzipExact(job.target, gzip.budget);
  return encodeGzipEntry({
    old: job.refs[0],
    name: gzip.name,
    newSize: job.target.length,
    sha256: gzip.sha256,
    textSize: newForm.text.length,
    structureSize: newForm.structure.length,
    text: foldShortMatches(oldForm.text, core.diff(oldForm.text, newForm.text), TEXT_MIN_MATCH),
    structure: core.diff(oldForm.structure, newForm.structure),
  }, job.level);
}

/** Runs diff jobs; Node's version spreads them over worker threads. */
export interface DiffRunner {
  run(job: DiffJob): Promise<Uint8Array>;
  /** Peak WASM memory over the runner's cores, in bytes. */
  peakMemory(): number;
  close(): Promise<void>;
}
