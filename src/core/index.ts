/** The diff engine's public face (I/O-free): bytes in, bsdiff-style deltas out. */
export { foldShortMatches, type Delta } from './delta.js';
export { loadCore, type DiffCore, type GoDeflateStream, type PreparedDiff, type PreparedPatch, type ExactForm, type ExactBudget } from './wasm.js';
