// Exact deflate (RFC 1951): the shared part of the codec in deflate-decode.ts
// and deflate-encode.ts. A stream is decoded into two parts that together
// re-encode to the identical bits, whoever compressed it:
//
//   text       the decompressed bytes; literals and stored bytes are read
//              back from it when encoding, match bytes are checked against it
//   structure  everything else, as bytes and LEB128 varints (v):
//
//   structure := block* finalPad(v) trailLen(v) trail[trailLen]   (raw deflate)
//   block     := kind(1 byte: BFINAL | BTYPE << 1) body
//
//   stored  (BTYPE 0)  +-----------+--------+
//                      | pad(v)    | LEN(v) |   pad = value of the bits skipped to
//                      +-----------+--------+   the byte boundary; NLEN = ~LEN (checked);
//                                               LEN bytes of text follow in text
//   fixed   (BTYPE 1)  tokens
//   dynamic (BTYPE 2)  +--------+---------+---------+--------------------+--------------+
//                      | HLIT-  | HDIST-1 | HCLEN-4 | HCLEN bytes: code- | cl symbols   |
//                      | 257    |         |         | length code lens   | (see below)  |  tokens
//                      +--------+---------+---------+--------------------+--------------+
//                      cl symbols: one byte per code-length symbol (0..18) as sent; 16,
//                      17 and 18 are followed by one byte of their extra bits. Their
//                      count is implied: they stop when HLIT+HDIST lengths are set.
//   tokens  := ( litRun(v) m(v) [dist-1(v) if m > 0] )*   ending with m = 0
//              litRun = literals (from text) before this match or the block's end
//              m = 0: end of block; 1..256: length m+2 coded the usual way;
//              257: length 258 sent as symbol 284 with extra bits 31
//   finalPad = value of the bits after the last block up to its byte boundary.
//
// The structure is 60-100% of the compressed size (measured: Go's
// compress/gzip layers 63-67%, gzip -6/-9 81-89%, pigz -1 100%): it is not
// entropy coded. A change in the text moves only the tokens that cover it,
// so old and new structures diff well (the next step bsdiffs them).
//
// Memory: static tables below (~60 KiB of data segments); everything else is
// laid out by the caller (src/core/wasm.ts), who states the budget.

export const E_TRUNCATED: i32 = -1;      // input ended inside the stream
export const E_BLOCK_TYPE: i32 = -2;     // BTYPE 3
export const E_STORED_LEN: i32 = -3;     // NLEN is not the complement of LEN
export const E_TABLE: i32 = -4;          // bad HLIT/HDIST/code lengths, over-subscribed code
export const E_CODE: i32 = -5;           // a code not in the table, or symbol 286/287, distance 30/31
export const E_DISTANCE: i32 = -6;       // a match reaches before the start of the text
export const E_TEXT_FULL: i32 = -7;      // the text would pass its capacity
export const E_STRUCT_FULL: i32 = -8;    // the structure would pass its capacity
export const E_GZIP_HEADER: i32 = -9;    // not a gzip member header (magic, method, flags)
export const E_GZIP_CRC: i32 = -10;      // member trailer CRC32 differs from the text's
export const E_GZIP_SIZE: i32 = -11;     // member trailer ISIZE differs from the text's
export const E_OUT_FULL: i32 = -12;      // (encode) output would pass its capacity
export const E_FORM: i32 = -13;          // (encode) malformed structure
export const E_FORM_TEXT: i32 = -14;     // (encode) structure and text disagree

/**
 * Decode tables, two levels (u32 entries): a root of 1 << root entries
 * indexed by the next `root` bits (root = min(longest code, ROOT_BITS)), and
 * for each root slot that starts longer codes a subtable indexed by the
 * following bits. Entry: 0 = no code; sym << 16 | length; or a link,
 * offset << 16 | subBits << 8 | LINK. At most 288 slots link, each to at most
 * 1 << (15 - ROOT_BITS) entries, which sizes the regions.
 */
export const ROOT_BITS: i32 = 10;
export const LINK: u32 = 0x80;
export const LIT_TABLE: usize = memory.data(4 * (1024 + 288 * 32));
export const DIST_TABLE: usize = memory.data(4 * (1024 + 32 * 32));
export const CL_TABLE: usize = memory.data(4 * 128);
const PREFIX_MAX: usize = memory.data(1024);
/** Code lengths being read or written: 288 lit/len + 32 distance. */
export const LENS: usize = memory.data(320);
export const CL_LENS: usize = memory.data(19);
/** Encode tables: bit-reversed code (u16) per symbol; lengths live in LENS. */
export const LIT_CODES: usize = memory.data(2 * 288);
export const DIST_CODES: usize = memory.data(2 * 32);
export const CL_CODES: usize = memory.data(2 * 19);
const COUNTS: usize = memory.data(2 * 16);
const NEXT: usize = memory.data(2 * 16);

