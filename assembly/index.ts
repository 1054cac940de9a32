// The WASM core's exports. The JS side (src/core/wasm.ts, the only caller)
// owns the layout of linear memory: it places inputs and output buffers
// from heapBase() upwards, growing the memory itself, and passes pointers.
// Scratch that the core needs for a moment lives above `scratch`, the end of
// the caller's layout (see scratch.ts). Nothing here allocates on a heap.

import { scratchReset } from './scratch';
import { sais } from './sais';

export { diffBegin, diffRun, diffDone, diffBytes, extraBytes } from './bsdiff';
export { patchBegin, patchRun } from './bspatch';

/** First byte the caller may lay out (16-aligned). Called once at load. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~<usize>15;
}

/**
 * Suffix array of the `n` bytes at `text`, written as n i32 at `sa`.
 * Called by wasm.ts before a diff (and by tests). Scratch goes above `scratch`.
 * Returns 0, or -1 when the memory could not grow for scratch.
 */
export function suffixSort(text: usize, n: i32, sa: usize, scratch: usize): i32 {
  if (n <= 0) return 0;
  scratchReset(scratch);
  return sais<u8>(text, sa, n, 256, 0, 0);
}

// Exact deflate/gzip (deflate.ts has the form's layout). The caller
// (wasm.ts) lays out input, text and structure regions and passes their
// capacities; the codec never writes outside them. Decoders return 0 or a
// negative E_* code (deflate.ts) and report sizes through the two getters;
// encoders return the output size or a negative E_* code.
export { inflateRaw as inflateExact, decodedText as exactTextBytes, decodedStructure as exactStructureBytes } from './deflate-decode';
export { deflateRaw as deflateExact } from './deflate-encode';
export { gunzip as gunzipExact, gzip as gzipExact } from './gzip';

// Go's compress/flate and compress/gzip rebuilt from text and level
// (goflate.ts): output written, or compared with the bytes already there.
export { goDeflate, goGzip, goFirstDiff } from './goflate';
// The same, fed its text in pieces (goflate-stream.ts): one stream at a time
// per instance; each call writes its compressed bytes from the start of the
// output region it is given.
export { goStreamBegin, goStreamWrite, goStreamEnd } from './goflate-stream';

// zlib's LZ77 parse as a prediction of a stream's tokens (lazyparse.ts).
export { zlibPredict } from './lazyparse';

// Branch normalization of machine code in place (codefilter.ts): called on
// ranges the JS side checked to lie inside its layout.
export { codeFilter } from './codefilter';

// sha256 (sha256.ts): incremental, over a context the caller places
// anywhere in memory (SHA256_CTX_BYTES). wasm.ts gives hashing an instance
// of its own, so hashing never meets a diff's layout.
export { sha256Init, sha256Update, sha256Final } from './sha256';
