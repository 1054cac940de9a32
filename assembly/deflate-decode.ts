// Exact inflate: a deflate stream -> text + structure (layout in deflate.ts).
//
// Hostile input: every read of the input is either an 8-byte load proven in
// bounds or a byte load that reads zero past the end; those virtual zeros
// are caught by `overrun()` before any token they fed is trusted. Every
// store into text or structure is checked against its capacity first, so a
// bomb ends with E_TEXT_FULL when it reaches the caller's budget. Each
// token consumes at least one bit, so the work is bounded by the input.
//
// Memory: the caller's regions plus the static tables of deflate.ts.

import {
  E_TRUNCATED, E_BLOCK_TYPE, E_STORED_LEN, E_TABLE, E_CODE, E_DISTANCE, E_TEXT_FULL, E_STRUCT_FULL,
  LIT_TABLE, DIST_TABLE, CL_TABLE, LENS, CL_LENS, CL_ORDER, LEN_BASE, LEN_EXTRA, DIST_BASE, DIST_EXTRA,
  LINK, fixedLengths, buildDecode, putVar,
} from './deflate';

let inBase: usize = 0;
let inLen: usize = 0;
let inPos: usize = 0;      // next byte to load into bitbuf (may pass inLen by virtual zeros)
let bitbuf: u64 = 0;       // bits above nbits mirror the next input bytes or are zero
let nbits: u32 = 0;
let tBase: usize = 0;
let tPos: usize = 0;
let tEnd: usize = 0;
let sBase: usize = 0;
let sPos: usize = 0;
let sEnd: usize = 0;
let fixedBuilt = false;    // LIT/DIST tables hold the fixed code (no dynamic block since)

/** Point the decoder at its regions (called by the exported entry points). */
export function decodeSetup(inp: usize, n: usize, text: usize, textCap: usize, st: usize, stCap: usize): void {
  inBase = inp; inLen = n; inPos = 0; bitbuf = 0; nbits = 0;
  tBase = text; tPos = text; tEnd = text + textCap;
  sBase = st; sPos = st; sEnd = st + stCap;
  fixedBuilt = false;
}

export function decodedText(): usize { return tPos - tBase; }
export function decodedStructure(): usize { return sPos - sBase; }
export function inputPos(): usize { return inPos; }
export function inputLength(): usize { return inLen; }
export function inputBase(): usize { return inBase; }
export function skipInput(n: usize): void { inPos += n; }
export function textPos(): usize { return tPos; }

/** Copy `n` raw input bytes into the structure, after their varint length. */
export function structRaw(n: usize): i32 {
  if (<u64>inPos + <u64>n > <u64>inLen) return E_TRUNCATED;
  if (<u64>sPos + 8 + <u64>n > <u64>sEnd) return E_STRUCT_FULL;
  sPos = putVar(sPos, <u32>n);
  memory.copy(sPos, inBase + inPos, n);
  sPos += n; inPos += n;
  return 0;
}

/** Append one tag byte to the structure. */
export function structByte(b: u8): i32 {
  if (sPos >= sEnd) return E_STRUCT_FULL;
  store<u8>(sPos++, b);
  return 0;
}

function slowRefill(): void {
  while (nbits <= 56) {
    const b: u64 = inPos < inLen ? <u64>load<u8>(inBase + inPos) : 0;
    bitbuf |= b << nbits;
    inPos++;
    nbits += 8;
  }
}

/** At least 56 bits in bitbuf afterwards. */
@inline function refill(): void {
  if (inPos + 8 <= inLen) {
    bitbuf |= load<u64>(inBase + inPos) << nbits;
    inPos += (63 - nbits) >> 3;
    nbits |= 56;
  } else slowRefill();
}

/** Consumed bits passed the end of the input (virtual zeros were used). */
@inline function overrun(): bool {
  return (<u64>inPos << 3) > (<u64>inLen << 3) + <u64>nbits;
}

@inline function take(n: u32): u32 {
  const v = <u32>(bitbuf & ((<u64>1 << n) - 1));
  bitbuf >>= n;
  nbits -= n;
  return v;
}

