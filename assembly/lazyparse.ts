// A model of zlib's LZ77 parse (its deflate_fast for levels 1-3 and lazy
// deflate_slow for 4-9, window 32 KiB, 15-bit hash), written as a
// prediction: it need not match any compressor bit for bit. Its tokens go
// out in the structure stream's token syntax (deflate.ts):
//
//   ( litRun(v) m(v) [dist-1(v) if m > 0] )* litRun(v) 0      m = length - 2
//
// with no block kinds or Huffman headers. GNU gzip, zlib and everything
// built on zlib (Python, Node, pigz within a chunk) parse text this way, so
// a stream they made has the same tokens, split into blocks whose headers
// the predicted stream lacks. Diffing a stream's real structure against
// this prediction (made again on apply from the rebuilt text) costs about
// the block headers instead of every token.
//
// Memory (scratch): a head table and a chain ring, 32 Ki i32 each. A ring
// of the window's size is enough: a chain is followed only while it stays
// within MAX_DIST of the position, whose slot no later position has reused.
// The text must be followed by MAX_MATCH readable bytes (compared, never
// matched past its end).

import { scratchAlloc, scratchRelease, scratchMark, scratchReset } from './scratch';

const MIN_MATCH: i32 = 3;
const MAX_MATCH: i32 = 258;
const WINDOW: i32 = 32768;
// zlib keeps MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1 bytes ahead: matches reach back at most this far.
const MAX_DIST: i32 = WINDOW - (MAX_MATCH + MIN_MATCH + 1);
const HASH_BITS: i32 = 15;
const HASH_MASK: i32 = (1 << HASH_BITS) - 1;
const HASH_SHIFT: i32 = (HASH_BITS + MIN_MATCH - 1) / MIN_MATCH;
// A 3-byte match this far back is not worth its distance code (zlib's TOO_FAR).
const TOO_FAR: i32 = 4096;

// Per level: good length, lazy length (max insert length for 1-3), nice length, chain.
const CONFIG: StaticArray<i32> = [
  0, 0, 0, 0,
  4, 4, 8, 4,
  4, 5, 16, 8,
  4, 6, 32, 32,
  4, 4, 16, 16,
  8, 16, 32, 32,
  8, 16, 128, 128,
  8, 32, 128, 256,
  32, 128, 258, 1024,
  32, 258, 258, 4096,
];

let text: usize = 0;
let size: i32 = 0;
let head: usize = 0;
let prev: usize = 0;
let hash: i32 = 0;
let matchStart: i32 = 0;
let good: i32 = 0;
let lazy: i32 = 0;
let nice: i32 = 0;
let chain: i32 = 0;

let out: usize = 0;
let outEnd: usize = 0;
let outAt: usize = 0;
let litRun: i32 = 0;

@inline function at(i: i32): i32 {
  return <i32>load<u8>(text + <usize>i);
}

/** Hash in the byte two ahead of `pos` and link `pos` into its chain; returns the previous head (0 = none). */
@inline function insert(pos: i32): i32 {
  hash = ((hash << HASH_SHIFT) ^ at(pos + 2)) & HASH_MASK;
  const slot = head + (<usize>hash << 2);
  const before = load<i32>(slot);
  store<i32>(prev + (<usize>(pos & (WINDOW - 1)) << 2), before);
  store<i32>(slot, pos);
  return before;
}

/** The longest match for `pos` along the chain from `cur`, longer than `best`; sets matchStart. */
function longestMatch(pos: i32, cur: i32, best: i32): i32 {
  const lookahead = size - pos;
  let chainLeft = best >= good ? chain >> 2 : chain;
  const niceLen = nice > lookahead ? lookahead : nice;
  const limit = pos > MAX_DIST ? pos - MAX_DIST : 0;
  const maxLen = lookahead < MAX_MATCH ? lookahead : MAX_MATCH;
  do {
    if (at(cur + best) == at(pos + best) && at(cur) == at(pos) && at(cur + 1) == at(pos + 1)) {
      let len = 2;
      while (len < maxLen && at(cur + len) == at(pos + len)) len++;
      if (len > best) {
        matchStart = cur;
        best = len;
        if (len >= niceLen) break;
      }
    }
    cur = load<i32>(prev + (<usize>(cur & (WINDOW - 1)) << 2));
  } while (cur > limit && --chainLeft != 0);
  return best;
}

