// A re-compressor that reproduces Go's compress/flate bit for bit (checked
// against Go 1.19, which Debian bookworm's dockerd 20.10 is built with), so
// that a stream Go wrote is rebuilt from its text and a few parameters
// (level, gzip header) instead of from its exact form.
//
// What Go does, as modelled here (our own structure; only the behaviour is
// Go's):
//   level 0    stored blocks of 65,535 bytes
//   level -2   Huffman-only blocks of 65,535 bytes (dynamic code over the
//              block's byte histogram, stored when that is not 1/16 smaller)
//   levels 2-9 hash chains over 4-byte hashes (17 bits), a 64 KiB window that
//              slides by 32 KiB once the lookahead drops under 262 bytes;
//              levels 2-3 take the first match at once (and skip hashing long
//              ones), 4-9 match lazily; a block every 16,384 tokens, written
//              as the smallest of fixed, dynamic and (while its bytes are
//              still in the window) stored
//   level 1    Go's separate "deflateFast": the text in pieces of 65,535
//              bytes, one hash probe per position (14-bit table of the last
//              position per hash), probing sparser the longer nothing
//              matches; a piece is one block: Huffman-only when matches
//              saved under 1/16 of the tokens, else dynamic (or stored);
//              a last piece under 128 bytes is stored (<= 16) or Huffman-only
// Every stream ends with an empty final stored block, as Go's Close writes.
// Write sizes do not matter (checked against Go: 1 KiB, 4 KiB, 32 KiB and
// one write give the same bytes); Flush calls do, and are not modelled.
//
// Huffman codes are Go's: lengths from its boundary package-merge (15 bits
// for literal/length and distance codes, 7 for the code-length code; ties in
// frequency broken by symbol), canonical codes; the code-length sequence
// uses Go's run choices (16 in runs of up to 6, 17/18 for zeros).
//
// Output may be compared instead of written (verify mode): the first byte
// that differs stops the encoder, which reports where (goFirstDiff).
//
// Memory: ~4 KiB of static tables and state; per call 896 KiB of scratch
// (hash heads 512 KiB, chain links 128 KiB, tokens 256 KiB) above `scratch`,
// besides the caller's text and output regions. No input traps: every write
// is checked against the output capacity (E_OUT_FULL).

import { E_OUT_FULL, LENS, LIT_CODES, DIST_CODES, CL_CODES, CL_LENS, CL_ORDER, buildEncode } from './deflate';
import { crc32 } from './gzip';
import { scratchReset, scratchAlloc } from './scratch';

export const E_LEVEL: i32 = -15;     // a level Go does not have
export const E_MISMATCH: i32 = -16;  // (verify) the output differs from the expected bytes
export const E_NO_MEMORY: i32 = -17; // scratch could not grow

export const WSIZE: i32 = 32768;
const WMASK: i32 = WSIZE - 1;
const HASH_BITS: i32 = 17;
export const MIN_LOOKAHEAD: i32 = 4 + 258;
export const BLOCK_TOKENS: i32 = 16384;
export const FAST_BLOCK: i32 = 65535;     // level 1 encodes the text in pieces this long
export const STORE_MAX: i32 = 65535;
const NONE: i32 = 0x7fffffff;
export const MATCH: u32 = 0x80000000;

// Per level: good (unused by Go's search: it always starts from length 3),
// lazy, nice, chain, fastSkip (0 = lazy matching).
export const LAZY: usize = memory.data<i32>([0, 0, 0, 0, 4, 16, 16, 32, 128, 258]);
const NICE: usize = memory.data<i32>([0, 0, 16, 32, 16, 32, 128, 128, 258, 258]);
const CHAIN: usize = memory.data<i32>([0, 0, 8, 32, 16, 32, 128, 256, 1024, 4096]);
export const SKIP: usize = memory.data<i32>([0, 0, 5, 6, 0, 0, 0, 0, 0, 0]);

// Symbol tables, filled once: length code (0..28) per length-3 (0..255);
// distance code per (dist-1) < 256 and per (dist-1) >> 7 < 256.
const LCODE: usize = memory.data(256);
const DCODE_LO: usize = memory.data(256);
const DCODE_HI: usize = memory.data(256);
const LBASE: usize = memory.data<u16>([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56,
  64, 80, 96, 112, 128, 160, 192, 224, 255]);