/** Next symbol of a two-level `table` (deflate.ts), or E_CODE for a hole. Needs 15 bits buffered. */
@inline function symbol(table: usize, root: u32): i32 {
  let e = load<u32>(table + (<usize>(bitbuf & ((<u64>1 << root) - 1)) << 2));
  if (e & LINK) {
    // A link made by buildDecode: offset and subBits lie within the table's region.
    const sub = <u64>((<u32>1 << ((e >> 8) & 15)) - 1);
    e = load<u32>(table + (<usize>((e >> 16) + <u32>((bitbuf >> root) & sub)) << 2));
  }
  const l = e & 15;
  if (l == 0) return E_CODE;
  bitbuf >>= l;
  nbits -= l;
  return <i32>(e >> 16);
}

/** Drop the bits up to the byte boundary; returns their value. Rewinds unused whole bytes. */
function align(): u32 {
  const pad = take(nbits & 7);
  inPos -= nbits >> 3;
  bitbuf = 0;
  nbits = 0;
  return pad;
}

/** Decode one whole deflate stream (to its final block) from inPos; 0 or an E_* code. */
export function inflateStream(): i32 {
  for (;;) {
    refill();
    if (sPos + 16 > sEnd) return E_STRUCT_FULL;
    const hdr = take(3);
    store<u8>(sPos++, <u8>hdr);
    const type = hdr >> 1;
    let r: i32;
    if (type == 0) r = stored();
    else if (type == 1) r = fixedBlock();
    else if (type == 2) r = dynamicBlock();
    else return E_BLOCK_TYPE;
    if (r < 0) return r;
    if (overrun()) return E_TRUNCATED;
    if (hdr & 1) break;
  }
  const pad = align();
  if (inPos > inLen) return E_TRUNCATED;
  if (sPos + 8 > sEnd) return E_STRUCT_FULL;
  sPos = putVar(sPos, pad);
  return 0;
}

function stored(): i32 {
  const pad = align();
  if (<u64>inPos + 4 > <u64>inLen) return E_TRUNCATED;
  const len = <u32>load<u16>(inBase + inPos);
  const nlen = <u32>load<u16>(inBase + inPos, 2);
  if ((len ^ nlen) != 0xffff) return E_STORED_LEN;
  inPos += 4;
  if (<u64>inPos + <u64>len > <u64>inLen) return E_TRUNCATED;
  if (<u64>tPos + <u64>len > <u64>tEnd) return E_TEXT_FULL;
  sPos = putVar(sPos, pad); // room: inflateStream checked 16 bytes
  sPos = putVar(sPos, len);
  memory.copy(tPos, inBase + inPos, len);
  tPos += len;
  inPos += len;
  return 0;
}

function fixedBlock(): i32 {
  if (!fixedBuilt) {
    fixedLengths();
    buildDecode(LENS, 288, LIT_TABLE);
    buildDecode(LENS + 288, 32, DIST_TABLE);
    fixedBuilt = true;
  }
  return tokens(9, 5);
}

