// Go's compress/flate (goflate.ts) fed its text in pieces: the same blocks,
// bit for bit, with only what Go's own encoder keeps in memory. apply uses
// it to rebuild a gzip layer blob while the windows rebuild its tar, so that
// neither the tar nor the blob is ever held whole.
//
// The matching, the block choices and the bit output are goflate.ts's; this
// file only decides when each step may run, which is when goflate.ts's loops
// would have run it on the whole text:
//   levels 2-9  Go's window, 2 x 32 KiB: text[base, base + 64 KiB). The
//               matcher runs while 262 bytes of lookahead are there; once
//               the window is full and more text comes, its upper half moves
//               down (Go's slide), and a pending block whose bytes left the
//               window can no longer be stored. Only the end of the text
//               lets the matcher run into the last 262 bytes.
//   level 1     pieces of 65,535 bytes, each one block, matching back at
//               most 32 KiB: the window keeps the last 32 KiB of the piece
//               before and the current piece.
//   levels 0/-2 pieces of 65,535 bytes (stored / Huffman-only blocks).
//
// Memory: goflate.ts's 896 KiB of scratch (levels 1-9) and the window,
// 96 KiB, above `scratch`. The caller's output region must hold what one
// call writes: a write of at most 32 KiB of text ends at most 3 blocks of
// 16,384 tokens (each at most 31 bits: 64 KiB) or one level-1 piece (about
// 100 KiB with extra bits), so 256 KiB; more is E_OUT_FULL, never a
// silent overrun.

import {
  FAST_BLOCK, STORE_MAX, WSIZE, E_LEVEL, E_NO_MEMORY,
  alignOut, begin, clearTokens, fastPiece, finish, huffBlock, lazyRun, lazySlid,
  matcherSetup, outFailed, outTo, pendingTokens, putBits, putByte, storedBlock, tokenBlock, useText,
} from './goflate';
import { crc32 } from './gzip';
import { scratchAlloc, scratchReset } from './scratch';

const WINDOW: i32 = WSIZE + FAST_BLOCK;

let level: i32 = 0;
let gzip = false;
let header: usize = 0;    // the gzip header still to write (caller's memory), or 0
let headerLen: i32 = 0;
let win: usize = 0;       // the window: text[winStart, received)
let winStart: i32 = 0;
let received: i32 = 0;    // text bytes taken so far (Go's ISIZE is this mod 2^32)
let crc: u32 = 0;
let textAt: usize = 0;    // where text position 0 would be: win - winStart (wraps, on purpose)

// Levels 1, 0, -2: where the current piece starts.
let pieceStart: i32 = 0;

function moveWindow(start: i32): void {
  memory.copy(win, win + <usize>(start - winStart), <usize>(received - start));
  winStart = start;
  textAt = win - <usize>winStart;
  useText(textAt);
}

/**
 * Start a stream at `lvl` (-2..9; -1 = 6): gzip when `hdrLen` >= 0 (the
 * `hdrLen` header bytes at `hdr`, which must stay there until the first
 * write or end writes them), raw deflate when it is -1. Scratch goes above
 * `scratch`. Returns 0 or an E_* code.
 */
export function goStreamBegin(lvl: i32, hdr: usize, hdrLen: i32, scratch: usize): i32 {
  if (lvl == -1) lvl = 6;
  if (lvl < -2 || lvl > 9) return E_LEVEL;
  begin(0, 0, false);
  level = lvl;
  gzip = hdrLen >= 0;
  header = hdr;
  headerLen = hdrLen;
  if (level >= 1) {
    if (matcherSetup(level, scratch) < 0) return E_NO_MEMORY;
  } else {
    scratchReset(scratch);
  }
  win = scratchAlloc(<usize>WINDOW);
  if (win == 0) return E_NO_MEMORY;
  winStart = 0;
  received = 0;
  crc = 0;
  textAt = win;
  useText(win);
  pieceStart = 0;
  return 0;
}

function writeHeader(): void {
  if (header == 0) return;
  for (let i = 0; i < headerLen; i++) putByte(<u32>load<u8>(header + <usize>i));
  header = 0;
}

/**
 * The next `n` bytes of text, at `src`. Compressed bytes go to [out, out +
 * outCap) from its start. Returns how many, or an E_* code (then the
 * stream is dead).
 */
export function goStreamWrite(src: usize, n: i32, out: usize, outCap: usize): i32 {
  outTo(out, outCap);
  writeHeader();
  if (gzip) crc = crc32(src, <usize>n, crc);
  for (let done = 0; done < n && outFailed() == 0; ) {
    done += level >= 2 ? takeLevel(src + <usize>done, n - done) : takePiece(src + <usize>done, n - done);
  }
  return finish();
}

/** The end of the text: the last blocks, Close's empty final block and (gzip) CRC-32 and size. Same contract as goStreamWrite. */
export function goStreamEnd(out: usize, outCap: usize): i32 {
  outTo(out, outCap);
  writeHeader();
  if (level >= 2) lazyRun(received, true, winStart);
  else if (received > pieceStart) endPiece(pieceStart, received);
  storedBlock(0, 0, true);
  alignOut();
  if (gzip) {
    putBits(crc, 32);
    putBits(<u32>received, 32);
  }
  return finish();
}

// ---- levels 2-9 ----

/** Take what fits of `n` bytes into the window (sliding it first when full), then match. */
function takeLevel(src: usize, n: i32): i32 {
  // Full and more text comes: the matcher stopped short of the window's
  // last 262 bytes, where deflateLevel slides.
  if (received == winStart + 2 * WSIZE) {
    moveWindow(winStart + WSIZE);
    lazySlid(winStart);
  }
  const room = winStart + 2 * WSIZE - received;
  const k = n < room ? n : room;
  memory.copy(win + <usize>(received - winStart), src, <usize>k);
  received += k;
  lazyRun(received, false, winStart);
  return k;
}

// ---- levels 1, 0, -2: pieces of 65,535 bytes ----

/** Take what fits of `n` bytes into the current piece; a full piece is written at once (a last piece is written the same way). */
function takePiece(src: usize, n: i32): i32 {
  const room = pieceStart + STORE_MAX - received;
  const k = n < room ? n : room;
  memory.copy(win + <usize>(received - winStart), src, <usize>k);
  received += k;
  if (received - pieceStart == STORE_MAX) {
    endPiece(pieceStart, received);
    pieceStart = received;
    // Level 1 matches up to 32 KiB back into the piece before.
    const keep = level == 1 ? received - WSIZE : received;
    moveWindow(keep > 0 ? keep : 0);
  }
  return k;
}

/** One piece as goflate.ts's deflateFast (level 1) or deflateBody (levels 0, -2) writes it. */
function endPiece(from: i32, to: i32): void {
  if (level == 0) { storedBlock(from, to - from, false); return; }
  if (level == -2) { huffBlock(from, to); return; }
  const len = to - from;
  if (len < 128) { // only the last piece can be this short
    if (len <= 16) storedBlock(from, len, false);
    else huffBlock(from, to);
    return;
  }
  clearTokens();
  fastPiece(from, to);
  if (pendingTokens() > len - (len >> 4)) huffBlock(from, to);
  else tokenBlock(from, to, true);
}
