// Suffix array by induced sorting (SA-IS, Nong, Zhang & Chan 2009).
//
// Memory: the n-byte text, SA = 4n bytes (caller's), plus scratch for one
// bit of type per position (n/8 bytes, then n/16, ... in the recursion) and
// two bucket tables of 4k bytes each (k = 256 at the top). A recursion level
// keeps its bucket tables in the part of its parent's SA that is free at that
// moment when they fit there, so the peak stays near 5.2n bytes.
//
// The text has an implicit sentinel: position n compares smaller than every
// byte, so the last position is always L-type and the empty suffix is left out
// (SA has exactly n entries).
//
// Layout within SA at a level that recurses (m = number of LMS positions):
//   SA[0..m)        sorted LMS positions, then the reduced problem's SA
//   SA[m..n-m)      free: the child's bucket tables go here when they fit
//   SA[n-m..n)      the reduced string (one name per LMS substring)

import { scratchAlloc, scratchMark, scratchRelease } from './scratch';

export const SAIS_NOMEM: i32 = -1;

// Character i of a level's text: T = u8 at the top level, i32 names below.
// Generic so that each level's loops are compiled for their own char size.
@inline function chr<T>(t: usize, i: i32): i32 {
  return <i32>load<T>(t + (<usize>i << alignof<T>()));
}
@inline function get(a: usize, i: i32): i32 {
  return load<i32>(a + (<usize>i << 2));
}
@inline function put(a: usize, i: i32, v: i32): void {
  store<i32>(a + (<usize>i << 2), v);
}
@inline function isS(types: usize, i: i32): bool {
  return <bool>((load<u8>(types + (<usize>i >>> 3)) >>> <u8>(i & 7)) & 1);
}
@inline function isLMS(types: usize, i: i32): bool {
  return i > 0 && isS(types, i) && !isS(types, i - 1);
}

/** Mark each position S (bit set) or L (bit clear). */
function classify<T>(t: usize, n: i32, types: usize): void {
  memory.fill(types, 0, <usize>((n + 7) >>> 3));
  let next = chr<T>(t, n - 1);
  let nextS = false; // position n-1 is L: it precedes the sentinel
  for (let i = n - 2; i >= 0; i--) {
    const c = chr<T>(t, i);
    const s = c < next || (c == next && nextS);
    if (s) {
      const p = types + (<usize>i >>> 3);
      store<u8>(p, <u32>load<u8>(p) | (<u32>1 << <u32>(i & 7)));
    }
    next = c;
    nextS = s;
  }
}

function countChars<T>(t: usize, n: i32, counts: usize, k: i32): void {
  memory.fill(counts, 0, <usize>k << 2);
  for (let i = 0; i < n; i++) {
    const c = chr<T>(t, i);
    put(counts, c, get(counts, c) + 1);
  }
}

/** Bucket heads (end = false) or one-past-tails (end = true) from counts. */
function bucketBounds(counts: usize, bkt: usize, k: i32, end: bool): void {
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const cnt = get(counts, c);
    sum += cnt;
    put(bkt, c, end ? sum : sum - cnt);
  }
}

/** Put suffix p at the tail end of its bucket (the bucket's pointer moves down). */
@inline function pushToTail<T>(t: usize, sa: usize, bkt: usize, p: i32): void {
  const c = chr<T>(t, p);
  const b = get(bkt, c) - 1;
  put(bkt, c, b);
  put(sa, b, p);
}

/** Place L-type suffixes left to right, induced from what SA holds. */
function induceL<T>(t: usize, sa: usize, n: i32, types: usize, counts: usize, bkt: usize, k: i32): void {
  bucketBounds(counts, bkt, k, false);
  // The sentinel's predecessor, n-1, comes first in its bucket.
  let c = chr<T>(t, n - 1);
  let b = get(bkt, c);
  put(sa, b, n - 1);
  put(bkt, c, b + 1);
  for (let i = 0; i < n; i++) {
    const p = get(sa, i);
    if (p <= 0) continue;
    const j = p - 1;
    if (isS(types, j)) continue;
    c = chr<T>(t, j);
    b = get(bkt, c);
    put(sa, b, j);
    put(bkt, c, b + 1);
  }
}

/** Place S-type suffixes right to left, induced from the L-type ones. */
function induceS<T>(t: usize, sa: usize, n: i32, types: usize, counts: usize, bkt: usize, k: i32): void {
  bucketBounds(counts, bkt, k, true);
  for (let i = n - 1; i >= 0; i--) {
    const p = get(sa, i);
    if (p <= 0) continue;
    const j = p - 1;
    if (isS(types, j)) pushToTail<T>(t, sa, bkt, j);
  }
}

