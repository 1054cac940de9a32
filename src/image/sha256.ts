/**
 * sha256 in plain TypeScript (FIPS 180-4), incremental: the fallback of
 * the library's neutral entry where the core's WASM sha256
 * (assembly/sha256.ts, about 2x faster) cannot load. WebCrypto's digest()
 * is one-shot only, so it cannot hash a stream.
 *
 * Memory: 64 bytes of pending input, a 64-word schedule and 8 words of state
 * per hasher; update() never copies more than one block of its input.
 * Speed: about 106 MiB/s of CPU time in Node 20 (2-core x86_64, measured
 * with the core's at 170-240 MiB/s in the same hour).
 */
import type { Hasher } from './hash.js';

/** Round constants: first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K = /* @__PURE__ */ new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Initial state: first 32 bits of the fractional parts of the square roots of the first 8 primes. */
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const HEX = /* @__PURE__ */ Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Incremental sha256 state. Use through browserHasher(). */
export class Sha256 implements Hasher {
  readonly #state = new Uint32Array(H0);
  readonly #w = new Uint32Array(64);
  readonly #pending = new Uint8Array(64);
  #pendingLength = 0;
  /** Total bytes fed; a double stays exact up to 2^53 bytes. */
  #length = 0;
  #finished = false;

  update(bytes: Uint8Array): void {
    if (this.#finished) throw new Error('sha256: update() after digest()');
    this.#length += bytes.length;
    let pos = 0;
    if (this.#pendingLength > 0) {
      const take = Math.min(64 - this.#pendingLength, bytes.length);
      this.#pending.set(bytes.subarray(0, take), this.#pendingLength);
      this.#pendingLength += take;
      pos = take;
      if (this.#pendingLength < 64) return;
      this.#compress(this.#pending, 0);
      this.#pendingLength = 0;
    }
    for (; pos + 64 <= bytes.length; pos += 64) this.#compress(bytes, pos);
    if (pos < bytes.length) {
      this.#pending.set(bytes.subarray(pos));
      this.#pendingLength = bytes.length - pos;
    }
  }

  /** The 32-byte digest. Call once. */
  digestBytes(): Uint8Array {
    if (this.#finished) throw new Error('sha256: digest() called twice');
    const bitLength = this.#length * 8;
    // Padding: 0x80, zeros to 56 mod 64, then the bit length as 64-bit big-endian.
    const tail = new Uint8Array(this.#pendingLength < 56 ? 64 : 128);
    tail.set(this.#pending.subarray(0, this.#pendingLength));
    tail[this.#pendingLength] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bitLength / 0x100000000));
    view.setUint32(tail.length - 4, bitLength >>> 0);
    for (let pos = 0; pos < tail.length; pos += 64) this.#compress(tail, pos);
    this.#finished = true;
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(i * 4, this.#state[i]);
    return out;
  }

  /** The digest as 'sha256:<64 hex digits>'. Call once. */
  digest(): string {
    let hex = '';
    for (const byte of this.digestBytes()) hex += HEX[byte];
    return `sha256:${hex}`;
  }

  /** One 64-byte block at bytes[pos..pos+63] (caller guarantees the range). */
  #compress(bytes: Uint8Array, pos: number): void {
    const w = this.#w;
    const s = this.#state;
    for (let i = 0; i < 16; i++, pos += 4) {
      w[i] = (bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    s[0] += a;
    s[1] += b;
    s[2] += c;
    s[3] += d;
    s[4] += e;
    s[5] += f;
    s[6] += g;
    s[7] += h;
  }
}

/** A fresh sha256 Hasher with no platform dependency; pass it as a HasherFactory. */
export function browserHasher(): Hasher {
  return new Sha256();
}

/** sha256 of one or more byte arrays, as 32 raw bytes (same shape as format/single/checksum.ts sha256). */
export function sha256Bytes(...parts: Uint8Array[]): Uint8Array {
  const hasher = new Sha256();
  for (const part of parts) hasher.update(part);
  return hasher.digestBytes();
}
