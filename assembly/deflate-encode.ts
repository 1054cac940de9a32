// Exact deflate: text + structure (layout in deflate.ts) -> the original bits.
//
// The structure may come from a patch and be corrupt: every field is range
// checked as it is read (E_FORM), every literal run, stored block and match
// must lie inside the text and every match must repeat the bytes the text
// holds (E_FORM_TEXT), so the output always inflates back to the text. Every
// store is checked against the output capacity (E_OUT_FULL): never a trap.
//
// Memory: the caller's regions plus the static tables of deflate.ts.

import {
  E_TABLE, E_OUT_FULL, E_FORM, E_FORM_TEXT,
  LENS, CL_LENS, CL_ORDER, LIT_CODES, DIST_CODES, CL_CODES, LEN_BASE, LEN_EXTRA, DIST_BASE, DIST_EXTRA,
  fixedLengths, buildEncode,
} from './deflate';

/** Length 3..258 -> index of its symbol - 257; distance-1 -> code (RFC 1951 3.2.5). */
const LEN_SYM: usize = memory.data(256);
const DIST_SYM: usize = memory.data(512);
let symTablesBuilt = false;

let tBase: usize = 0;
let tPos: usize = 0;
let tEnd: usize = 0;
let sPos: usize = 0;
let sEnd: usize = 0;
let oBase: usize = 0;
let oPos: usize = 0;
let oEnd: usize = 0;
let bw: u64 = 0;   // pending output bits, LSB first
let bn: u32 = 0;   // how many (always < 32 between calls of put)
let bad = false;   // a structure read ran off its end
let litLens: usize = 0;
let distLens: usize = 0;
let litCount: u32 = 0;
let distCount: u32 = 0;
let fixedReady = false;

function buildSymTables(): void {
  for (let li: usize = 0; li < 28; li++) {
    const base = <usize>load<u16>(LEN_BASE + (li << 1));
    const n = <usize>1 << <usize>load<u8>(LEN_EXTRA + li);
    for (let k: usize = 0; k < n; k++) store<u8>(LEN_SYM + base - 3 + k, <u8>li);
  }
  store<u8>(LEN_SYM + 255, 28); // 258 is symbol 285 unless the structure says 284
  for (let c: usize = 0; c < 30; c++) {
    const base = <usize>load<u16>(DIST_BASE + (c << 1)) - 1;
    const n = <usize>1 << <usize>load<u8>(DIST_EXTRA + c);
    for (let k: usize = 0; k < n; k++) {
      const d = base + k;
      store<u8>(DIST_SYM + (d < 256 ? d : 256 + (d >> 7)), <u8>c);
    }
  }
  symTablesBuilt = true;
}

export function encodeSetup(text: usize, textLen: usize, st: usize, stLen: usize, out: usize, outCap: usize): void {
  if (!symTablesBuilt) buildSymTables();
  tBase = text; tPos = text; tEnd = text + textLen;
  sPos = st; sEnd = st + stLen;
  oBase = out; oPos = out; oEnd = out + outCap;
  bw = 0; bn = 0; bad = false; fixedReady = false;
}

export function encodedText(): usize { return tPos; }
export function encodedOutput(): usize { return oPos - oBase; }
/** The structure and the text were both used up exactly. */
export function encodeComplete(): i32 {
  if (sPos != sEnd) return E_FORM;
  return tPos == tEnd ? 0 : E_FORM_TEXT;
}

export function getByte(): u32 {
  if (sPos >= sEnd) { bad = true; return 0; }
  return <u32>load<u8>(sPos++);
}

