// Suffix array by induced sorting (SA-IS, Nong, Zhang & Chan 2009).
//
// Memory: the n-byte text, SA = 4n bytes (caller's), plus scratch: one bit
// of type per position at each level (n/8 bytes at the top, then 1/8 of
// each reduced string's length), the top level's two bucket tables (2 KiB),
// and a lower level's table(s) of 4 bytes per name, which go in the part of
// its parent's SA that is free at that moment and take scratch only when
// they do not fit there. Measured: 5.16n on random data, text and layer
// tars (the reduced problems are small or the tables fit); 6.2n at worst
// on inputs built to repeat every LMS substring (a random half written
// twice), where each level's reduced string repeats too.
//
// Speed: the induce and naming passes are bound by cache (and TLB) misses on
// the text at random places. On levels of 2^18 entries and up they walk SA
// in blocks of 256 and load each block's chars first in a loop of
// independent loads (touchBlock), so the misses overlap; this costs no memory.
//
// The text has an implicit sentinel: position n compares smaller than every
// byte, so the last position is always L-type and the empty suffix is left out
// (SA has exactly n entries).
//
// Layout within SA at a level that recurses (m = number of LMS positions,
// m' = length of the reduced string, sais() has the details):
//   SA[0..m')       the reduced problem's SA
//   SA[m'..)        free: the child's bucket tables go here when they fit
//   ...             the reduced string (m' names)
//   SA[n-m..n)      every LMS substring's name, in text order

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

/**
 * Mark each position S (bit set) or L (bit clear), a byte of bits at a time.
 * The array is whole 32-bit words (bits past n clear): see lmsWord.
 */
function classify<T>(t: usize, n: i32, types: usize): void {
  memory.fill(types, 0, <usize>((n + 31) >>> 5) << 2);
  let next = chr<T>(t, n - 1);
  let nextS = false; // position n-1 is L: it precedes the sentinel
  let acc: u32 = 0;
  for (let i = n - 2; i >= 0; i--) {
    const c = chr<T>(t, i);
    const s = c < next || (c == next && nextS);
    acc |= <u32>s << <u32>(i & 7);
    if ((i & 7) == 0) {
      store<u8>(types + (<usize>i >>> 3), acc);
      acc = 0;
    }
    next = c;
    nextS = s;
  }
}

/**
 * The LMS positions among 32w..32w+31 as bits: S-type with an L-type
 * before it. `carry` is the type bit of position 32w-1 (1 for w = 0:
 * position 0 is never LMS). Loops take the set bits with ctz.
 */
@inline function lmsWord(types: usize, w: i32, carry: u32): u32 {
  const s = load<u32>(types + (<usize>w << 2));
  return s & ~((s << 1) | carry);
}
@inline function carryOf(types: usize, w: i32): u32 {
  return load<u32>(types + (<usize>w << 2)) >>> 31;
}

function countChars<T>(t: usize, n: i32, counts: usize, k: i32): void {
  memory.fill(counts, 0, <usize>k << 2);
  for (let i = 0; i < n; i++) {
    const c = chr<T>(t, i);
    put(counts, c, get(counts, c) + 1);
  }
}

/**
 * Bucket heads (end = false) or one-past-tails (end = true) into bkt. With
 * counts == 0 (a recursion level short of memory keeps one table only) the
 * characters are counted again, into bkt itself: one sequential pass.
 */
