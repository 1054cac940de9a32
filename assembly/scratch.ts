// Scratch memory above the region the JS side laid out.
//
//   0 ......... __heap_base ...... JS layout (inputs, SA, outputs) ...... scratchBase ... scratchTop -->
//
// The JS side owns everything below `scratchBase` (see src/core/wasm.ts).
// Work arrays the core needs for a moment (type bits, bucket tables) are
// bump-allocated above it and released in reverse order, growing the
// linear memory when needed. Nothing here is ever freed to a general heap:
// the stub runtime has none, on purpose (no GC, no hidden allocation).

let scratchTop: usize = 0;

/** Called by every entry point that needs scratch: start allocating at `base`. */
export function scratchReset(base: usize): void {
  scratchTop = (base + 15) & ~<usize>15;
}

/** Reserve `bytes` bytes; returns 0 when the memory cannot grow that far. */
export function scratchAlloc(bytes: usize): usize {
  const ptr = scratchTop;
  const end = ptr + ((bytes + 15) & ~<usize>15);
  if (end < ptr) return 0; // wrapped past 4 GiB
  const have = <usize>memory.size() << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >>> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  scratchTop = end;
  return ptr;
}

/** Release everything allocated since `mark` (a value scratchAlloc returned). */
export function scratchRelease(mark: usize): void {
  scratchTop = mark;
}

/** The current top, to be passed back to scratchRelease. */
export function scratchMark(): usize {
  return scratchTop;
}
