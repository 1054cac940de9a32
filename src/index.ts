/**
 * docker-patcher's library API, platform-neutral (Node and browsers):
 * create a patch between two image archives, apply it, inspect it.
 *
 * Inputs take the shapes users have: images as Uint8Array, Blob/File or a
 * ByteSource; patches as Uint8Array, ReadableStream or any AsyncIterable
 * (a Node Readable); outputs to a function, a Node Writable or a
 * WritableStream, which may keep every chunk it is given. `signal` cancels
 * a run (PatcherError code INTERRUPTED).
 *
 * sha256 defaults to node:crypto in Node: package.json's `node` export
 * condition maps this entry to index.node.js, which binds createPatch /
 * applyPatch / inspectPatch to Node's defaults (and file paths). Elsewhere
 * (browsers, bundles for them) the default is browserHasher. Node-only
 * helpers (fileSource, fileSink, the Docker daemon) are in
 * `docker-patcher/node`.
 */
export { createPatch, applyPatch, inspectPatch } from './api/entry.js';
export { DEFAULT_WINDOW_SIZE, MIN_WINDOW_SIZE, MAX_WINDOW_SIZE } from './delta/create.js';
export { sameImageId } from './delta/apply.js';
export type { OldImage, OldImageInput, OldImageProvider } from './delta/old-image.js';
export type { ApplyOptions, CreateOptions, ImageInput, NodeWritableLike, OldImageArgument, PatchInput, PatchSink } from './api/options.js';
export type { ApplyResult, EntrySummary, PatchSummary, Phase, Progress } from './delta/types.js';
export { memorySource, blobSource, type ByteSource } from './image/source.js';
export type { Hasher, HasherFactory } from './image/hash.js';
export { browserHasher } from './image/sha256.js';
export { loadCore, type DiffCore, type Delta } from './core/index.js';
export { PatcherError, ErrorCode } from './errors.js';