function bucketBounds<T>(t: usize, n: i32, counts: usize, bkt: usize, k: i32, end: bool): void {
  let src = counts;
  if (src == 0) {
    countChars<T>(t, n, bkt, k);
    src = bkt;
  }
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const cnt = get(src, c);
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

// The two induction passes carry each suffix's type in the sign of its SA
// entry instead of reading the type bits (one random access less per
// suffix): an entry is stored non-negative when the suffix before it is to
// be placed by the pass that will read the entry, and ~p (negative) when not.
// Each pass flips the entries it reads and leaves alone, so that after the
// second pass every entry is non-negative again. Free slots hold 0, which
// reads like suffix 0: no predecessor, nothing to induce. The bucket pointer
// of the current character stays in a local until the character changes
// (runs of one character are common in real data).

// Prefetch by touching: each pass walks SA in blocks of PF entries, first
// with a loop that only loads the char before each entry's suffix (and its
// bucket pointer), loads with no dependency between them, which the CPU runs
// in parallel; the real loop then finds them in cache. The real loop still
// reads every entry itself: a block's own free slots can be filled while it
// runs. The loaded values are summed into `touched` so no optimizer drops them.
const PF: i32 = 256;
// Below this many entries a level's arrays sit in cache and touching only costs.
const TOUCH_MIN: i32 = 1 << 18;
let touched: i32 = 0;

@inline function touchBlock<T>(t: usize, sa: usize, bkt: usize, lo: i32, hi: i32): void {
  let acc = 0;
  for (let i = lo; i < hi; i++) {
    const j = get(sa, i);
    const c = chr<T>(t, select<i32>(j - 1, 0, j > 0));
    acc += sizeof<T>() == 1 ? c : get(bkt, c);
  }
  touched += acc;
}

/** Place L-type suffixes left to right, induced from what SA holds. */
function induceL<T>(t: usize, sa: usize, n: i32, counts: usize, bkt: usize, k: i32): void {
  bucketBounds<T>(t, n, counts, bkt, k, false);
  // The sentinel's predecessor, n-1, comes first in its bucket.
  let c1 = chr<T>(t, n - 1);
  let b = get(bkt, c1);
  put(sa, b++, n > 1 && chr<T>(t, n - 2) < c1 ? ~(n - 1) : n - 1);
  const step = n >= TOUCH_MIN ? PF : n;
  for (let i0 = 0; i0 < n; i0 += step) {
    const i1 = min(i0 + step, n);
    if (step < n) touchBlock<T>(t, sa, bkt, i0, i1);
    for (let i = i0; i < i1; i++) {
      let j = get(sa, i);
      put(sa, i, ~j);
      if (j > 0) {
        j--;
        const c0 = chr<T>(t, j);
        if (c0 != c1) {
          put(bkt, c1, b);
          c1 = c0;
          b = get(bkt, c1);
        }
        // j is L-type: the suffix before it is S-type (left to the S pass) when its char is smaller.
        put(sa, b++, j > 0 && chr<T>(t, j - 1) < c1 ? ~j : j);
      }
    }
  }
}

/** Place S-type suffixes right to left, induced from the L-type ones. */
function induceS<T>(t: usize, sa: usize, n: i32, counts: usize, bkt: usize, k: i32, final: bool = true): void {
  bucketBounds<T>(t, n, counts, bkt, k, true);
  let c1 = 0;
  let b = get(bkt, 0);
  const step = n >= TOUCH_MIN ? PF : n;
  for (let i1 = n; i1 > 0; i1 -= step) {
    const i0 = max(i1 - step, 0);
    if (step < n) touchBlock<T>(t, sa, bkt, i0, i1);
    for (let i = i1 - 1; i >= i0; i--) {
      let j = get(sa, i);
      if (j > 0) {
        j--;
        const c0 = chr<T>(t, j);
        if (c0 != c1) {
          put(bkt, c1, b);
          c1 = c0;
          b = get(bkt, c1);
        }
        // j is S-type: the suffix before it is L-type (already placed) when its char is larger.
        put(sa, --b, j == 0 || chr<T>(t, j - 1) > c1 ? ~j : j);
      } else if (final) {
        put(sa, i, ~j);
      }
    }
  }
  put(bkt, c1, b);
}

/** Are the `len` chars at a and b equal? (u8 text: 8 bytes at a time) */
function sameChars<T>(t: usize, a: i32, b: i32, len: i32): bool {
  let d = 0;
  if (sizeof<T>() == 1) {
    for (; d + 8 <= len; d += 8) {
      if (load<u64>(t + <usize>(a + d)) != load<u64>(t + <usize>(b + d))) return false;
    }
  }
  for (; d < len; d++) if (chr<T>(t, a + d) != chr<T>(t, b + d)) return false;
  return true;
}

/**
 * Name the sorted LMS substrings in sa[0..m): a substring's name is g + 1,
 * where g is the rank of the first substring of its group of equal ones;
 * -(g + 1) marks a substring that no other equals (its suffix's rank among
 * the LMS suffixes is g already). The names go to sa[n-m..n) in text order.
 * Returns the number of groups.
 *
 * Each substring's length (from its LMS position to the next one, both
 * included) is noted first in the slot its name will take: two LMS
 * substrings of equal length and equal chars have equal types too, so a
 * comparison is a length check and a run of plain char compares. The last
 * one reaches the sentinel and equals no other (length 0 says so).
 */
function nameLMS<T>(t: usize, sa: usize, n: i32, types: usize, m: i32): i32 {
  // Slots m + (p >> 1) for p < n: the rest of sa[m..n) is neither cleared nor read.
  const top = min(n - 1, m + (n >> 1));
  memory.fill(sa + (<usize>m << 2), 0, <usize>(top + 1 - m) << 2);
  const words = (n + 31) >>> 5;
  let carry: u32 = 1;
  let last = -1;
  for (let w = 0; w < words; w++) {
    let lms = lmsWord(types, w, carry);
    carry = carryOf(types, w);
    while (lms != 0) {
      const p = (w << 5) + <i32>ctz(lms);
      lms &= lms - 1;
      if (last >= 0) put(sa, m + (last >> 1), p - last + 1);
      last = p;
    }
  }
  let groups = 0;
  let g = 0;
  let size = 0;
  let prev = -1;
  let prevLen = 0;
  for (let i = 0; i < m; i++) {
    if ((i & (PF - 1)) == 0 && n >= TOUCH_MIN) {
      // Touch this block's length slots and chars (see touchBlock).
      let acc = 0;
      const end = min(i + PF, m);
      for (let q = i; q < end; q++) {
        const p = get(sa, q);
        acc += get(sa, m + (p >> 1)) + chr<T>(t, p);
      }
      touched += acc;
    }
    const p = get(sa, i);
    // LMS positions are at least 2 apart, so p >> 1 is a unique slot.
    const len = get(sa, m + (p >> 1));
    if (prev < 0 || len == 0 || len != prevLen || !sameChars<T>(t, p, prev, len)) {
      if (size == 1) put(sa, m + (prev >> 1), -(g + 1));
      groups++;
      g = i;
      size = 0;
    }
    put(sa, m + (p >> 1), g + 1);
    prev = p;
    prevLen = len;
    size++;
  }
  if (size == 1) put(sa, m + (prev >> 1), -(g + 1));
  // Gather the names, in text order, at the end of SA.
  let j = n - 1;
  for (let i = top; i >= m; i--) {
    const v = get(sa, i);
    if (v != 0) put(sa, j--, v);
  }
  return groups;
}

/** Stage 1's start: every slot free, each LMS suffix at the tail of its bucket, in text order. */
function placeLMS<T>(t: usize, sa: usize, n: i32, counts: usize, bkt: usize, k: i32, types: usize): void {
  memory.fill(sa, 0, <usize>n << 2);
  bucketBounds<T>(t, n, counts, bkt, k, true);
  const words = (n + 31) >>> 5;
  let carry: u32 = 1;
  for (let w = 0; w < words; w++) {
    let lms = lmsWord(types, w, carry);
    carry = carryOf(types, w);
    while (lms != 0) {
      pushToTail<T>(t, sa, bkt, (w << 5) + <i32>ctz(lms));
      lms &= lms - 1;
    }
  }
}

/**
 * Stage 1's end: the S pass stored each LMS suffix as ~p and left it so (and
 * bkt[c] ends at the start of bucket c's S part): gather them, in sorted
 * order, into sa[0..m). Returns m.
 */
function gatherLMS(sa: usize, n: i32, counts: usize, bkt: usize, k: i32, types: usize): i32 {
  let m = 0;
  if (counts != 0) {
    let end = 0;
    for (let c = 0; c < k; c++) {
      end += get(counts, c);
      for (let i = get(bkt, c); i < end; i++) {
        const v = get(sa, i);
        if (v < -1) put(sa, m++, ~v); // ~0 = -1 is suffix 0, never LMS
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = get(sa, i);
      const p = v < 0 ? ~v : v;
      if (isLMS(types, p)) put(sa, m++, p);
    }
  }
  return m;
}

/**
 * Stage 3's start: names[j] = -(rank + 1) of the j-th LMS position in text
 * order. The LMS positions go to sa[0..m) by rank, then each to the tail of
 * its bucket (every other slot free).
 */
function placeRanked<T>(t: usize, sa: usize, n: i32, m: i32, names: usize, counts: usize, bkt: usize, k: i32, types: usize): void {
  const words = (n + 31) >>> 5;
  let j = 0;
  let carry: u32 = 1;
  for (let w = 0; w < words; w++) {
    let lms = lmsWord(types, w, carry);
    carry = carryOf(types, w);
    while (lms != 0) {
      put(sa, -get(names, j++) - 1, (w << 5) + <i32>ctz(lms));
      lms &= lms - 1;
    }
  }
  memory.fill(sa + (<usize>m << 2), 0, <usize>(n - m) << 2);
  bucketBounds<T>(t, n, counts, bkt, k, true);
  for (let i = m - 1; i >= 0; i--) {
    const p = get(sa, i);
    put(sa, i, 0); // its slot may be its own bucket position: clear first
    pushToTail<T>(t, sa, bkt, p);
  }
}

/** Name (group rank) of a name entry, whatever its sign. */
@inline function groupOf(v: i32): i32 {
  return (v > 0 ? v : -v) - 1;
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
  const types = scratchAlloc(<usize>((n + 31) >>> 5) << 2);
  // Two tables (counts and moving bucket pointers) when the lent space holds
  // them or they are small; otherwise one, and the counts are taken again
  // from the text for each pass (a sequential read, cheaper than the memory).
  let counts: usize = 0;
  let bkt: usize = 0;
  const table = <usize>k << 2;
  if ((table << 1) <= wsBytes) {
    counts = ws;
    bkt = ws + table;
  } else if (table <= wsBytes) {
    bkt = ws;
  } else if (k <= 256) {
    counts = scratchAlloc(table << 1);
    bkt = counts + table;
  } else {
    bkt = scratchAlloc(table);
  }
  if (types == 0 || bkt == 0) {
    scratchRelease(mark);
    return SAIS_NOMEM;
  }
  classify<T>(t, n, types);
  if (counts != 0) countChars<T>(t, n, counts, k);

  // Stage 1: sort the LMS substrings by one round of induced sorting.
  placeLMS<T>(t, sa, n, counts, bkt, k, types);
  induceL<T>(t, sa, n, counts, bkt, k);
  induceS<T>(t, sa, n, counts, bkt, k, false);
  const m = gatherLMS(sa, n, counts, bkt, k, types);

  // Stage 2: name them, then find each LMS suffix's rank among the LMS
  // suffixes. A suffix whose LMS substring is unique has its rank already;
  // only the others need the recursion, and the string it sorts keeps just
  // them and, after each run of them, the unique name that ends the run (no
  // comparison between two of them can look past it). On incompressible data
  // nearly every substring is unique and the recursion all but vanishes.
  // Each entry of the names ends up as -(rank + 1).
  const groups = nameLMS<T>(t, sa, n, types, m);
  const names = sa + (<usize>(n - m) << 2);
  if (groups < m) {
    const map = sa; // sa[0..m): group rank -> name in the reduced string
    let mk = 0; // length of the reduced string
    let run = false;
    for (let i = 0; i < m; i++) {
      const v = get(names, i);
      if (v > 0 || run) mk++;
      run = v > 0;
    }
    const fits = mk <= n - 2 * m && 2 * mk <= n - m;
    memory.fill(map, 0, <usize>m << 2);
    run = false;
    for (let i = 0; i < m; i++) {
      const v = get(names, i);
      if (!fits || v > 0 || run) put(map, groupOf(v), 1);
      run = v > 0;
    }
    let k2 = 0;
    for (let g = 0; g < m; g++) if (get(map, g) != 0) put(map, g, k2++);
    if (fits) {
      const reduced = sa + (<usize>(n - m - mk) << 2);
      let w = 0;
      run = false;
      for (let i = 0; i < m; i++) {
        const v = get(names, i);
        if (v > 0 || run) put(reduced, w++, get(map, groupOf(v)));
        run = v > 0;
      }
      const r = sais<i32>(reduced, sa, mk, k2, sa + (<usize>mk << 2), <usize>(n - m - 2 * mk) << 2);
      if (r < 0) {
        scratchRelease(mark);
        return r;
      }
      // Where each reduced position came from, then ranks in sorted order.
      w = 0;
      run = false;
      for (let i = 0; i < m; i++) {
        const v = get(names, i);
        if (v > 0 || run) put(reduced, w++, i);
        run = v > 0;
      }
      let prevG = -1;
      let rank = 0;
      for (let r = 0; r < mk; r++) {
        if ((r & (PF - 1)) == 0 && n >= TOUCH_MIN) {
          // Touch where the next block's entries came from, then their names.
          const end = min(r + PF, mk);
          let acc = 0;
          for (let q = r; q < end; q++) acc += get(reduced, get(sa, q));
          for (let q = r; q < end; q++) acc += get(names, get(reduced, get(sa, q)));
          touched += acc;
        }
        const i = get(reduced, get(sa, r));
        const v = get(names, i);
        if (v <= 0) continue; // a run's end: unique, ranked already
        const g = v - 1;
        rank = g == prevG ? rank + 1 : g;
        prevG = g;
        put(names, i, -(rank + 1));
      }
    } else {
      // Too little room to set the unique ones aside: recurse on all of them.
      for (let i = 0; i < m; i++) put(names, i, get(map, groupOf(get(names, i))));
      const r = sais<i32>(names, sa, m, k2, sa + (<usize>m << 2), <usize>(n - 2 * m) << 2);
      if (r < 0) {
        scratchRelease(mark);
        return r;
      }
      for (let r = 0; r < m; r++) put(names, get(sa, r), -(r + 1));
    }
  }

  // Stage 3: LMS positions by rank -> full SA by induction.
  placeRanked<T>(t, sa, n, m, names, counts, bkt, k, types);
  induceL<T>(t, sa, n, counts, bkt, k);
  induceS<T>(t, sa, n, counts, bkt, k);
  scratchRelease(mark);
  return 0;
}