export function getVar(): u32 {
  let v: u32 = 0;
  for (let shift: u32 = 0; shift < 35; shift += 7) {
    if (sPos >= sEnd) break;
    const b = <u32>load<u8>(sPos++);
    v |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  bad = true;
  return 0;
}

/** Copy `n`-prefixed raw bytes from the structure to the output. */
export function rawOut(): i32 {
  const n = getVar();
  if (bad || <u64>sPos + <u64>n > <u64>sEnd) return E_FORM;
  if (<u64>oPos + <u64>n > <u64>oEnd) return E_OUT_FULL;
  memory.copy(oPos, sPos, n);
  sPos += n; oPos += n;
  return 0;
}

/** Append 4 little-endian bytes (the caller checks room). */
export function putWord(v: u32): i32 {
  if (oPos + 4 > oEnd) return E_OUT_FULL;
  store<u32>(oPos, v);
  oPos += 4;
  return 0;
}

/** Room for 16 more bytes is checked before every token. */
@inline function put(v: u32, n: u32): void {
  bw |= <u64>v << bn;
  bn += n;
  if (bn >= 32) { store<u32>(oPos, <u32>bw); oPos += 4; bw >>= 32; bn -= 32; }
}

/** Emit the pad bits (value from the structure) and flush to a byte boundary. */
function alignOut(): i32 {
  const padBits = (8 - (bn & 7)) & 7;
  const pad = getVar();
  if (bad || pad >= (<u32>1 << padBits)) return E_FORM;
  if (oPos + 8 > oEnd) return E_OUT_FULL;
  put(pad, padBits);
  while (bn > 0) { store<u8>(oPos++, <u8>bw); bw >>= 8; bn -= 8; }
  bw = 0;
  return 0;
}

/** One whole deflate stream from the structure; 0 or an E_* code. */
export function deflateStream(): i32 {
  for (;;) {
    const kind = getByte();
    if (bad || kind > 5) return E_FORM;
    if (oPos + 16 > oEnd) return E_OUT_FULL;
    put(kind, 3);
    const type = kind >> 1;
    const r = type == 0 ? storedOut() : type == 1 ? fixedOut() : dynamicOut();
    if (r < 0) return r;
    if (kind & 1) break;
  }
  return alignOut();
}

function storedOut(): i32 {
  const r = alignOut();
  if (r < 0) return r;
  const len = getVar();
  if (bad || len > 0xffff) return E_FORM;
  if (<u64>tPos + <u64>len > <u64>tEnd) return E_FORM_TEXT;
  if (<u64>oPos + 4 + <u64>len > <u64>oEnd) return E_OUT_FULL;
  store<u16>(oPos, <u16>len);
  store<u16>(oPos, <u16>~len, 2);
  memory.copy(oPos + 4, tPos, len);
  oPos += 4 + len;
  tPos += len;
  return 0;
}

function fixedOut(): i32 {
  if (!fixedReady) {
    fixedLengths();
    buildEncode(LENS, 288, LIT_CODES);
    buildEncode(LENS + 288, 32, DIST_CODES);
    fixedReady = true;
  }
  litLens = LENS; distLens = LENS + 288; litCount = 286; distCount = 30;
  return tokensOut();
}

function dynamicOut(): i32 {
  const hlit = getByte() + 257;
  const hdist = getByte() + 1;
  const hclen = getByte() + 4;
  if (bad || hlit > 286 || hdist > 30 || hclen > 19) return E_FORM;
  put(hlit - 257, 5); put(hdist - 1, 5); put(hclen - 4, 4);
  memory.fill(CL_LENS, 0, 19);
  for (let i: u32 = 0; i < hclen; i++) {
    const v = getByte();
    if (bad || v > 7) return E_FORM;
    store<u8>(CL_LENS + <usize>load<u8>(CL_ORDER + i), <u8>v);
    if (oPos + 8 > oEnd) return E_OUT_FULL;
    put(v, 3);
  }
  if (buildEncode(CL_LENS, 19, CL_CODES) < 0) return E_FORM;
  fixedReady = false;
  const total = hlit + hdist;
  let i: u32 = 0;
  while (i < total) {
    const sym = getByte();
    if (bad || sym > 18) return E_FORM;
    const l = <u32>load<u8>(CL_LENS + sym);
    if (l == 0) return E_FORM;
    if (oPos + 8 > oEnd) return E_OUT_FULL;
    put(<u32>load<u16>(CL_CODES + (<usize>sym << 1)), l);
    if (sym < 16) { store<u8>(LENS + i++, <u8>sym); continue; }
    const x = getByte();
    let rep: u32, val: u8 = 0, xbits: u32;
    if (sym == 16) {
      if (i == 0) return E_FORM;
      val = load<u8>(LENS + i - 1); xbits = 2; rep = 3 + x;
    } else if (sym == 17) { xbits = 3; rep = 3 + x; } else { xbits = 7; rep = 11 + x; }
    if (bad || x >= (<u32>1 << xbits) || i + rep > total) return E_FORM;
    put(x, xbits);
    memory.fill(LENS + i, val, rep);
    i += rep;
  }
  if (buildEncode(LENS, hlit, LIT_CODES) == E_TABLE) return E_FORM;
  if (buildEncode(LENS + hlit, hdist, DIST_CODES) == E_TABLE) return E_FORM;
  litLens = LENS; distLens = LENS + hlit; litCount = hlit; distCount = hdist;
  return tokensOut();
}

/** Emit lit/len symbol `sym` (checked against the table); false when it has no code. */
@inline function putLit(sym: u32): bool {
  if (sym >= litCount) return false;
  const l = <u32>load<u8>(litLens + sym);
  put(<u32>load<u16>(LIT_CODES + (<usize>sym << 1)), l);
  return l != 0;
}

function tokensOut(): i32 {
  for (;;) {
    const run = getVar();
    if (bad) return E_FORM;
    if (<u64>tPos + <u64>run > <u64>tEnd) return E_FORM_TEXT;
    const runEnd = tPos + run;
    for (; tPos < runEnd; tPos++) {
      if (oPos + 8 > oEnd) return E_OUT_FULL;
      if (!putLit(<u32>load<u8>(tPos))) return E_FORM;
    }
    const m = getVar();
    if (bad || m > 257) return E_FORM;
    if (oPos + 16 > oEnd) return E_OUT_FULL;
    if (m == 0) return putLit(256) ? 0 : E_FORM;
    const len: u32 = m == 257 ? 258 : m + 2;
    const li: u32 = m == 257 ? 27 : <u32>load<u8>(LEN_SYM + <usize>(len - 3));
    const d = getVar();
    if (bad || d > 32767) return E_FORM;
    if (<usize>d + 1 > tPos - tBase || <u64>tPos + <u64>len > <u64>tEnd) return E_FORM_TEXT;
    if (memory.compare(tPos, tPos - <usize>d - 1, len) != 0) return E_FORM_TEXT;
    if (!putLit(257 + li)) return E_FORM;
    put(len - <u32>load<u16>(LEN_BASE + (<usize>li << 1)), <u32>load<u8>(LEN_EXTRA + <usize>li));
    const dc = <u32>load<u8>(DIST_SYM + (d < 256 ? <usize>d : 256 + (<usize>d >> 7)));
    if (dc >= distCount) return E_FORM;
    const dl = <u32>load<u8>(distLens + dc);
    if (dl == 0) return E_FORM;
    put(<u32>load<u16>(DIST_CODES + (<usize>dc << 1)), dl);
    put(d + 1 - <u32>load<u16>(DIST_BASE + (<usize>dc << 1)), <u32>load<u8>(DIST_EXTRA + <usize>dc));
    tPos += len;
  }
  return 0; // not reached: the loop only returns
}

/** Raw deflate: one stream then the raw trailing bytes. Returns the output size or an E_* code. */
export function deflateRaw(text: usize, textLen: usize, st: usize, stLen: usize, out: usize, outCap: usize): i32 {
  encodeSetup(text, textLen, st, stLen, out, outCap);
  let r = deflateStream();
  if (r == 0) r = rawOut();
  if (r == 0) r = encodeComplete();
  return r < 0 ? r : <i32>encodedOutput();
}