export const CL_ORDER: usize = memory.data<u8>([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);
export const LEN_BASE: usize = memory.data<u16>([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
  35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]);
export const LEN_EXTRA: usize = memory.data<u8>([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
  3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
export const DIST_BASE: usize = memory.data<u16>([1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
  257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]);
export const DIST_EXTRA: usize = memory.data<u8>([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
  7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);

/** Lengths of the fixed code (RFC 1951 3.2.6) into LENS: 288 lit/len, then 32 distance. */
export function fixedLengths(): void {
  memory.fill(LENS, 8, 144);
  memory.fill(LENS + 144, 9, 112);
  memory.fill(LENS + 256, 7, 24);
  memory.fill(LENS + 280, 8, 8);
  memory.fill(LENS + 288, 5, 32);
}

/**
 * Canonical codes (RFC 1951 3.2.2) for `n` lengths at `lens` into NEXT/COUNTS.
 * Returns the longest length, or E_TABLE when the lengths over-subscribe the
 * code space. Incomplete codes are allowed; their holes decode as E_CODE.
 */
function canonical(lens: usize, n: i32): i32 {
  memory.fill(COUNTS, 0, 32);
  for (let i = 0; i < n; i++) {
    const l = <usize>load<u8>(lens + <usize>i);
    if (l > 15) return E_TABLE;
    store<u16>(COUNTS + (l << 1), load<u16>(COUNTS + (l << 1)) + 1);
  }
  store<u16>(COUNTS, 0); // unused symbols take no code space
  let left: i32 = 1;
  let maxLen: i32 = 0;
  let code: i32 = 0;
  for (let bits = 1; bits <= 15; bits++) {
    const c = <i32>load<u16>(COUNTS + (<usize>bits << 1));
    left = (left << 1) - c;
    if (left < 0) return E_TABLE;
    if (c > 0) maxLen = bits;
    code = (code + <i32>load<u16>(COUNTS + (<usize>(bits - 1) << 1))) << 1;
    store<u16>(NEXT + (<usize>bits << 1), <u16>code);
  }
  return maxLen;
}

@inline function reverse(code: u32, len: i32): u32 {
  let r: u32 = 0;
  for (let i = 0; i < len; i++) { r = (r << 1) | (code & 1); code >>= 1; }
  return r;
}

/** Build a decode table for `n` lengths at `lens`; returns its root bits or E_TABLE. */
export function buildDecode(lens: usize, n: i32, table: usize): i32 {
  const maxLen = canonical(lens, n);
  if (maxLen < 0) return maxLen;
  const root = maxLen < ROOT_BITS ? maxLen : ROOT_BITS;
  const rootSize = 1 << root;
  memory.fill(table, 0, <usize>rootSize << 2);
  if (maxLen > root) {
    linkSubtables(lens, n, table, root);
    if (canonical(lens, n) < 0) return E_TABLE; // restore NEXT (cannot fail twice)
  }
  for (let sym = 0; sym < n; sym++) {
    const l = <i32>load<u8>(lens + <usize>sym);
    if (l == 0) continue;
    const np = NEXT + (<usize>l << 1);
    const c = <u32>load<u16>(np);
    store<u16>(np, <u16>(c + 1));
    const entry = (<u32>sym << 16) | <u32>l;
    const rev = <i32>reverse(c, l);
    if (l <= root) {
      // Each reversed code is < 1 << l <= rootSize: the index stays in the root.
      for (let i = rev; i < rootSize; i += 1 << l) store<u32>(table + (<usize>i << 2), entry);
      continue;
    }
    const link = load<u32>(table + (<usize>(rev & (rootSize - 1)) << 2));
    const sub = table + (<usize>(link >> 16) << 2);
    const subSize = 1 << <i32>((link >> 8) & 15);
    // l - root <= subBits (the slot's longest code), so the step divides subSize.
    for (let i = rev >> root; i < subSize; i += 1 << (l - root)) store<u32>(sub + (<usize>i << 2), entry);
  }
  return root;
}

/** Give each root slot that starts codes longer than `root` a zeroed subtable sized for its longest one. */
function linkSubtables(lens: usize, n: i32, table: usize, root: i32): void {
  memory.fill(PREFIX_MAX, 0, 1024);
  for (let sym = 0; sym < n; sym++) {
    const l = <i32>load<u8>(lens + <usize>sym);
    const np = NEXT + (<usize>l << 1);
    const c = <u32>load<u16>(np);
    store<u16>(np, <u16>(c + 1));
    if (l <= root) continue;
    const slot = PREFIX_MAX + <usize>(reverse(c, l) & ((1 << root) - 1));
    if (<i32>load<u8>(slot) < l) store<u8>(slot, <u8>l);
  }
  let next: u32 = 1 << root;
  for (let p = 0; p < (1 << root); p++) {
    const l = <i32>load<u8>(PREFIX_MAX + <usize>p);
    if (l == 0) continue;
    const subBits = <u32>(l - root);
    store<u32>(table + (<usize>p << 2), (next << 16) | (subBits << 8) | LINK);
    memory.fill(table + (<usize>next << 2), 0, <usize>4 << subBits);
    next += 1 << subBits;
  }
}

/** Build bit-reversed codes for `n` lengths at `lens` into `codes`; 0 or E_TABLE. */
export function buildEncode(lens: usize, n: i32, codes: usize): i32 {
  const maxLen = canonical(lens, n);
  if (maxLen < 0) return maxLen;
  for (let sym = 0; sym < n; sym++) {
    const l = <i32>load<u8>(lens + <usize>sym);
    if (l == 0) continue;
    const np = NEXT + (<usize>l << 1);
    const c = <u32>load<u16>(np);
    store<u16>(np, <u16>(c + 1));
    store<u16>(codes + (<usize>sym << 1), <u16>reverse(c, l));
  }
  return 0;
}

/** Write `v` as LEB128 at `p` (the caller checked room for 5 bytes); returns the new end. */
@inline export function putVar(p: usize, v: u32): usize {
  while (v >= 0x80) { store<u8>(p++, <u8>(v | 0x80)); v >>= 7; }
  store<u8>(p++, <u8>v);
  return p;
}
