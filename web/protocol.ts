/**
 * Messages between the demo page (main.ts) and its Web Worker (worker.ts).
 * Files travel as File/Blob objects (structured clone shares, not copies,
 * their bytes); results come back as plain objects and Blobs. Cancel is not
 * a message: the page terminates the worker and starts a fresh one.
 */
import type { PatchSummary, Progress } from '../src/delta/types.js';

export type Step = 'create' | 'apply';

export type Request =
  | { type: 'create'; oldFile: File; newFile: File }
  | { type: 'apply'; oldFile: File; newFile: File; patch: Blob }
  /** The device side: an old archive and a patch file, no new archive to compare with. */
  | { type: 'apply-files'; oldFile: File; patchFile: File; expectNewId?: string };

/** Bytes read so far from the old image: moves while the library indexes it, before its own reports start. */
export interface InputProgress {
  done: number;
  total: number;
}

/** How the worker ran: diff workers asked of createPatch, and which sha256 hashed. */
export interface Engine {
  workers: number;
  /** 'core': the WASM core's; 'js': the plain-TypeScript fallback. */
  sha256: 'core' | 'js';
  /** Whether apply hashes the rebuilt archive on a worker of its own (else on the page's worker). */
  hashWorker: boolean;
}

export type Reply =
  | { type: 'progress'; step: Step; progress?: Progress; input: InputProgress }
  | {
      type: 'created';
      summary: PatchSummary;
      patch: Blob;
      /** Milliseconds spent in createPatch. */
      createMs: number;
      engine: Engine;
    }
  | {
      type: 'applied';
      newImageId: string;
      tags: string[];
      /** The rebuilt `docker save` archive. */
      output: Blob;
      /** sha256 of the rebuilt archive and of the new tarball picked in the page. */
      outputDigest: string;
      newFileDigest: string;
      /** Milliseconds spent in applyPatch (output hashed on the way), and hashing the new tarball. */
      applyMs: number;
      hashMs: number;
      engine: Engine;
    }
  | {
      type: 'applied-files';
      newImageId: string;
      tags: string[];
      output: Blob;
      /** sha256 of the rebuilt archive. */
      outputDigest: string;
      /** Layers of the rebuilt archive whose bytes hash to the config's diff_ids. */
      layersVerified: number;
      applyMs: number;
    }
  | { type: 'error'; step: Step; message: string; code?: string };
