// The bsdiff match search (Percival's scan/extension loop) over a suffix
// array of the old bytes, producing (add, copy, seek) control triples, diff
// bytes (new - old, mostly zeros) and extra bytes (new bytes with no match).
//
// Memory: nothing of its own. The caller lays out old (n), SA (4n), new (m),
// diff (m) and extra (m) bytes, a 256 KiB table of where each two-byte
// prefix starts in SA, n/8 bytes for every 64th suffix's first 8 bytes
// (the suffix sort's scratch, free by then), and a control buffer it
// drains between calls: 5.125n + 3m + 256 KiB + the control chunk.
//
// Resumable: diffBegin() sets the state, each diffRun() emits up to `cap`
// triples and returns how many; the run is over when diffDone() is true. At
// most one diff runs per instance (workers each own an instance).

// A match that does not pay for a new triple (cutPays) is searched again
// one byte later. Inside long runs (zeros, repeated blocks) that makes
// the classic loop quadratic: past this length we skip ahead instead.
@inline const SKIP_AFTER: i32 = 256;

// When to cut a triple: a cost model in eighths of a deflated patch byte
// (cutPays). A new triple costs TRIPLE_COST plus SEEK_BYTE_COST per byte of
// its seek's varint; staying on the current alignment over the new match's
// span costs BYTE_COST per mismatching byte plus RUN_COST per run of them
// (each run breaks the diff's zero run: a length pair in the diff section).
// A match must first beat the current alignment by MIN_GAIN bytes.
// Classic bsdiff (a fixed gain of 6 here, 8 in Percival's) weighs bytes
// only. Measured, deflated sections of esbuild 0.24.0 -> 0.24.2 and the
// nginx pair's patch: fixed gain 6: 253,413 / 372,695; this model with
// TRIPLE/RUN 24/8: 248,467 / 393,771 (many short triples in the nginx
// pair's text and structure diffs); 32/4: 247,223 / 371,232; 40/4:
// 259,467 / 371,600; 48/4: 258,923 / 372,028; MIN_GAIN 2 -> 4: 247,380 /
// 370,085. RUN_COST 16 (with 24): 264,191 on esbuild. Once a cut looks
// worth it, the stay cost is counted again over the match's span with a
// repeated diff byte (the same shift as the mismatch before) at
// REPEAT_COST (stayCostExact): 1 / 3 / 6 gave 246,876 / 247,160 / 247,314
// and 370,051 / 369,345 / 369,882; with 3, RUN_COST 0 / 2 / 8 gave
// 247,970 / 247,283 / 248,015 and 370,698 / 371,474 / 380,111 (the nginx
// figures move by ~1 KB for small changes either way: read them as noise
// below that).
@inline const MIN_GAIN: i32 = 4;
@inline const TRIPLE_COST: i32 = 32;
@inline const SEEK_BYTE_COST: i32 = 8;
@inline const BYTE_COST: i32 = 8;
@inline const RUN_COST: i32 = 4;
@inline const REPEAT_COST: i32 = 3;

// Candidates (pickCandidate): up to CANDIDATES SA neighbours each side of
// the match search() found, those sharing all its bytes, scored on the
// bytes within LOOK around the match; matches past PICK_MAX_LEN are taken
// as found (long ones are rarely ambiguous, and comparing them is slow).
// Choosing among them is most of the gain: without it the cost model
// alone gives 253,584 on esbuild; 32 candidates or LOOK 64/128 change
// less than 0.3%.
@inline const CANDIDATES: i32 = 8;
@inline const LOOK: i32 = 32;
@inline const PICK_MAX_LEN: i32 = 256;

