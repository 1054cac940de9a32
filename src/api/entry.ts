/**
 * createPatch / applyPatch / inspectPatch with the platform-neutral
 * defaults: sha256 from the WASM core (browserHasher, plain TypeScript,
 * where that instance cannot load), no file paths.
 * Node gets src/api/entry-node.ts instead through the `node` export
 * condition, so this file imports no Node module.
 */
import type { ApplyResult, PatchSummary } from '../delta/types.js';
import { loadSha256 } from '../core/index.js';
import type { HasherFactory } from '../image/hash.js';
import { browserHasher } from '../image/sha256.js';
import type { ApplyOptions, CreateOptions, ImageInput, OldImageArgument, PatchInput, PatchSink } from './options.js';
import { applyWith, createWith, inspectWith, type Platform } from './run.js';

let coreSha256: Promise<HasherFactory> | undefined;
const neutral: Platform = {
  hasher: browserHasher,
  loadHasher: () => (coreSha256 ??= loadSha256().catch(() => browserHasher)),
};

/**
 * Create a patch that turns `oldImage` into `newImage` (each a `docker save`
 * or OCI archive); its bytes go to `sink` in order, each chunk the sink's to
 * keep. The sink is closed (or ended) once the patch is complete, aborted
 * on failure. Resolves with what each entry became.
 */
export function createPatch(oldImage: ImageInput, newImage: ImageInput, sink: PatchSink, options?: CreateOptions): Promise<PatchSummary> {
  return createWith(neutral, oldImage, newImage, sink, options);
}

/**
 * Rebuild the new image from `oldImage` and `patch`; the archive goes to
 * `sink`, each chunk the sink's to keep. Every rebuilt blob is checked
 * before the archive ends; the sink is closed on success and aborted on
 * any failure, so pair it with something that discards aborted output
 * (fileSink in docker-patcher/node does).
 */
export function applyPatch(oldImage: OldImageArgument, patch: PatchInput, sink: PatchSink, options?: ApplyOptions): Promise<ApplyResult> {
  return applyWith(neutral, oldImage, patch, sink, options);
}

/** What a patch holds: image IDs, tags, and per entry REUSE / DELTA / LITERAL with its bytes. */
export function inspectPatch(patch: PatchInput, options?: { signal?: AbortSignal }): Promise<PatchSummary> {
  return inspectWith(neutral, patch, options);
}
