// The bsdiff match search (Percival's scan/extension loop) over a suffix
// array of the old bytes, producing (add, copy, seek) control triples, diff
// bytes (new - old, mostly zeros) and extra bytes (new bytes with no match).
//
// Memory: nothing of its own. The caller lays out old (n), SA (4n), new (m),
// diff (m) and extra (m) bytes, a 256 KiB table of where each two-byte
// prefix starts in SA, and a control buffer it drains between calls:
// 5n + 3m + 256 KiB + the control chunk.
//
// Resumable: diffBegin() sets the state, each diffRun() emits up to `cap`
// triples and returns how many; the run is over when diffDone() is true. At
// most one diff runs per instance (workers each own an instance).

// A match that fails to beat the current alignment by 8 bytes is searched
// again one byte later. Inside long runs (zeros, repeated blocks) that makes
// the classic loop quadratic: past this length we skip ahead instead.
@inline const SKIP_AFTER: i32 = 256;

// How many more matching bytes a new match must have than the current
// alignment gives before a triple is cut for it (bsdiff uses 8). Lower cuts
// more triples and leaves fewer nonzero diff bytes. Measured, deflated
// patch bytes for 4 / 6 / 8 / 12: esbuild 0.24.0 -> 0.24.2 (Go binary)
// 283,512 / 283,766 / 296,132 / 297,656; nginx pair's changed files (C)
// 662,344 / 642,226 / 639,406 / 638,610. 6 is the best compromise.
@inline const MATCH_GAIN: i32 = 6;

let old: usize = 0;
let oldSize: i32 = 0;
let sa: usize = 0;
let buckets: usize = 0; // 65537 i32: SA index where each two-byte prefix starts
let nu: usize = 0;
let newSize: i32 = 0;
let diffOut: usize = 0;
let extraOut: usize = 0;

let scan: i32 = 0;
let len: i32 = 0;
let pos: i32 = 0;
let lastScan: i32 = 0;
let lastPos: i32 = 0;
let lastOffset: i32 = 0;
let diffLen: i32 = 0;
let extraLen: i32 = 0;

/** Length of the common prefix of a[0..an) and b[0..bn), 8 bytes at a time. */
@inline function matchLen(a: usize, an: i32, b: usize, bn: i32): i32 {
  const n = an < bn ? an : bn;
  let i = 0;
  while (i + 8 <= n) {
    const x = load<u64>(a + <usize>i) ^ load<u64>(b + <usize>i);
    if (x != 0) return i + <i32>(ctz(x) >> 3);
    i += 8;
  }
  while (i < n && load<u8>(a + <usize>i) == load<u8>(b + <usize>i)) i++;
  return i;
}

@inline function saAt(i: i32): i32 {
  return load<i32>(sa + (<usize>i << 2));
}

/**
 * Longest match of new[at..newSize) among the old suffixes: binary search
 * over SA, skipping the prefix both bounds already share with the pattern.
 * Sets `pos`, returns the length.
 */
function search(at: i32): i32 {
  if (oldSize == 0) {
    pos = 0;
    return 0;
  }
  const p = nu + <usize>at;
  const pn = newSize - at;
  // Start inside the bucket of suffixes that share the first two bytes; if
  // there is none, any match is shorter than 2 and the whole range will do.
  const key = pn >= 2 ? (<i32>load<u8>(p) << 8) | <i32>load<u8>(p + 1) : <i32>load<u8>(p) << 8;
  const keyEnd = pn >= 2 ? key + 1 : key + 256;
  let lo = load<i32>(buckets + (<usize>key << 2));
  let hi = load<i32>(buckets + (<usize>keyEnd << 2)) - 1;
  if (hi < lo) {
    lo = 0;
    hi = oldSize - 1;
  }
  let s = saAt(lo);
  let loLen = matchLen(old + <usize>s, oldSize - s, p, pn);
  s = saAt(hi);
  let hiLen = matchLen(old + <usize>s, oldSize - s, p, pn);
  while (hi - lo > 1) {
    const mid = lo + ((hi - lo) >> 1);
    s = saAt(mid);
    const k = loLen < hiLen ? loLen : hiLen;
    const l = k + matchLen(old + <usize>(s + k), oldSize - s - k, p + <usize>k, pn - k);
    const below = l < pn && (s + l == oldSize || load<u8>(old + <usize>(s + l)) < load<u8>(p + <usize>l));
    if (below) {
      lo = mid;
      loLen = l;
    } else {
      hi = mid;
      hiLen = l;
    }
  }
  if (loLen > hiLen) {
    pos = saAt(lo);
    return loLen;
  }
  pos = saAt(hi);
  return hiLen;
}

/**
 * buckets[k] = first SA index whose suffix starts with the two bytes k
 * (a one-byte suffix c counts as the first of bucket c<<8); buckets[65536] = n.
 */
function fillBuckets(): void {
  memory.fill(buckets, 0, 65537 << 2);
  for (let i = 0; i < oldSize; i++) {
    const k = i + 1 < oldSize ? (<i32>load<u8>(old + <usize>i) << 8) | <i32>load<u8>(old + <usize>(i + 1)) : <i32>load<u8>(old + <usize>i) << 8;
    const c = buckets + (<usize>(k + 1) << 2);
    store<i32>(c, load<i32>(c) + 1);
  }
  for (let k = 1; k <= 65536; k++) {
    const c = buckets + (<usize>k << 2);
    store<i32>(c, load<i32>(c) + load<i32>(c - 4));
  }
}

