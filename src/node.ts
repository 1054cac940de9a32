/**
 * Node-only helpers for the library: createPatch / applyPatch /
 * inspectPatch with Node's defaults (sha256 from node:crypto, file paths),
 * archives on disk, an atomic file sink, sha256 from node:crypto, and the
 * Docker Engine API (old images from the daemon, loading results into it).
 */
export { createPatch, applyPatch, inspectPatch } from './api/entry-node.js';
export { fileSink } from './api/file-sink.js';
export { fileSource, nodeHasher } from './image/source.node.js';
export { DockerClient } from './docker/client.js';
export { daemonOldImage } from './docker/old-image.js';
export { loadArchive } from './docker/load.js';
export { loadWithFallback, applyIntoDaemon } from './device/load.js';
export { saveImageToFile } from './docker/save.js';
