/**
 * Node-only helpers for the library: archives on disk, sha256 from
 * node:crypto, and the Docker Engine API (old images from the daemon,
 * loading results into it).
 */
export { fileSource, nodeHasher } from './image/source.node.js';
export { DockerClient } from './docker/client.js';
export { daemonOldImage } from './docker/old-image.js';
export { loadArchive, loadWithFallback } from './docker/load.js';
export { saveImageToFile } from './docker/save.js';