@inline function putVarint(v: u32): bool {
  while (v >= 0x80) {
    if (outAt >= outEnd) return false;
    store<u8>(outAt++, <u8>(v | 0x80));
    v >>>= 7;
  }
  if (outAt >= outEnd) return false;
  store<u8>(outAt++, <u8>v);
  return true;
}

@inline function literal(): void {
  litRun++;
}

function match(length: i32, distance: i32): bool {
  const ok = putVarint(<u32>litRun) && putVarint(<u32>(length - 2)) && putVarint(<u32>(distance - 1));
  litRun = 0;
  return ok;
}

/** Levels 4-9: a match is taken only when the next position's is no longer. */
function parseLazy(): bool {
  let pos = 0;
  let matchLen = MIN_MATCH - 1;
  let available = false;
  while (pos < size) {
    const lookahead = size - pos;
    let candidate = 0;
    if (lookahead >= MIN_MATCH) candidate = insert(pos);
    const prevLen = matchLen;
    const prevMatch = matchStart;
    matchLen = MIN_MATCH - 1;
    if (candidate != 0 && prevLen < lazy && pos - candidate <= MAX_DIST) {
      matchLen = longestMatch(pos, candidate, prevLen);
      if (matchLen == MIN_MATCH && pos - matchStart > TOO_FAR) matchLen = MIN_MATCH - 1;
    }
    if (prevLen >= MIN_MATCH && matchLen <= prevLen) {
      const maxInsert = pos + lookahead - MIN_MATCH;
      if (!match(prevLen, pos - 1 - prevMatch)) return false;
      // The match started at pos - 1: hash the rest of it in.
      for (let k = prevLen - 2; k > 0; k--) {
        pos++;
        if (pos <= maxInsert) insert(pos);
      }
      available = false;
      matchLen = MIN_MATCH - 1;
      pos++;
    } else if (available) {
      literal();
      pos++;
    } else {
      available = true;
      pos++;
    }
  }
  if (available) literal();
  return true;
}

/** Levels 1-3: greedy; a short match's positions are hashed in, a long one's skipped. */
function parseFast(): bool {
  let pos = 0;
  while (pos < size) {
    const lookahead = size - pos;
    let candidate = 0;
    if (lookahead >= MIN_MATCH) candidate = insert(pos);
    let len = MIN_MATCH - 1;
    if (candidate != 0 && pos - candidate <= MAX_DIST) len = longestMatch(pos, candidate, MIN_MATCH - 1);
    if (len >= MIN_MATCH) {
      if (!match(len, pos - matchStart)) return false;
      if (len <= lazy && lookahead - len >= MIN_MATCH) {
        for (let k = len - 1; k > 0; k--) {
          pos++;
          insert(pos);
        }
        pos++;
      } else {
        pos += len;
        if (pos + 1 < size) hash = ((at(pos) << HASH_SHIFT) ^ at(pos + 1)) & HASH_MASK;
      }
    } else {
      literal();
      pos++;
    }
  }
  return true;
}

/**
 * Predict the tokens of `n` bytes at `src` at `level` (1-9) into `dst`
 * (capacity `cap`). Returns the bytes written; when they would pass `cap`
 * the prediction stops there (still a valid prefix to diff against).
 * Returns -1 for a bad level and -2 when scratch memory cannot grow.
 */
export function zlibPredict(src: usize, n: i32, level: i32, dst: usize, cap: i32, scratch: usize): i32 {
  if (level < 1 || level > 9) return -1;
  scratchReset(scratch);
  const mark = scratchMark();
  head = scratchAlloc(<usize>(1 << HASH_BITS) << 2);
  prev = head == 0 ? 0 : scratchAlloc(<usize>WINDOW << 2);
  if (prev == 0) return -2;
  memory.fill(head, 0, <usize>(1 << HASH_BITS) << 2);
  text = src;
  size = n;
  good = CONFIG[4 * level];
  lazy = CONFIG[4 * level + 1];
  nice = CONFIG[4 * level + 2];
  chain = CONFIG[4 * level + 3];
  out = dst;
  outAt = dst;
  outEnd = dst + <usize>cap;
  litRun = 0;
  matchStart = 0;
  hash = n >= 2 ? ((at(0) << HASH_SHIFT) ^ at(1)) & HASH_MASK : 0;
  (level <= 3 ? parseFast() : parseLazy()) && putVarint(<u32>litRun) && putVarint(0);
  scratchRelease(mark);
  // Stopped at `cap` (done false) or not, what was written is the prediction.
  return <i32>(outAt - out);
}
