/**
 * Messages between the demo page (main.ts) and its Web Worker (worker.ts).
 * Files travel as File/Blob objects (structured clone shares, not copies,
 * their bytes); results come back as plain objects and Blobs.
 */
import type { PatchSummary, Progress } from '../src/delta/types.js';

export type Request =
  | { type: 'create'; oldFile: File; newFile: File }
  | { type: 'apply'; oldFile: File; newFile: File; patch: Blob };

export type Reply =
  | { type: 'progress'; step: 'create' | 'apply'; progress: Progress }
  | {
      type: 'created';
      summary: PatchSummary;
      patch: Blob;
      /** Milliseconds spent in createPatch. */
      createMs: number;
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
    }
  | { type: 'error'; step: 'create' | 'apply'; message: string; code?: string };
