/**
 * Browser stand-in for src/format/checksum.ts, which hashes with node:crypto
 * and hex-encodes with Buffer. web/build.mjs swaps it in for every import of
 * that file; the exports must stay the same (esbuild fails the build if one
 * is missing). crc32 is a copy of the original's.
 */
import { sha256Bytes } from '../../src/image/sha256.js';

const CRC_TABLE = /* @__PURE__ */ (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** crc32 of `data`, continuing from `crc` (0 to start). Returns an unsigned 32-bit value. */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** sha256 of one or more byte arrays, as 32 raw bytes. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  return sha256Bytes(...parts);
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
