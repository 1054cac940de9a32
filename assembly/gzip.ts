// Exact gzip (RFC 1952): members decoded into text + structure and back.
//
//   structure := ( 0x01 hdrLen(v) hdr[hdrLen] deflate )* 0x00 trailLen(v) trail[trailLen]
//
// hdr is the member header exactly as found (ID1 ID2 CM FLG MTIME XFL OS and
// the FEXTRA/FNAME/FCOMMENT/FHCRC fields FLG announces); `deflate` is the
// member's deflate structure without trailing bytes (layout in deflate.ts).
// The trailer (CRC32, ISIZE) is checked against the text when decoding and
// recomputed from it when encoding, so it costs no structure bytes. Members
// follow one another while the next bytes are the gzip magic; whatever else
// follows the last member is kept raw as the trail.
//
// Memory: 8 KiB of CRC tables, plus the caller's regions.

import { E_TRUNCATED, E_GZIP_HEADER, E_GZIP_CRC, E_GZIP_SIZE, E_FORM } from './deflate';
import {
  decodeSetup, inflateStream, inputBase, inputLength, inputPos, skipInput, structByte, structRaw, textPos,
} from './deflate-decode';
import {
  encodeSetup, deflateStream, getByte, rawOut, putWord, encodedText, encodeComplete, encodedOutput,
} from './deflate-encode';

const CRC_TABLE: usize = memory.data(8 * 256 * 4);
let crcReady = false;

function crcInit(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(CRC_TABLE + (<usize>n << 2), c);
  }
  // Slicing by 8: table k maps a byte k positions back.
  for (let k: usize = 1; k < 8; k++) {
    for (let n: usize = 0; n < 256; n++) {
      const prev = load<u32>(CRC_TABLE + ((k - 1) << 10) + (n << 2));
      store<u32>(CRC_TABLE + (k << 10) + (n << 2), (prev >>> 8) ^ load<u32>(CRC_TABLE + (<usize>(prev & 255) << 2)));
    }
  }
  crcReady = true;
}

@inline function tab(k: usize, i: u32): u32 {
  return load<u32>(CRC_TABLE + (k << 10) + (<usize>(i & 255) << 2));
}

/** CRC-32 (ISO-HDLC, as gzip uses) of the `n` bytes at `p`; `crc`: that of the bytes before them (to run it over pieces). */
export function crc32(p: usize, n: usize, crc: u32 = 0): u32 {
  if (!crcReady) crcInit();
  let c: u32 = ~crc;
  const end = p + n;
  for (; p + 8 <= end; p += 8) {
    const a = load<u32>(p) ^ c;
    const b = load<u32>(p, 4);
    c = tab(7, a) ^ tab(6, a >>> 8) ^ tab(5, a >>> 16) ^ tab(4, a >>> 24)
      ^ tab(3, b) ^ tab(2, b >>> 8) ^ tab(1, b >>> 16) ^ tab(0, b >>> 24);
  }
  for (; p < end; p++) c = tab(0, c ^ load<u8>(p)) ^ (c >>> 8);
  return ~c;
}

/** Length of the member header at `p` (`avail` bytes there), or an E_* code. */
function headerLength(p: usize, avail: usize): i32 {
  if (avail < 10) return E_TRUNCATED;
  if (load<u8>(p) != 0x1f || load<u8>(p, 1) != 0x8b || load<u8>(p, 2) != 8) return E_GZIP_HEADER;
  const flg = load<u8>(p, 3);
  if (flg & 0xe0) return E_GZIP_HEADER; // reserved bits must be zero (RFC 1952 2.3.1)
  if (avail > 0x3fffffff) avail = 0x3fffffff; // keeps h within i32
  let h: usize = 10;
  if (flg & 4) {
    if (h + 2 > avail) return E_TRUNCATED;
    h += 2 + <usize>load<u16>(p + h);
  }
  for (let bit: u8 = 8; bit <= 16; bit <<= 1) { // FNAME, then FCOMMENT: zero-terminated
    if (!(flg & bit)) continue;
    while (h < avail && load<u8>(p + h) != 0) h++;
    h++;
  }
  if (flg & 2) h += 2;
  return h > avail ? E_TRUNCATED : <i32>h;
}

/** One member from the input position on: header, deflate, checked trailer. */
function memberIn(): i32 {
  const pos = inputPos();
  const h = headerLength(inputBase() + pos, inputLength() - pos);
  if (h < 0) return h;
  let r = structByte(1);
  if (r == 0) r = structRaw(<usize>h);
  if (r < 0) return r;
  const t0 = textPos();
  r = inflateStream();
  if (r < 0) return r;
  const at = inputPos();
  if (<u64>at + 8 > <u64>inputLength()) return E_TRUNCATED;
  const p = inputBase() + at;
  if (crc32(t0, textPos() - t0) != load<u32>(p)) return E_GZIP_CRC;
  if (<u32>(textPos() - t0) != load<u32>(p, 4)) return E_GZIP_SIZE;
  skipInput(8);
  return 0;
}

/** True when a further member starts at the input position. */
function moreMembers(): bool {
  const pos = inputPos();
  if (<u64>pos + 2 > <u64>inputLength()) return false;
  const p = inputBase() + pos;
  return load<u8>(p) == 0x1f && load<u8>(p, 1) == 0x8b;
}

/**
 * Decode every gzip member of the `n` bytes at `inp`. Called by index.ts;
 * results via decodedText/decodedStructure. Returns 0 or an E_* code.
 */
export function gunzip(inp: usize, n: usize, text: usize, textCap: usize, st: usize, stCap: usize): i32 {
  decodeSetup(inp, n, text, textCap, st, stCap);
  do {
    const r = memberIn();
    if (r < 0) return r;
  } while (moreMembers());
  const r = structByte(0);
  return r < 0 ? r : structRaw(inputLength() - inputPos());
}

/** Re-encode a gzip structure with its text. Returns the output size or an E_* code. */
export function gzip(text: usize, textLen: usize, st: usize, stLen: usize, out: usize, outCap: usize): i32 {
  encodeSetup(text, textLen, st, stLen, out, outCap);
  for (;;) {
    const tag = getByte();
    if (tag == 0) break; // also when the structure ran out: encodeComplete reports it
    if (tag != 1) return E_FORM;
    let r = rawOut();
    const t0 = encodedText();
    if (r == 0) r = deflateStream();
    if (r == 0) r = putWord(crc32(t0, encodedText() - t0));
    if (r == 0) r = putWord(<u32>(encodedText() - t0));
    if (r < 0) return r;
  }
  let r = rawOut();
  if (r == 0) r = encodeComplete();
  return r < 0 ? r : <i32>encodedOutput();
}
