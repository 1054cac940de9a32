/**
 * createPatch / applyPatch / inspectPatch with Node's defaults: sha256 from
 * node:crypto, and a string argument taken as a file path (opened for the
 * run and closed after it). Reached as `docker-patcher` under the `node`
 * export condition, and from `docker-patcher/node`.
 */
import type { ApplyResult, PatchSummary } from '../delta/types.js';
import { fileSource, nodeHasher } from '../image/source.node.js';
import type { ApplyOptions, CreateOptions, ImageInput, OldImageArgument, PatchInput, PatchSink } from './options.js';
import { applyWith, createWith, inspectWith, type Platform } from './run.js';

const node: Platform = { hasher: nodeHasher, openPath: fileSource };

/**
 * Create a patch that turns `oldImage` into `newImage` (each a `docker save`
 * or OCI archive, or a path to one); its bytes go to `sink` in order, each
 * chunk the sink's to keep (`fileSink(path)` writes a file atomically).
 */
export function createPatch(oldImage: ImageInput | string, newImage: ImageInput | string, sink: PatchSink, options?: CreateOptions): Promise<PatchSummary> {
  return createWith(node, oldImage, newImage, sink, options);
}

/**
 * Rebuild the new image from `oldImage` (an archive, a path to one, or
 * `daemonOldImage(...)`) and `patch` (bytes, a stream, or a path); the
 * archive goes to `sink`. See the neutral applyPatch.
 */
export function applyPatch(oldImage: OldImageArgument | string, patch: PatchInput | string, sink: PatchSink, options?: ApplyOptions): Promise<ApplyResult> {
  return applyWith(node, oldImage, patch, sink, options);
}

/** What a patch (bytes, a stream, or a path) holds. */
export function inspectPatch(patch: PatchInput | string, options?: { signal?: AbortSignal }): Promise<PatchSummary> {
  return inspectWith(node, patch, options);
}