/** Are the LMS substrings starting at a and b equal (same chars and types)? */
function sameLMS<T>(t: usize, n: i32, types: usize, a: i32, b: i32): bool {
  for (let d = 0; ; d++) {
    const x = a + d;
    const y = b + d;
    if (x == n || y == n) return false; // only one can reach the sentinel
    if (chr<T>(t, x) != chr<T>(t, y) || isS(types, x) != isS(types, y)) return false;
    if (d > 0 && isLMS(types, x)) return true; // types agree, so y is LMS too
  }
  return false; // not reached: the sentinel ends every run
}

/** Sort the LMS substrings and give each a name; returns the number of names. */
function nameLMS<T>(t: usize, sa: usize, n: i32, types: usize, m: i32): i32 {
  for (let i = m; i < n; i++) put(sa, i, -1);
  let names = 0;
  let prev = -1;
  for (let i = 0; i < m; i++) {
    const p = get(sa, i);
    if (prev < 0 || !sameLMS<T>(t, n, types, p, prev)) {
      names++;
      prev = p;
    }
    // LMS positions are at least 2 apart, so p >> 1 is a unique slot.
    put(sa, m + (p >> 1), names - 1);
  }
  // Gather the names, in text order, at the end of SA.
  let j = n - 1;
  for (let i = n - 1; i >= m; i--) {
    const v = get(sa, i);
    if (v >= 0) put(sa, j--, v);
  }
  return names;
}

/**
 * Suffix array of t[0..n) (chars of `cs` bytes, values < k) into sa[0..n).
 * `ws`/`wsBytes` is memory the caller lends for the bucket tables.
 * Returns 0, or SAIS_NOMEM when scratch memory could not grow.
 */
export function sais<T>(t: usize, sa: usize, n: i32, k: i32, ws: usize, wsBytes: usize): i32 {
  if (n == 1) {
    put(sa, 0, 0);
    return 0;
  }
  const mark = scratchMark();
  const types = scratchAlloc(<usize>((n + 7) >>> 3));
  let counts = ws;
  if (<usize>k * 8 > wsBytes) counts = scratchAlloc(<usize>k << 3);
  if (types == 0 || counts == 0) {
    scratchRelease(mark);
    return SAIS_NOMEM;
  }
  const bkt = counts + (<usize>k << 2);
  classify<T>(t, n, types);
  countChars<T>(t, n, counts, k);

  // Stage 1: sort the LMS substrings by one round of induced sorting.
  memory.fill(sa, 0xff, <usize>n << 2); // every slot -1
  bucketBounds(counts, bkt, k, true);
  for (let i = 1; i < n; i++) if (isLMS(types, i)) pushToTail<T>(t, sa, bkt, i);
  induceL<T>(t, sa, n, types, counts, bkt, k);
  induceS<T>(t, sa, n, types, counts, bkt, k);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const p = get(sa, i);
    if (isLMS(types, p)) put(sa, m++, p);
  }

  // Stage 2: name them; recurse while names are not unique.
  const names = nameLMS<T>(t, sa, n, types, m);
  const reduced = sa + (<usize>(n - m) << 2);
  if (names < m) {
    const free = sa + (<usize>m << 2);
    const r = sais<i32>(reduced, sa, m, names, free, <usize>(n - 2 * m) << 2);
    if (r < 0) {
      scratchRelease(mark);
      return r;
    }
  } else {
    for (let i = 0; i < m; i++) put(sa, get(reduced, i), i);
  }

  // Stage 3: reduced SA -> sorted LMS positions -> full SA by induction.
  let j = 0;
  for (let i = 1; i < n; i++) if (isLMS(types, i)) put(reduced, j++, i);
  for (let i = 0; i < m; i++) put(sa, i, get(reduced, get(sa, i)));
  for (let i = m; i < n; i++) put(sa, i, -1);
  bucketBounds(counts, bkt, k, true);
  for (let i = m - 1; i >= 0; i--) {
    const p = get(sa, i);
    put(sa, i, -1); // its slot may be its own bucket position: clear first
    pushToTail<T>(t, sa, bkt, p);
  }
  induceL<T>(t, sa, n, types, counts, bkt, k);
  induceS<T>(t, sa, n, types, counts, bkt, k);
  scratchRelease(mark);
  return 0;
}
