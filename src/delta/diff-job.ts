/**
 * One window's diff, the unit of parallel work: bytes in, an encoded WINDOW
 * (or GZIP) payload out. Runs wherever a DiffCore is (a worker thread, the
 * browser's worker, or inline).
 */
import { foldShortMatches, type CodeFilters, type DiffCore, type ExactBudget } from '../core/index.js';
import { concatBytes } from '../format/bytes.js';
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
   * to re-encode exactly within `budget`. `predictionCap`: the most bytes
   * of zlib prediction apply will make (the patch's maxStructure limit).
   */
  gzip?: { name: string; sha256: Uint8Array; budget: ExactBudget; predictionCap: number };
}

export function runDiffJob(core: DiffCore, job: DiffJob): Uint8Array {
  if (job.gzip) return runGzipJob(core, job, job.gzip);
  const prepared = core.prepareDiff(job.reference.length, job.target.length);
  prepared.old.set(job.reference);
  prepared.neu.set(job.target);
  // Views, read at once by the fold: no copies of the delta or the reference.
  const delta = prepared.run({ views: true, ...(job.code ? { code: job.code } : {}) });
  // Folding reads the reference as the search saw it (filtered, when it held code): the core's own copy.
  const folded = foldShortMatches(prepared.old, delta, WINDOW_MIN_MATCH);
  return encodeWindow({ refs: job.refs, pieces: job.pieces, delta: folded, ...(job.code ? { code: job.code } : {}) }, job.level);
}

/**
 * Matches in a window shorter than this go as literal bytes: their control
 * triples cost more than they save once compressed (nginx pair, both
 * forms, measured at 0/6/8/12/16/24: 400,861 / 399,201 / 398,528 /
 * 398,049 / 398,343 / 399,817 B; the small pair unchanged).
 */
export const WINDOW_MIN_MATCH = 12;

/**
 * Matches of the text shorter than this go as literal bytes (measured on the
 * nginx pair's changelogs: 16-32 best; the structure is best left as is).
 */
const TEXT_MIN_MATCH = 32;

/**
 * zlib levels whose parse is tried as the structure's prediction: 9 (GNU
 * gzip -9n, how Debian compresses its docs) and 6 (zlib's default). A
 * stream of another compressor keeps model 0 (old structure only).
 */
const PREDICTION_LEVELS = [9, 6];

/**
 * Diff two gzip files in the decoded domain: text against text, structure
 * against the old structure, alone or followed by a zlib prediction from
 * the new text; the smallest entry wins.
 */
function runGzipJob(core: DiffCore, job: DiffJob, gzip: NonNullable<DiffJob['gzip']>): Uint8Array {
  const oldForm = core.gunzipExact(job.reference, gzip.budget);
  const newForm = core.gunzipExact(job.target, gzip.budget);
  const text = foldShortMatches(oldForm.text, core.diff(oldForm.text, newForm.text), TEXT_MIN_MATCH);
  const entry = (model: number, reference: Uint8Array): Uint8Array =>
    encodeGzipEntry({
      old: job.refs[0],
      name: gzip.name,
      newSize: job.target.length,
      sha256: gzip.sha256,
      textSize: newForm.text.length,
      structureSize: newForm.structure.length,
      model,
      text,
      structure: core.diff(reference, newForm.structure),
    }, job.level);
  let best = entry(0, oldForm.structure);
  for (const level of PREDICTION_LEVELS) {
    const prediction = core.zlibPredict(newForm.text, level, gzip.predictionCap);
    const candidate = entry(level, concatBytes([oldForm.structure, prediction]));
    if (candidate.length < best.length) best = candidate;
  }
  return best;
}

/** Runs diff jobs; Node's version spreads them over worker threads. */
export interface DiffRunner {
  run(job: DiffJob): Promise<Uint8Array>;
  /** Peak WASM memory over the runner's cores, in bytes. */
  peakMemory(): number;
  close(): Promise<void>;
}
