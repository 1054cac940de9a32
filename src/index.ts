/**
 * docker-patcher's library API, platform-neutral (Node and browsers):
 * create a patch between two image archives, apply it, inspect it.
 * Node helpers (files, sha256 from node:crypto, the Docker daemon) are in
 * `docker-patcher/node`.
 */
export { createPatch, DEFAULT_WINDOW_SIZE, MIN_WINDOW_SIZE, MAX_WINDOW_SIZE } from './delta/create.js';
export { applyPatch, sameImageId } from './delta/apply.js';
export { inspectPatch } from './delta/inspect.js';
export type { OldImage, OldImageInput, OldImageProvider } from './delta/old-image.js';
export type {
  ApplyOptions,
  ApplyResult,
  ByteSink,
  CreateOptions,
  EntrySummary,
  PatchSummary,
  Phase,
  Progress,
} from './delta/types.js';
export { memorySource, blobSource, type ByteSource } from './image/source.js';
export type { Hasher, HasherFactory } from './image/hash.js';
export { browserHasher } from './image/sha256.js';
export { loadCore, type DiffCore, type Delta } from './core/index.js';
export { PatcherError, ErrorCode } from './errors.js';
