/**
 * One window's diff, the unit of parallel work: bytes in, an encoded WINDOW
 * payload out. Runs wherever a DiffCore is (a worker thread, the browser's
 * worker, or inline).
 */
import type { DiffCore } from '../core/index.js';
import { encodeWindow, type OldRange, type Piece } from '../format/image/window.js';

export interface DiffJob {
  refs: OldRange[];
  pieces: Piece[];
  /** The reference: old bytes of `refs`, concatenated. */
  reference: Uint8Array;
  /** The new bytes of the DIFF pieces, concatenated. */
  target: Uint8Array;
  level: number;
}

export function runDiffJob(core: DiffCore, job: DiffJob): Uint8Array {
  const delta = core.diff(job.reference, job.target);
  return encodeWindow({ refs: job.refs, pieces: job.pieces, delta }, job.level);
}

/** Runs diff jobs; Node's version spreads them over worker threads. */
export interface DiffRunner {
  run(job: DiffJob): Promise<Uint8Array>;
  /** Peak WASM memory over the runner's cores, in bytes. */
  peakMemory(): number;
  close(): Promise<void>;
}
