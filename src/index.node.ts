/**
 * `docker-patcher` as Node resolves it (the `node` export condition): the
 * platform-neutral API, with createPatch / applyPatch / inspectPatch bound
 * to Node's defaults (sha256 from node:crypto, file paths as inputs).
 * Explicit exports take precedence over the star export.
 */
export * from './index.js';
export { createPatch, applyPatch, inspectPatch } from './api/entry-node.js';
