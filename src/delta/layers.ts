/** Moved to image/layer-source.ts (image-level helpers); kept so older imports still compile. */
export * from '../image/layer-source.js';