let old: usize = 0;
let oldSize: i32 = 0;
let sa: usize = 0;
let buckets: usize = 0; // 65537 i32: SA index where each two-byte prefix starts
let samples: usize = 0; // u64 per SAMPLE-th SA entry: its suffix's first 8 bytes (sampleKeys)
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
let oldScore: i32 = 0;
let runs: i32 = 0;
// The SA index of the match search() found (pickCandidate starts there).
let foundAt: i32 = 0;
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
  if (hi - lo > SAMPLE) {
    // Narrow [lo, hi] by the sampled keys (one small sorted array, so few
    // cache misses): a sample whose 8 bytes are below the pattern's is a
    // suffix below it, one above is above it. The bisection below then ends
    // on the same two neighbours as from the whole bucket, so the result is
    // the same, found with fewer reads of SA and old.
    const pk = keyAt(p, pn);
    const first = (lo + SAMPLE - 1) / SAMPLE;
    const last = hi / SAMPLE;
    const below = firstSample(first, last + 1, pk, false); // first sample not below pk
    const above = firstSample(below, last + 1, pk, true); // first sample above pk
    if (below > first) lo = min((below - 1) * SAMPLE, hi - 1);
    if (above <= last) hi = max(above * SAMPLE, lo + 1);
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
    foundAt = lo;
    pos = saAt(lo);
    return loLen;
  }
  foundAt = hi;
  pos = saAt(hi);
  return hiLen;
}

// Every SAMPLE-th SA entry's first 8 bytes, in samples[] (n/8 bytes).
@inline const SAMPLE: i32 = 64;

/** The first 8 bytes at p (of n), big-endian, zeros past the end: a number that orders as the bytes do. */
@inline function keyAt(p: usize, n: i32): u64 {
  if (n >= 8) return bswap<u64>(load<u64>(p));
  let k: u64 = 0;
  for (let i = 0; i < 8; i++) k = (k << 8) | (i < n ? <u64>load<u8>(p + <usize>i) : 0);
  return k;
}

@inline function sampleAt(j: i32): u64 {
  return load<u64>(samples + (<usize>j << 3));
}

/**
 * The first sample index in [from, to) whose key is at least `pk`
 * (`strict`: above `pk`), else `to`. Keys never decrease along SA: a
 * suffix below another has a key at most the other's, zeros padding the
 * short ones.
 */
function firstSample(from: i32, to: i32, pk: u64, strict: bool): i32 {
  let a = from;
  let b = to;
  while (a < b) {
    const mid = a + ((b - a) >> 1);
    const k = sampleAt(mid);
    if (strict ? k <= pk : k < pk) a = mid + 1;
    else b = mid;
  }
  return a;
}

