/** The diff engine's public face (I/O-free): bytes in, bsdiff-style deltas out. */
export { foldShortMatches, type Delta } from './delta.js';
export { loadSha256, type CoreHasher } from './wasm.js';
export { loadCore, type DiffCore, type DiffOptions, type GoDeflateStream, type PreparedDiff, type PreparedPatch, type ExactForm, type ExactBudget } from './wasm.js';
export { CodeKind, elfHead, elfCodeRanges, elfCodeOf, codeFiltersOf, checkCodeRanges, ELF_HEAD_BYTES, type CodeRange, type CodeFilters, type ElfHead } from './code-filter.js';