const LBITS: usize = memory.data<u8>([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
const DBASE: usize = memory.data<u16>([0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768,
  1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576]);
const DBITS: usize = memory.data<u8>([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);
let tablesReady = false;

// Block statistics and codes.
const LIT_FREQ: usize = memory.data(4 * 286);
const DIST_FREQ: usize = memory.data(4 * 30);
const CL_FREQ: usize = memory.data(4 * 19);
const LIT_LENS: usize = memory.data(288);   // Go's lengths for this block (0 = unused)
const DIST_LENS: usize = memory.data(32);
const RUNS: usize = memory.data(2 * 320);   // code-length sequence: symbol | extra << 8
let runCount: i32 = 0;
// Huffman construction work space.
const NODES: usize = memory.data(8 * 290);  // sorted (freq << 16 | symbol) keys
const FREQS: usize = memory.data(4 * 292);  // the sorted frequencies, then a sentinel
const LAST: usize = memory.data(4 * 17);
const NEXT_CHAR: usize = memory.data(4 * 17);
const NEXT_PAIR: usize = memory.data(4 * 17);
const NEEDED: usize = memory.data(4 * 17);
const LEAVES: usize = memory.data(4 * 17 * 17);
const PER_LEN: usize = memory.data(4 * 17);

// Output.
let outBase: usize = 0;
let outPos: usize = 0;
let outEnd: usize = 0;
let verify = false;
let failed: i32 = 0;
let firstDiff: i64 = -1;
let acc: u64 = 0;
let accBits: u32 = 0;

// Text and matcher state.
let text: usize = 0;
let textLen: i32 = 0;
let heads: usize = 0;   // 1 << HASH_BITS u32: position + 1 of the newest string per hash, 0 = none
let links: usize = 0;   // WSIZE u32: position + 1 of the previous string with the same hash
let tokens: usize = 0;  // BLOCK_TOKENS u32
let tokenCount: i32 = 0;
let lazy: i32 = 0;
let nice: i32 = 0;
let chain: i32 = 0;
let skip: i32 = 0;

function initTables(): void {
  for (let c = 0; c < 29; c++) {
    const b = <i32>load<u16>(LBASE + (<usize>c << 1));
    const end = c == 28 ? 256 : <i32>load<u16>(LBASE + (<usize>(c + 1) << 1));
    for (let l = b; l < end && l < 256; l++) store<u8>(LCODE + <usize>l, <u8>c);
  }
  store<u8>(LCODE + 255, 28); // length 258
  for (let c = 0; c < 30; c++) {
    const b = <i32>load<u16>(DBASE + (<usize>c << 1));
    const end = c == 29 ? 32768 : <i32>load<u16>(DBASE + (<usize>(c + 1) << 1));
    for (let d = b; d < end; d++) {
      if (d < 256) store<u8>(DCODE_LO + <usize>d, <u8>c);
      else if ((d & 127) == 0) store<u8>(DCODE_HI + <usize>(d >> 7), <u8>c);
    }
  }
  tablesReady = true;
}

@inline function distCode(x: u32): u32 {
  return x < 256 ? <u32>load<u8>(DCODE_LO + <usize>x) : <u32>load<u8>(DCODE_HI + <usize>(x >> 7));
}

// ---- bit output ----

@inline export function putByte(b: u32): void {
  if (failed != 0) return;
  if (outPos >= outEnd) { failed = E_OUT_FULL; return; }
  if (verify) {
    if (<u32>load<u8>(outPos) != (b & 255)) {
      failed = E_MISMATCH;
      firstDiff = <i64>(outPos - outBase);
      return;
    }
  } else {
    store<u8>(outPos, <u8>b);
  }
  outPos++;
}

@inline export function putBits(v: u32, n: u32): void {
  acc |= <u64>v << accBits;
  accBits += n;
  if (accBits >= 32) {
    const w = <u32>acc;
    putByte(w); putByte(w >> 8); putByte(w >> 16); putByte(w >> 24);
    acc >>= 32;
    accBits -= 32;
  }
}

export function alignOut(): void {
  while (accBits > 0) {
    putByte(<u32>acc);
    acc >>= 8;
    accBits = accBits > 8 ? accBits - 8 : 0;
  }
  acc = 0;
}

export function storedBlock(from: i32, len: i32, last: bool): void {
  putBits(last ? 1 : 0, 3);
  alignOut();
  putBits(<u32>len | ((<u32>len ^ 0xffff) << 16), 32);
  for (let i = 0; i < len; i++) {
    putByte(<u32>load<u8>(text + <usize>(from + i)));
    if (failed != 0) return;
  }
}

// ---- Go's Huffman code lengths ----

/**
 * Code lengths for the `m` frequencies at `freq` (i32) into `lens` (u8), at
 * most `maxBits` long, as Go assigns them: unused symbols 0; one or two used
 * symbols length 1; otherwise a boundary package-merge over the used
 * symbols sorted by (frequency, symbol), the most frequent taking the
 * shortest lengths.
 */
function goLengths(freq: usize, m: i32, maxBits: i32, lens: usize): void {
  let n = 0;
  for (let s = 0; s < m; s++) {
    const f = load<i32>(freq + (<usize>s << 2));
    store<u8>(lens + <usize>s, 0);
    if (f != 0) store<u64>(NODES + (<usize>(n++) << 3), (<u64>f << 16) | <u64>s);
  }
  if (n <= 2) {
    for (let i = 0; i < n; i++) store<u8>(lens + <usize>(load<u64>(NODES + (<usize>i << 3)) & 0xffff), 1);
    return;
  }
  // Insertion sort: at most 286 keys, all distinct.
  for (let i = 1; i < n; i++) {
    const k = load<u64>(NODES + (<usize>i << 3));
    let j = i - 1;
    while (j >= 0 && load<u64>(NODES + (<usize>j << 3)) > k) {
      store<u64>(NODES + (<usize>(j + 1) << 3), load<u64>(NODES + (<usize>j << 3)));
      j--;
    }
    store<u64>(NODES + (<usize>(j + 1) << 3), k);
  }
  for (let i = 0; i < n; i++) store<i32>(FREQS + (<usize>i << 2), <i32>(load<u64>(NODES + (<usize>i << 3)) >> 16));
  store<i32>(FREQS + (<usize>n << 2), NONE);
  store<i32>(FREQS + (<usize>(n + 1) << 2), NONE);
  packageMerge(n, maxBits < n - 1 ? maxBits : n - 1);
  const top = maxBits < n - 1 ? maxBits : n - 1;
  // The last PER_LEN[1] nodes get length 1, the PER_LEN[2] before them 2, ...
  let k = n;
  for (let len = 1; len <= top; len++) {
    const c = load<i32>(PER_LEN + (<usize>len << 2));
    for (let j = 0; j < c && k > 0; j++) {
      k--;
      store<u8>(lens + <usize>(load<u64>(NODES + (<usize>k << 3)) & 0xffff), <u8>len);
    }
  }
}

@inline export function at(base: usize, i: i32): usize { return base + (<usize>i << 2); }
@inline function leaf(level: i32, k: i32): usize { return LEAVES + (<usize>(level * 17 + k) << 2); }

/**
 * Counts of codes per length (into PER_LEN[1..top]) for the `n` sorted
 * frequencies in FREQS. Each level of the merge keeps the weight of its
 * last item, its next unused leaf, its next package from the level below,
 * and how many more items it needs; leaf counts per level record, for the
 * chain ending at that level, how many leaves each level took.
 */
function packageMerge(n: i32, top: i32): void {
  memory.fill(NEEDED, 0, 4 * 17);
  memory.fill(LEAVES, 0, 4 * 17 * 17);
  memory.fill(PER_LEN, 0, 4 * 17);
  for (let lv = 1; lv <= top; lv++) {
    store<i32>(at(LAST, lv), load<i32>(at(FREQS, 1)));
    store<i32>(at(NEXT_CHAR, lv), load<i32>(at(FREQS, 2)));
    store<i32>(at(NEXT_PAIR, lv), lv == 1 ? NONE : load<i32>(at(FREQS, 0)) + load<i32>(at(FREQS, 1)));
    store<i32>(leaf(lv, lv), 2);
  }
  store<i32>(at(NEXT_PAIR, top + 1), NONE);
  store<i32>(at(NEEDED, top), 2 * n - 4);
  let lv = top;
  // Each step consumes one leaf or package; 2n-4 items at the top level
  // bound the work (the guard only protects against a logic error).
  let guard = 64 * n * 17 + 1024;
  while (guard-- > 0) {
    const nc = load<i32>(at(NEXT_CHAR, lv));
    const np = load<i32>(at(NEXT_PAIR, lv));
    if (nc == NONE && np == NONE) {
      store<i32>(at(NEEDED, lv), 0);
      if (lv >= 16) break;
      store<i32>(at(NEXT_PAIR, lv + 1), NONE);
      lv++;
      continue;
    }
    const prev = load<i32>(at(LAST, lv));
    if (nc < np) {
      const c = load<i32>(leaf(lv, lv)) + 1;
      store<i32>(at(LAST, lv), nc);
      store<i32>(leaf(lv, lv), c);
      store<i32>(at(NEXT_CHAR, lv), c <= n ? load<i32>(at(FREQS, c)) : NONE);
    } else {
      store<i32>(at(LAST, lv), np);
      for (let k = 0; k < lv; k++) store<i32>(leaf(lv, k), load<i32>(leaf(lv - 1, k)));
      store<i32>(at(NEEDED, lv - 1), 2);
    }
    const need = load<i32>(at(NEEDED, lv)) - 1;
    store<i32>(at(NEEDED, lv), need);
    if (need == 0) {
      if (lv == top) break;
      store<i32>(at(NEXT_PAIR, lv + 1), prev + load<i32>(at(LAST, lv)));
      lv++;
    } else {
      while (lv > 1 && load<i32>(at(NEEDED, lv - 1)) > 0) lv--;
    }
  }
  for (let len = 1; len <= top; len++) {
    const level = top - len + 1;
    store<i32>(at(PER_LEN, len), load<i32>(leaf(top, level)) - load<i32>(leaf(top, level - 1)));
  }
}

// ---- blocks ----

@inline function fixedLitLen(s: i32): i32 { return s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8; }

/** Go's code-length sequence for the block's lengths (RUNS) and its frequencies (CL_FREQ). */
function codeLengthRuns(numLit: i32, numDist: i32): void {
  memory.fill(CL_FREQ, 0, 4 * 19);
  runCount = 0;
  const total = numLit + numDist;
  let i = 0;
  while (i < total) {
    const v = lenAt(i, numLit);
    let c = 1;
    while (i + c < total && lenAt(i + c, numLit) == v) c++;
    i += c;
    if (v != 0) {
      run(v, 0);
      c--;
      while (c >= 3) {
        const k = c < 6 ? c : 6;
        run(16, k - 3);
        c -= k;
      }
    } else {
      while (c >= 11) {
        const k = c < 138 ? c : 138;
        run(18, k - 11);
        c -= k;
      }
      if (c >= 3) {
        run(17, c - 3);
        c = 0;
      }
    }
    for (; c > 0; c--) run(v, 0);
  }
}

@inline function lenAt(i: i32, numLit: i32): i32 {
  return i < numLit ? <i32>load<u8>(LIT_LENS + <usize>i) : <i32>load<u8>(DIST_LENS + <usize>(i - numLit));
}

@inline function run(sym: i32, extra: i32): void {
  store<u16>(RUNS + (<usize>(runCount++) << 1), <u16>(sym | (extra << 8)));
  const p = at(CL_FREQ, sym);
  store<i32>(p, load<i32>(p) + 1);
}

/** Dynamic block size in bits (header + symbols, not extra bits); sets the CL lengths. Returns numCodegens << 24 | bits. */
function dynamicBits(): i64 {
  goLengths(CL_FREQ, 19, 7, CL_LENS);
  let ncl = 19;
  while (ncl > 4 && load<i32>(at(CL_FREQ, <i32>load<u8>(CL_ORDER + <usize>(ncl - 1)))) == 0) ncl--;
  let bits: i64 = 3 + 5 + 5 + 4 + 3 * ncl;
  for (let s = 0; s < 19; s++) bits += <i64>load<i32>(at(CL_FREQ, s)) * <i64>load<u8>(CL_LENS + <usize>s);
  bits += <i64>load<i32>(at(CL_FREQ, 16)) * 2 + <i64>load<i32>(at(CL_FREQ, 17)) * 3 + <i64>load<i32>(at(CL_FREQ, 18)) * 7;
  for (let s = 0; s < 286; s++) bits += <i64>load<i32>(at(LIT_FREQ, s)) * <i64>load<u8>(LIT_LENS + <usize>s);
  for (let s = 0; s < 30; s++) bits += <i64>load<i32>(at(DIST_FREQ, s)) * <i64>load<u8>(DIST_LENS + <usize>s);
  return (<i64>ncl << 40) | bits;
}

function dynamicHeader(numLit: i32, numDist: i32, ncl: i32): void {
  putBits(4, 3); // not final (Go ends with its own empty stored block), BTYPE 2
  putBits(<u32>(numLit - 257), 5);
  putBits(<u32>(numDist - 1), 5);
  putBits(<u32>(ncl - 4), 4);
  for (let i = 0; i < ncl; i++) putBits(<u32>load<u8>(CL_LENS + <usize>load<u8>(CL_ORDER + <usize>i)), 3);
  buildEncode(CL_LENS, 19, CL_CODES);
  for (let i = 0; i < runCount; i++) {
    const r = <u32>load<u16>(RUNS + (<usize>i << 1));
    const sym = r & 255;
    putBits(<u32>load<u16>(CL_CODES + (<usize>sym << 1)), <u32>load<u8>(CL_LENS + <usize>sym));
    if (sym == 16) putBits(r >> 8, 2);
    else if (sym == 17) putBits(r >> 8, 3);
    else if (sym == 18) putBits(r >> 8, 7);
  }
}

/** Codes for LENS (288 lit/len then 32 distance, as buildEncode wants them). */
function setCodes(fixed: bool): void {
  if (fixed) {
    for (let s = 0; s < 288; s++) store<u8>(LENS + <usize>s, <u8>fixedLitLen(s));
    memory.fill(LENS + 288, 5, 32);
  } else {
    memory.copy(LENS, LIT_LENS, 286);
    memory.fill(LENS + 286, 0, 2);
    memory.copy(LENS + 288, DIST_LENS, 30);
    memory.fill(LENS + 318, 0, 2);
  }
  buildEncode(LENS, 288, LIT_CODES);
  buildEncode(LENS + 288, 32, DIST_CODES);
}

@inline function putSym(s: u32): void {
  putBits(<u32>load<u16>(LIT_CODES + (<usize>s << 1)), <u32>load<u8>(LENS + <usize>s));
}

function putTokens(): void {
  for (let i = 0; i < tokenCount; i++) {
    const t = load<u32>(tokens + (<usize>i << 2));
    if (t < MATCH) { putSym(t); continue; }
    const xl = (t >> 15) & 255;
    const xd = t & 0x7fff;
    const lc = <u32>load<u8>(LCODE + <usize>xl);
    putSym(257 + lc);
    const lb = <u32>load<u8>(LBITS + <usize>lc);
    if (lb > 0) putBits(xl - <u32>load<u16>(LBASE + (<usize>lc << 1)), lb);
    const dc = distCode(xd);
    putBits(<u32>load<u16>(DIST_CODES + (<usize>dc << 1)), <u32>load<u8>(LENS + 288 + <usize>dc));
    const db = <u32>load<u8>(DBITS + <usize>dc);
    if (db > 0) putBits(xd - <u32>load<u16>(DBASE + (<usize>dc << 1)), db);
    if (failed != 0) return;
  }
  putSym(256);
}

/**
 * The block of tokens so far; `from` < 0 when its bytes left the window (no
 * stored choice). `fastRule`: level 1's choice (dynamic, or stored when
 * that is not 1/16 smaller; never fixed) instead of the smallest of three.
 */
export function tokenBlock(from: i32, to: i32, fastRule: bool = false): void {
  memory.fill(LIT_FREQ, 0, 4 * 286);
  memory.fill(DIST_FREQ, 0, 4 * 30);
  for (let i = 0; i < tokenCount; i++) {
    const t = load<u32>(tokens + (<usize>i << 2));
    let p: usize;
    if (t < MATCH) {
      p = at(LIT_FREQ, <i32>t);
    } else {
      p = at(LIT_FREQ, 257 + <i32>load<u8>(LCODE + <usize>((t >> 15) & 255)));
      const q = at(DIST_FREQ, <i32>distCode(t & 0x7fff));
      store<i32>(q, load<i32>(q) + 1);
    }
    store<i32>(p, load<i32>(p) + 1);
  }
  store<i32>(at(LIT_FREQ, 256), load<i32>(at(LIT_FREQ, 256)) + 1);
  let numLit = 286;
  while (load<i32>(at(LIT_FREQ, numLit - 1)) == 0) numLit--;
  let numDist = 30;
  while (numDist > 0 && load<i32>(at(DIST_FREQ, numDist - 1)) == 0) numDist--;
  if (numDist == 0) { store<i32>(DIST_FREQ, 1); numDist = 1; }
  goLengths(LIT_FREQ, 286, 15, LIT_LENS);
  goLengths(DIST_FREQ, 30, 15, DIST_LENS);

  const storable = from >= 0 && to - from <= STORE_MAX;
  let extra: i64 = 0;
  if (storable) { // Go counts extra bits only when a stored block is possible
    for (let c = 8; c < 29 && 257 + c < numLit; c++) extra += <i64>load<i32>(at(LIT_FREQ, 257 + c)) * <i64>load<u8>(LBITS + <usize>c);
    for (let c = 4; c < numDist; c++) extra += <i64>load<i32>(at(DIST_FREQ, c)) * <i64>load<u8>(DBITS + <usize>c);
  }
  let fixedBits: i64 = 3 + extra;
  for (let s = 0; s < 286; s++) fixedBits += <i64>load<i32>(at(LIT_FREQ, s)) * <i64>fixedLitLen(s);
  for (let s = 0; s < 30; s++) fixedBits += <i64>load<i32>(at(DIST_FREQ, s)) * 5;

  codeLengthRuns(numLit, numDist);
  const d = dynamicBits();
  if (fastRule) {
    const bits = d & 0xffffffffff;
    if (<i64>(to - from + 5) * 8 < bits + (bits >> 4)) {
      storedBlock(from, to - from, false);
      return;
    }
    dynamicHeader(numLit, numDist, <i32>(d >> 40));
    setCodes(false);
    putTokens();
    return;
  }
  const dynBits = (d & 0xffffffffff) + extra;
  const ncl = <i32>(d >> 40);
  const useDynamic = dynBits < fixedBits;
  const best = useDynamic ? dynBits : fixedBits;
  if (storable && <i64>(to - from + 5) * 8 < best) {
    storedBlock(from, to - from, false);
    return;
  }
  if (useDynamic) {
    dynamicHeader(numLit, numDist, ncl);
    setCodes(false);
  } else {
    putBits(2, 3);
    setCodes(true);
  }
  putTokens();
}

/** Go's Huffman-only block over text[from, to). */
export function huffBlock(from: i32, to: i32): void {
  memory.fill(LIT_FREQ, 0, 4 * 286);
  memory.fill(DIST_FREQ, 0, 4 * 30);
  for (let i = from; i < to; i++) {
    const p = at(LIT_FREQ, <i32>load<u8>(text + <usize>i));
    store<i32>(p, load<i32>(p) + 1);
  }
  store<i32>(at(LIT_FREQ, 256), 1);
  store<i32>(DIST_FREQ, 1);
  goLengths(LIT_FREQ, 286, 15, LIT_LENS);
  memory.fill(DIST_LENS, 0, 32);
  store<u8>(DIST_LENS, 1);
  codeLengthRuns(257, 1);
  const d = dynamicBits();
  const bits = d & 0xffffffffff;
  if (<i64>(to - from + 5) * 8 < bits + (bits >> 4)) {
    storedBlock(from, to - from, false);
    return;
  }
  dynamicHeader(257, 1, <i32>(d >> 40));
  setCodes(false);
  for (let i = from; i < to; i++) {
    putSym(<u32>load<u8>(text + <usize>i));
    if (failed != 0) return;
  }
  putSym(256);
}

// ---- the matcher (levels 2-9) ----

@inline function hashAt(p: i32): u32 {
  const q = text + <usize>p;
  const v = (<u32>load<u8>(q) << 24) | (<u32>load<u8>(q, 1) << 16) | (<u32>load<u8>(q, 2) << 8) | <u32>load<u8>(q, 3);
  return (v * 0x1e35a7bd) >> (32 - HASH_BITS);
}

/** Insert position p; returns the previous newest position with its hash (-1 = none). */
@inline export function insert(p: i32): i32 {
  const h = heads + (<usize>hashAt(p) << 2);
  const prev = <i32>load<u32>(h) - 1;
  store<u32>(links + (<usize>(p & WMASK) << 2), <u32>(prev + 1));
  store<u32>(h, <u32>(p + 1));
  return prev;
}

let matchLen: i32 = 0;
let matchDist: i32 = 0;

/**
 * Longest match for `pos` along the chain from `cand`, as Go searches it:
 * lengths over 3 only, 4 only within 4096 back, first of equal lengths
 * wins, stop at `nice`, at the chain limit, at 32 KiB back or at `base`
 * (the start of Go's window). Sets matchLen/matchDist; false if none.
 */
export function search(pos: i32, cand: i32, lookahead: i32, base: i32): bool {
  const limit = lookahead < 258 ? lookahead : 258;
  const good = limit < nice ? limit : nice;
  let best = 3;
  let found = false;
  let tries = chain;
  const floor = pos - WSIZE;
  const p = text + <usize>pos;
  let endByte = load<u8>(p + <usize>best);
  let i = cand;
  while (tries > 0) {
    const q = text + <usize>i;
    if (load<u8>(q + <usize>best) == endByte) {
      let n = 0;
      while (n + 8 <= limit && load<u64>(q + <usize>n) == load<u64>(p + <usize>n)) n += 8;
      while (n < limit && load<u8>(q + <usize>n) == load<u8>(p + <usize>n)) n++;
      if (n > best && (n > 4 || pos - i <= 4096)) {
        best = n;
        matchLen = n;
        matchDist = pos - i;
        found = true;
        if (n >= good) break;
        endByte = load<u8>(p + <usize>n);
      }
    }
    if (i == floor) break;
    i = <i32>load<u32>(links + (<usize>(i & WMASK) << 2)) - 1;
    if (i < floor || i < base) break;
    tries--;
  }
  return found;
}

@inline export function addToken(t: u32): void {
  store<u32>(tokens + (<usize>(tokenCount++) << 2), t);
}

function deflateLevel(level: i32): void {
  lazyParams(level);
  memory.fill(heads, 0, <usize>4 << HASH_BITS);
  memory.fill(links, 0, <usize>4 * WSIZE);
  tokenCount = 0;
  lazyReset();
  for (let base = 0; ; base += WSIZE) { // base: text position of Go's window[0]
    const wend = textLen - base <= 2 * WSIZE ? textLen : base + 2 * WSIZE;
    const final = wend == textLen;
    lazyRun(wend, final, base);
    if (final || failed != 0) return;
    lazySlid(base + WSIZE);
  }
}

function lazyParams(level: i32): void {
  lazy = load<i32>(at(LAZY, level));
  nice = load<i32>(at(NICE, level));
  chain = load<i32>(at(CHAIN, level));
  skip = load<i32>(at(SKIP, level));
}

// The lazy matcher's state between lazyRun calls: deflateLevel runs it over
// Go's window one slide at a time, goflate-stream.ts as its text arrives.
let runBlockStart: i32 = 0; // where the current block's bytes start; -1 once they left the window
let runIndex: i32 = 0;
let runHead: i32 = -1;      // newest earlier position with the current hash
let runPrevLen: i32 = 3;
let runPrevDist: i32 = 0;
let runCurLen: i32 = 3;
let runCurDist: i32 = 0;
let runPending = false;     // (lazy) text[index - 1] is not yet emitted

export function lazyReset(): void {
  runBlockStart = 0;
  runIndex = 0;
  runHead = -1;
  runPrevLen = 3;
  runPrevDist = 0;
  runCurLen = 3;
  runCurDist = 0;
  runPending = false;
}

/** Go slid its window to start at `base`: a block that started before it can no longer be stored. */
export function lazySlid(base: i32): void {
  if (runBlockStart < base) runBlockStart = -1;
}

/**
 * Go's deflate loop over text[index, wend), Go's window starting at `base`.
 * Until the end of the text (`final`) it stops with 262 bytes of lookahead
 * left, as Go does before it slides or reads more: each step then sees
 * exactly what it sees on the whole text, so where the text is cut does
 * not matter. With `final` it ends the last block.
 */
export function lazyRun(wend: i32, final: bool, base: i32): void {
  const maxInsert = wend - 3;
  // The state in locals while the loop runs.
  let blockStart = runBlockStart;
  let index = runIndex;
  let head = runHead;
  let prevLen = runPrevLen;
  let prevDist = runPrevDist;
  let curLen = runCurLen;
  let curDist = runCurDist;
  let pending = runPending;
  for (;;) {
    const lookahead = wend - index;
    if (lookahead < MIN_LOOKAHEAD) {
      if (!final) break;
      if (lookahead == 0) {
        if (pending) { addToken(<u32>load<u8>(text + <usize>(index - 1))); pending = false; }
        if (tokenCount > 0) { tokenBlock(blockStart, index); blockStart = index; tokenCount = 0; }
        break;
      }
    }
    if (index < maxInsert) head = insert(index);
    prevLen = curLen;
    prevDist = curDist;
    curLen = 3;
    curDist = 0;
    const lowest = index - WSIZE > base ? index - WSIZE : base;
    if (head >= lowest && (skip != 0 ? lookahead > 3 : lookahead > prevLen && prevLen < lazy)) {
      if (search(index, head, lookahead, base)) { curLen = matchLen; curDist = matchDist; }
    }
    if (skip != 0 ? curLen >= 4 : prevLen >= 4 && curLen <= prevLen) {
      const len = skip != 0 ? curLen : prevLen;
      const dist = skip != 0 ? curDist : prevDist;
      addToken(MATCH | (<u32>(len - 3) << 15) | <u32>(dist - 1));
      if (skip == 0 || curLen <= skip) {
        const stop = skip != 0 ? index + curLen : index + prevLen - 1;
        for (index++; index < stop; index++) {
          if (index < maxInsert) insert(index);
        }
        if (skip == 0) { pending = false; curLen = 3; }
      } else {
        index += curLen;
      }
      if (tokenCount == BLOCK_TOKENS) { tokenBlock(blockStart, index); blockStart = index; tokenCount = 0; }
    } else {
      if (skip != 0 || pending) {
        const i = skip != 0 ? index : index - 1;
        addToken(<u32>load<u8>(text + <usize>i));
        if (tokenCount == BLOCK_TOKENS) { tokenBlock(blockStart, i + 1); blockStart = i + 1; tokenCount = 0; }
      }
      index++;
      if (skip == 0) pending = true;
    }
    if (failed != 0) break;
  }
  runBlockStart = blockStart;
  runIndex = index;
  runHead = head;
  runPrevLen = prevLen;
  runPrevDist = prevDist;
  runCurLen = curLen;
  runCurDist = curDist;
  runPending = pending;
}

// ---- level 1 (Go's "deflateFast": a snappy-like single-probe matcher) ----

const FAST_BITS: i32 = 14;
const FAST_MARGIN: i32 = 15;  // no match starts in a piece's last 15 bytes

@inline function load32le(p: i32): u32 { return load<u32>(text + <usize>p); }
@inline function fastHash(v: u32): u32 { return (v * 0x1e35a7bd) >> (32 - FAST_BITS); }
// The table (in `heads`): per hash, the 4 bytes seen and their text position.
@inline function slotVal(h: u32): usize { return heads + (<usize>h << 3); }

/** Tokens for text[from, to) (one piece), matching back at most 32 KiB into earlier pieces. */
export function fastPiece(from: i32, to: i32): void {
  const limit = to - FAST_MARGIN;
  let emitted = from;
  let s = from;
  let cv = load32le(s);
  let nextHash = fastHash(cv);
  for (;;) {
    // Probe ahead, stepping further the longer nothing matches.
    let skipCount = 32;
    let next = s;
    let cand = 0;
    for (;;) {
      s = next;
      const step = skipCount >> 5;
      next = s + step;
      skipCount += step;
      if (next > limit) { remainder(emitted, to); return; }
      const slot = slotVal(nextHash);
      const cval = load<u32>(slot);
      cand = load<i32>(slot, 4);
      const now = load32le(next);
      store<u32>(slot, cv);
      store<i32>(slot, s, 4);
      nextHash = fastHash(now);
      if (<i64>s - <i64>cand <= <i64>WSIZE && cv == cval) break; // i64: no wrap past 1 GiB
      cv = now;
    }
    for (let i = emitted; i < s; i++) addToken(<u32>load<u8>(text + <usize>i));
    for (;;) {
      // The first 4 bytes match; extend up to 258 without passing the piece's end.
      s += 4;
      const t = cand + 4;
      const stop = s + 254 < to ? s + 254 : to;
      let n = s;
      while (n < stop && load<u8>(text + <usize>n) == load<u8>(text + <usize>(t + n - s))) n++;
      const len = n - s + 4;
      addToken(MATCH | (<u32>(len - 3) << 15) | <u32>(s - t - 1));
      s = n;
      emitted = s;
      if (s >= limit) { remainder(emitted, to); return; }
      const before = load32le(s - 1);
      store<u32>(slotVal(fastHash(before)), before);
      store<i32>(slotVal(fastHash(before)), s - 1, 4);
      const here = load32le(s);
      const slot = slotVal(fastHash(here));
      const cval = load<u32>(slot);
      cand = load<i32>(slot, 4);
      store<u32>(slot, here);
      store<i32>(slot, s, 4);
      if (<i64>s - <i64>cand > <i64>WSIZE || here != cval) {
        cv = load32le(s + 1);
        nextHash = fastHash(cv);
        s++;
        break;
      }
    }
  }
}

function remainder(from: i32, to: i32): void {
  for (let i = from; i < to; i++) addToken(<u32>load<u8>(text + <usize>i));
}

function deflateFast(): void {
  // Positions far before the text: no entry matches until written.
  for (let h = 0; h < (1 << FAST_BITS); h++) {
    store<u32>(slotVal(<u32>h), 0);
    store<i32>(slotVal(<u32>h), -0x40000000, 4);
  }
  for (let from = 0; from < textLen && failed == 0; from += FAST_BLOCK) {
    const to = textLen - from < FAST_BLOCK ? textLen : from + FAST_BLOCK;
    const len = to - from;
    if (len < 128) { // only the last piece can be this short
      if (len <= 16) storedBlock(from, len, false);
      else huffBlock(from, to);
      return;
    }
    tokenCount = 0;
    fastPiece(from, to);
    if (tokenCount > len - (len >> 4)) huffBlock(from, to);
    else tokenBlock(from, to, true);
  }
}

/**
 * Raw deflate of the `n` bytes at `src` as Go's compress/flate writes them
 * at `level` (-2..9; -1 = 6), into [out, out + outCap). With
 * `check`, the bytes already there are compared instead of overwritten.
 * Returns the output size or an E_* code.
 */
export function goDeflate(src: usize, n: i32, level: i32, out: usize, outCap: usize, check: bool, scratch: usize): i32 {
  begin(out, outCap, check);
  const r = deflateBody(src, n, level, scratch);
  return r < 0 ? r : finish();
}

export function begin(out: usize, outCap: usize, check: bool): void {
  if (!tablesReady) initTables();
  outBase = out;
  outPos = out;
  outEnd = out + outCap;
  verify = check;
  failed = 0;
  firstDiff = -1;
  acc = 0;
  accBits = 0;
}

function deflateBody(src: usize, n: i32, level: i32, scratch: usize): i32 {
  if (level == -1) level = 6;
  if (level < -2 || level > 9 || n < 0) return E_LEVEL;
  text = src;
  textLen = n;
  if (level == 0 || level == -2) {
    for (let p = 0; p < n && failed == 0; p += STORE_MAX) {
      const len = n - p < STORE_MAX ? n - p : STORE_MAX;
      if (level == 0) storedBlock(p, len, false);
      else huffBlock(p, p + len);
    }
  } else {
    scratchReset(scratch);
    heads = scratchAlloc(<usize>4 << HASH_BITS);
    links = scratchAlloc(<usize>4 * WSIZE);
    tokens = scratchAlloc(<usize>4 * FAST_BLOCK);
    if (heads == 0 || links == 0 || tokens == 0) return E_NO_MEMORY;
    if (level == 1) deflateFast();
    else deflateLevel(level);
  }
  // Close: an empty final stored block.
  storedBlock(0, 0, true);
  alignOut();
  return failed;
}

export function finish(): i32 {
  return failed != 0 ? failed : <i32>(outPos - outBase);
}

/**
 * A gzip member as Go's compress/gzip writes it: the `hdrLen` header bytes
 * at `hdr` as given (Go: 1f 8b 08 FLG MTIME XFL OS and FLG's fields), the
 * deflate data, CRC-32 and size. Same contract as goDeflate.
 */
export function goGzip(src: usize, n: i32, level: i32, hdr: usize, hdrLen: i32, out: usize, outCap: usize, check: bool, scratch: usize): i32 {
  begin(out, outCap, check);
  for (let i = 0; i < hdrLen; i++) putByte(<u32>load<u8>(hdr + <usize>i));
  if (failed != 0) return failed;
  const r = deflateBody(src, n, level, scratch);
  if (r < 0) return r;
  const c = crc32(src, <usize>n);
  putBits(c, 32);
  putBits(<u32>n, 32);
  return finish();
}

/** (verify) Offset of the first byte that differed, or -1. */
export function goFirstDiff(): f64 {
  return <f64>firstDiff;
}

// ---- for goflate-stream.ts: the same encoder, fed its text in pieces ----

/** From now on, text position p is read at `base + p` (the stream's window moves under the positions). */
export function useText(base: usize): void {
  text = base;
}

/** Output goes to [out, out + outCap) from now on; bits short of a byte stay pending. */
export function outTo(out: usize, outCap: usize): void {
  outBase = out;
  outPos = out;
  outEnd = out + outCap;
}

export function outFailed(): i32 {
  return failed;
}

export function pendingTokens(): i32 {
  return tokenCount;
}

export function clearTokens(): void {
  tokenCount = 0;
}

export function foundLen(): i32 {
  return matchLen;
}

export function foundDist(): i32 {
  return matchDist;
}

/**
 * The matcher of `level` (1..9) as deflateBody and deflateLevel/deflateFast
 * set it up: parameters, hash heads, chain links and tokens allocated above
 * `scratch` and cleared. Returns 0 or E_NO_MEMORY.
 */
export function matcherSetup(level: i32, scratch: usize): i32 {
  scratchReset(scratch);
  heads = scratchAlloc(<usize>4 << HASH_BITS);
  links = scratchAlloc(<usize>4 * WSIZE);
  tokens = scratchAlloc(<usize>4 * FAST_BLOCK);
  if (heads == 0 || links == 0 || tokens == 0) return E_NO_MEMORY;
  tokenCount = 0;
  if (level == 1) {
    for (let h = 0; h < (1 << FAST_BITS); h++) {
      store<u32>(slotVal(<u32>h), 0);
      store<i32>(slotVal(<u32>h), -0x40000000, 4);
    }
    return 0;
  }
  lazyParams(level);
  memory.fill(heads, 0, <usize>4 << HASH_BITS);
  memory.fill(links, 0, <usize>4 * WSIZE);
  lazyReset();
  return 0;
}