function fillSamples(): void {
  for (let j = 0; j * SAMPLE < oldSize; j++) {
    const s = saAt(j * SAMPLE);
    store<u64>(samples + (<usize>j << 3), keyAt(old + <usize>s, oldSize - s));
  }
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

export function diffBegin(o: usize, on: i32, s: usize, b: usize, n: usize, nn: i32, d: usize, e: usize, k: usize): void {
  old = o; oldSize = on; sa = s; buckets = b; nu = n; newSize = nn; diffOut = d; extraOut = e; samples = k;
  fillBuckets();
  fillSamples();
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
 * or whose mismatches under the current alignment cost more, once
 * compressed, than a new triple (see cutPays). Returns true when a triple
 * should be cut.
 *
 * The window [scan, scsc) holds the bytes already compared under the
 * current alignment: `oldScore` of them agree and `runs` runs of them
 * disagree (each run breaks the zero run of the diff bytes: a run length
 * pair in the diff section on top of its literal bytes).
 */
function findNext(): bool {
  oldScore = 0;
  runs = 0;
  let scsc = scan;
  for (; scan < newSize; scan++) {
    len = search(scan);
    for (; scsc < scan + len; scsc++) {
      if (sameAt(scsc, scsc + lastOffset)) oldScore++;
      else if (scsc == scan || sameAt(scsc - 1, scsc - 1 + lastOffset)) runs++;
    }
    if (len == oldScore && len != 0) break;
    if (len > oldScore + MIN_GAIN && cutPays()) break;
    dropFront(scsc);
    if (len > SKIP_AFTER) {
      const stop = scan + len - SKIP_AFTER;
      while (scan + 1 < stop) {
        scan++;
        dropFront(scsc);
      }
    }
    if (scsc <= scan) {
      scsc = scan + 1;
      oldScore = 0;
      runs = 0;
    }
  }
  if (scan >= newSize) len = 0;
  return len != oldScore;
}

/** Take `scan` out of the window [scan, scsc) before it moves on by one. */
@inline function dropFront(scsc: i32): void {
  if (scan >= scsc) return;
  if (sameAt(scan, scan + lastOffset)) {
    oldScore--;
  } else {
    runs--;
    // The next byte becomes the window's first: a mismatch there now starts a run.
    if (scan + 1 < scsc && !sameAt(scan + 1, scan + 1 + lastOffset)) runs++;
  }
}

/** Bytes of a LEB128 varint holding `v` (unsigned). */
@inline function varintBytes(v: u32): i32 {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/**
 * Whether the match at (scan, len) pays for a new triple (costs at the top
 * of the file): its cost, with the seek of the best equal-length candidate
 * (pickCandidate, which may move `pos`), against the cost of the current
 * alignment's mismatches over the window.
 */
function cutPays(): bool {
  const stayCost = BYTE_COST * (len - oldScore) + RUN_COST * runs;
  if (stayCost <= TRIPLE_COST + SEEK_BYTE_COST) return false;
  pickCandidate();
  const seek = (pos - scan) - lastOffset;
  return stayCostExact(scan + len) > TRIPLE_COST + SEEK_BYTE_COST * varintBytes(<u32>((seek << 1) ^ (seek >> 31)));
}

/**
 * The current alignment's cost over new[scan..end): a mismatch whose diff
 * byte repeats the last one (a pointer shifted by the same amount) costs
 * REPEAT_COST instead of BYTE_COST.
 */
function stayCostExact(end: i32): i32 {
  let cost = 0;
  let was = true;
  let last: u8 = 0;
  for (let i = scan; i < end; i++) {
    const o = i + lastOffset;
    const d: u8 = o < oldSize ? load<u8>(nu + <usize>i) - load<u8>(old + <usize>o) : 1;
    if (d != 0) {
      cost += (d == last ? REPEAT_COST : BYTE_COST) + (was ? RUN_COST : 0);
      last = d;
    }
    was = d == 0;
  }
  return cost;
}

/** Score of aligning new[scan..) with old[p..): agreeing bytes around and in the match, less the seek. */
function candidateScore(p: i32, end: i32): i32 {
  let score = 0;
  const from = max(max(scan - LOOK, lastScan), scan - p);
  const to = min(min(end + LOOK, newSize), oldSize - p + scan);
  const shift = p - scan;
  for (let i = from; i < to; i++) if (load<u8>(old + <usize>(i + shift)) == load<u8>(nu + <usize>i)) score += 8;
  const seek = shift - lastOffset;
  return score - SEEK_BYTE_COST * varintBytes(<u32>((seek << 1) ^ (seek >> 31)));
}

/**
 * Among the old suffixes that share all `len` bytes with new[scan..) (SA
 * neighbours of the one search() found), take the one that agrees best
 * around the match, less its seek: the true alignment of moved code or data
 * goes on agreeing past a mismatch, so it leaves fewer and more repetitive
 * nonzero diff bytes, and a small seek keeps the control column small.
 * Sets `pos`.
 */
function pickCandidate(): void {
  if (len > PICK_MAX_LEN || len == 0) return;
  const p = nu + <usize>scan;
  const pn = newSize - scan;
  const end = scan + len;
  let best = pos;
  let bestScore = candidateScore(pos, end);
  for (let dir = -1; dir <= 1; dir += 2) {
    for (let k = 1; k <= CANDIDATES; k++) {
      const i = foundAt + dir * k;
      if (i < 0 || i >= oldSize) break;
      const c = saAt(i);
      const l = matchLen(old + <usize>c, oldSize - c, p, pn);
      if (l < len) break;
      const score = candidateScore(c, end);
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
  }
  pos = best;
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