@inline function sameAt(newIndex: i32, oldIndex: i32): bool {
  return oldIndex < oldSize && load<u8>(old + <usize>oldIndex) == load<u8>(nu + <usize>newIndex);
}

export function diffBegin(o: usize, on: i32, s: usize, b: usize, n: usize, nn: i32, d: usize, e: usize): void {
  old = o; oldSize = on; sa = s; buckets = b; nu = n; newSize = nn; diffOut = d; extraOut = e;
  fillBuckets();
  scan = 0; len = 0; pos = 0; lastScan = 0; lastPos = 0; lastOffset = 0;
  diffLen = 0; extraLen = 0;
}

export function diffDone(): bool {
  return scan >= newSize && len == 0;
}

export function diffBytes(): i32 {
  return diffLen;
}

export function extraBytes(): i32 {
  return extraLen;
}

/** Emit up to `cap` triples (12 bytes each, i32 LE) at `ctrl`; returns the count. */
export function diffRun(ctrl: usize, cap: i32): i32 {
  let count = 0;
  while (count < cap && !(scan >= newSize && len == 0)) {
    scan += len;
    len = 0;
    if (scan > newSize) scan = newSize;
    const found = findNext();
    if (found || scan == newSize) {
      emit(ctrl + <usize>(count * 12));
      count++;
      if (scan == newSize) len = 0;
    }
  }
  return count;
}

/**
 * Advance `scan` to the next place worth a new triple: a match that either
 * equals what the current alignment already gives (then it is skipped over)
 * or beats it by more than MATCH_GAIN bytes. Returns true when a triple should be cut.
 */
function findNext(): bool {
  let oldScore = 0;
  let scsc = scan;
  for (; scan < newSize; scan++) {
    len = search(scan);
    for (; scsc < scan + len; scsc++) if (sameAt(scsc, scsc + lastOffset)) oldScore++;
    if ((len == oldScore && len != 0) || len > oldScore + MATCH_GAIN) break;
    if (sameAt(scan, scan + lastOffset)) oldScore--;
    if (len > SKIP_AFTER) {
      const stop = scan + len - SKIP_AFTER;
      while (scan + 1 < stop) {
        scan++;
        if (sameAt(scan, scan + lastOffset)) oldScore--;
      }
    }
  }
  if (scan >= newSize) len = 0;
  return len != oldScore;
}

/** Cut the triple that ends where the match at (scan, pos) begins. */
function emit(ctrl: usize): void {
  // Extend forward from the last match while it is more right than wrong.
  let s = 0, best = 0, lenF = 0;
  for (let i = 0; lastScan + i < scan && lastPos + i < oldSize; ) {
    if (load<u8>(old + <usize>(lastPos + i)) == load<u8>(nu + <usize>(lastScan + i))) s++;
    i++;
    if (s * 2 - i > best * 2 - lenF) { best = s; lenF = i; }
  }
  // Extend the next match backward the same way.
  let lenB = 0;
  if (scan < newSize) {
    s = 0; best = 0;
    for (let i = 1; scan >= lastScan + i && pos >= i; i++) {
      if (load<u8>(old + <usize>(pos - i)) == load<u8>(nu + <usize>(scan - i))) s++;
      if (s * 2 - i > best * 2 - lenB) { best = s; lenB = i; }
    }
  }
  // Where the two extensions overlap, split at the best point.
  if (lastScan + lenF > scan - lenB) {
    const overlap = (lastScan + lenF) - (scan - lenB);
    s = 0; best = 0;
    let lenS = 0;
    for (let i = 0; i < overlap; i++) {
      if (load<u8>(nu + <usize>(lastScan + lenF - overlap + i)) == load<u8>(old + <usize>(lastPos + lenF - overlap + i))) s++;
      if (load<u8>(nu + <usize>(scan - lenB + i)) == load<u8>(old + <usize>(pos - lenB + i))) s--;
      if (s > best) { best = s; lenS = i + 1; }
    }
    lenF += lenS - overlap;
    lenB -= lenS;
  }
  subtractBytes(diffOut + <usize>diffLen, nu + <usize>lastScan, old + <usize>lastPos, lenF);
  const copy = (scan - lenB) - (lastScan + lenF);
  memory.copy(extraOut + <usize>extraLen, nu + <usize>(lastScan + lenF), <usize>copy);
  diffLen += lenF;
  extraLen += copy;
  store<i32>(ctrl, lenF);
  store<i32>(ctrl, copy, 4);
  store<i32>(ctrl, (pos - lenB) - (lastPos + lenF), 8);
  lastScan = scan - lenB;
  lastPos = pos - lenB;
  lastOffset = pos - scan;
}

/** out[i] = a[i] - b[i] (mod 256), 16 bytes at a time. */
function subtractBytes(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    v128.store(out + <usize>i, i8x16.sub(v128.load(a + <usize>i), v128.load(b + <usize>i)));
  }
  for (; i < n; i++) store<u8>(out + <usize>i, load<u8>(a + <usize>i) - load<u8>(b + <usize>i));
}