/** A dynamic header (RFC 1951 3.2.7), copied into the structure as sent, then its tokens. */
function dynamicBlock(): i32 {
  if (sPos + 700 > sEnd) return E_STRUCT_FULL; // 3 + 19 + 2 per code length, at most 316
  const hlit = take(5) + 257;
  const hdist = take(5) + 1;
  const hclen = take(4) + 4;
  if (hlit > 286 || hdist > 30) return E_TABLE;
  store<u8>(sPos, <u8>(hlit - 257));
  store<u8>(sPos, <u8>(hdist - 1), 1);
  store<u8>(sPos, <u8>(hclen - 4), 2);
  sPos += 3;
  memory.fill(CL_LENS, 0, 19);
  for (let i: u32 = 0; i < hclen; i++) {
    refill();
    const v = take(3);
    store<u8>(CL_LENS + <usize>load<u8>(CL_ORDER + i), <u8>v);
    store<u8>(sPos++, <u8>v);
  }
  const clRoot = buildDecode(CL_LENS, 19, CL_TABLE);
  if (clRoot < 0) return clRoot;
  fixedBuilt = false;
  const total = hlit + hdist;
  let i: u32 = 0;
  while (i < total) {
    refill();
    if (overrun()) return E_TRUNCATED;
    const sym = symbol(CL_TABLE, clRoot);
    if (sym < 0) return sym;
    store<u8>(sPos++, <u8>sym);
    if (sym < 16) { store<u8>(LENS + i++, <u8>sym); continue; }
    let rep: u32, x: u32, val: u8 = 0;
    if (sym == 16) {
      if (i == 0) return E_TABLE;
      val = load<u8>(LENS + i - 1);
      x = take(2); rep = 3 + x;
    } else if (sym == 17) { x = take(3); rep = 3 + x; } else { x = take(7); rep = 11 + x; }
    store<u8>(sPos++, <u8>x);
    if (i + rep > total) return E_TABLE;
    memory.fill(LENS + i, val, rep);
    i += rep;
  }
  const litRoot = buildDecode(LENS, hlit, LIT_TABLE);
  if (litRoot < 0) return litRoot;
  const distRoot = buildDecode(LENS + hlit, hdist, DIST_TABLE);
  if (distRoot < 0) return distRoot;
  return tokens(litRoot, distRoot);
}

/** Literal/length/distance tokens up to the end of block. */
function tokens(litRoot: u32, distRoot: u32): i32 {
  let run: u32 = 0;
  for (;;) {
    refill(); // 56 bits: enough for a whole token (15 + 5 + 15 + 13)
    if (overrun()) return E_TRUNCATED;
    const sym = symbol(LIT_TABLE, litRoot);
    if (sym < 0) return sym;
    if (sym < 256) {
      if (tPos >= tEnd) return E_TEXT_FULL;
      store<u8>(tPos++, <u8>sym);
      run++;
      continue;
    }
    if (sPos + 16 > sEnd) return E_STRUCT_FULL;
    sPos = putVar(sPos, run);
    run = 0;
    if (sym == 256) { store<u8>(sPos++, 0); return 0; }
    if (sym > 285) return E_CODE;
    const li = <usize>(sym - 257);
    const len = <u32>load<u16>(LEN_BASE + (li << 1)) + take(<u32>load<u8>(LEN_EXTRA + li));
    sPos = putVar(sPos, sym == 284 && len == 258 ? 257 : len - 2);
    const dsym = symbol(DIST_TABLE, distRoot);
    if (dsym < 0) return dsym;
    if (dsym >= 30) return E_CODE;
    const dist = <u32>load<u16>(DIST_BASE + (<usize>dsym << 1)) + take(<u32>load<u8>(DIST_EXTRA + <usize>dsym));
    sPos = putVar(sPos, dist - 1);
    if (<usize>dist > tPos - tBase) return E_DISTANCE;
    if (tPos + <usize>len > tEnd) return E_TEXT_FULL;
    copyMatch(tPos, <usize>dist, <usize>len);
    tPos += len;
  }
  return 0; // not reached: the loop only returns
}

/** text[p .. p+len) = text[p-dist ..): overlapping copies repeat the last `dist` bytes. */
@inline function copyMatch(p: usize, dist: usize, len: usize): void {
  const src = p - dist;
  if (dist >= len) { memory.copy(p, src, len); return; }
  if (dist >= 8) {
    let i: usize = 0;
    for (; i + 8 <= len; i += 8) store<u64>(p + i, load<u64>(src + i));
    for (; i < len; i++) store<u8>(p + i, load<u8>(src + i));
    return;
  }
  for (let i: usize = 0; i < len; i++) store<u8>(p + i, load<u8>(src + i));
}

/**
 * A raw deflate stream and whatever bytes follow it (kept raw at the end of
 * the structure). Called by index.ts; results via decodedText/decodedStructure.
 */
export function inflateRaw(inp: usize, n: usize, text: usize, textCap: usize, st: usize, stCap: usize): i32 {
  decodeSetup(inp, n, text, textCap, st, stCap);
  const r = inflateStream();
  if (r < 0) return r;
  return structRaw(inLen - inPos);
}
