// bspatch, incremental: rebuilds the new bytes from old + (ctrl, diff, extra)
// in chunks of the caller's size, so the output never has to be held whole.
//
// Memory: nothing of its own; the caller lays out old, ctrl (12 bytes per
// triple), diff, extra and one output chunk.
//
// A patch is untrusted input. Every triple is checked before use (lengths
// non-negative, never past the declared new size, never past the diff or
// extra bytes supplied, the old position kept within +-2^31): a bad one ends
// the run with a negative code, never a trap. Old bytes outside [0, oldSize)
// read as zero, as in the original bspatch.

export const PATCH_BAD_TRIPLE: i32 = -1;   // negative length or past new size
export const PATCH_SHORT_DIFF: i32 = -2;   // a triple needs more diff bytes than given
export const PATCH_SHORT_EXTRA: i32 = -3;  // a triple needs more extra bytes than given
export const PATCH_SHORT_CTRL: i32 = -4;   // triples ran out before the new size was reached
export const PATCH_LEFTOVER: i32 = -5;     // diff or extra bytes left unused at the end
export const PATCH_BAD_SEEK: i32 = -6;     // old position left the addressable range

let old: usize = 0;
let oldSize: i64 = 0;
let ctrl: usize = 0;
let ctrlCount: i32 = 0;
let diff: usize = 0;
let diffSize: i64 = 0;
let extra: usize = 0;
let extraSize: i64 = 0;
let newSize: i64 = 0;

let triple: i32 = 0;    // index of the next triple to load
let addLeft: i64 = 0;   // bytes of the current triple's diff part still to emit
let copyLeft: i64 = 0;  // bytes of its extra part still to emit
let seek: i64 = 0;      // applied after the extra part, when the next triple loads
let oldPos: i64 = 0;
let newPos: i64 = 0;
let diffPos: i64 = 0;
let extraPos: i64 = 0;

export function patchBegin(o: usize, on: i32, c: usize, cn: i32, d: usize, dn: i32, e: usize, en: i32, nn: f64): void {
  old = o; oldSize = on; ctrl = c; ctrlCount = cn; diff = d; diffSize = dn;
  extra = e; extraSize = en; newSize = <i64>nn;
  triple = 0; addLeft = 0; copyLeft = 0; seek = 0;
  oldPos = 0; newPos = 0; diffPos = 0; extraPos = 0;
}

/** Load and check the next triple. */
function nextTriple(): i32 {
  oldPos += seek; // the previous triple's seek, checked when it was loaded
  seek = 0;
  if (triple >= ctrlCount) return PATCH_SHORT_CTRL;
  const p = ctrl + (<usize>triple << 2) * 3;
  const add = <i64>load<i32>(p);
  const copy = <i64>load<i32>(p, 4);
  const sk = <i64>load<i32>(p, 8);
  triple++;
  // Sanity-check before any byte moves.
  if (add < 0 || copy < 0 || newPos + add + copy > newSize) return PATCH_BAD_TRIPLE;
  if (diffPos + add > diffSize) return PATCH_SHORT_DIFF;
  if (extraPos + copy > extraSize) return PATCH_SHORT_EXTRA;
  const after = oldPos + add + sk;
  if (after < -0x80000000 || after > 0x7fffffff) return PATCH_BAD_SEEK;
  addLeft = add;
  copyLeft = copy;
  seek = sk;
  return 0;
}

/**
 * Write up to `cap` bytes of output at `out`. Returns the count (0 once the
 * whole new size has been produced) or a negative PATCH_* code.
 */
export function patchRun(out: usize, cap: i32): i32 {
  let written: i32 = 0;
  while (written < cap && newPos < newSize) {
    if (addLeft == 0 && copyLeft == 0) {
      const r = nextTriple();
      if (r < 0) return r;
      continue;
    }
    const room = <i64>(cap - written);
    if (addLeft > 0) {
      const n = <i32>(addLeft < room ? addLeft : room);
      addOld(out + <usize>written, n);
      addLeft -= n; written += n; newPos += n; oldPos += n; diffPos += n;
    } else {
      const n = <i32>(copyLeft < room ? copyLeft : room);
      memory.copy(out + <usize>written, extra + <usize>extraPos, <usize>n);
      copyLeft -= n; written += n; newPos += n; extraPos += n;
    }
  }
  if (newPos == newSize && addLeft == 0 && copyLeft == 0 && (diffPos != diffSize || extraPos != extraSize)) {
    return PATCH_LEFTOVER;
  }
  return written;
}

/** out[i] = diff[diffPos+i] + old[oldPos+i], old bytes outside the buffer being 0. */
function addOld(out: usize, n: i32): void {
  const d = diff + <usize>diffPos;
  let i = 0;
  // Fast path over the part of the range that lies inside old.
  const inStart = oldPos < 0 ? <i32>min<i64>(-oldPos, n) : 0;
  const inEnd = <i32>max<i64>(<i64>inStart, min<i64>(<i64>n, oldSize - oldPos));
  for (; i < inStart; i++) store<u8>(out + <usize>i, load<u8>(d + <usize>i));
  const o = old + <usize>(oldPos + <i64>inStart) - <usize>inStart;
  for (; i + 16 <= inEnd; i += 16) {
    v128.store(out + <usize>i, i8x16.add(v128.load(d + <usize>i), v128.load(o + <usize>i)));
  }
  for (; i < inEnd; i++) store<u8>(out + <usize>i, load<u8>(d + <usize>i) + load<u8>(o + <usize>i));
  for (; i < n; i++) store<u8>(out + <usize>i, load<u8>(d + <usize>i));
}
