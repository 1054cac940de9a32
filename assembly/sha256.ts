// sha256 (FIPS 180-4), incremental, for hosts without a native one (the
// browser build; Node keeps node:crypto). Written from the standard: the
// round function of section 6.2.2, the padding of section 5.1.1.
//
// The caller (src/core/wasm.ts) owns a context of SHA256_CTX_BYTES per
// hash, anywhere in linear memory, 8-byte aligned:
//
//   +0    +32       +40       +44    +48                     +112
//   ┌─────┬─────────┬─────────┬──────┬───────────────────────┐
//   │ H   │ length  │ pending │ (0)  │ block                 │
//   │8×u32│ u64     │ u32     │      │ 64 bytes, `pending`   │
//   │     │ bytes   │ 0..63   │      │ of them in use        │
//   └─────┴─────────┴─────────┴──────┴───────────────────────┘
//
// H is kept as native (little-endian) u32 words; the digest is written
// big-endian. Memory: the context, plus 256 bytes of static schedule (W)
// shared by every context: the functions are not re-entrant, which a
// single-threaded instance never is.

export const SHA256_CTX_BYTES: i32 = 112;

const H_OFF: usize = 0;
const LENGTH_OFF: usize = 32;
const PENDING_OFF: usize = 40;
const BLOCK_OFF: usize = 48;

/** Round constants (4.2.2): the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
], 16);

/** The message schedule W0..W63 of the block being compressed. */
const W: usize = memory.data(256, 16);

/** Start a hash in the context at `ctx` (5.3.3: initial H). */
export function sha256Init(ctx: usize): void {
  store<u32>(ctx + H_OFF, 0x6a09e667, 0);
  store<u32>(ctx + H_OFF, 0xbb67ae85, 4);
  store<u32>(ctx + H_OFF, 0x3c6ef372, 8);
  store<u32>(ctx + H_OFF, 0xa54ff53a, 12);
  store<u32>(ctx + H_OFF, 0x510e527f, 16);
  store<u32>(ctx + H_OFF, 0x9b05688c, 20);
  store<u32>(ctx + H_OFF, 0x1f83d9ab, 24);
  store<u32>(ctx + H_OFF, 0x5be0cd19, 28);
  store<u64>(ctx + LENGTH_OFF, 0);
  store<u32>(ctx + PENDING_OFF, 0);
}

/**
 * Feed the `len` bytes at `data` (anywhere in memory, may be unaligned).
 * Called by wasm.ts once per chunk it copies in; whole blocks of the input
 * are compressed in place, only a partial block is copied to the context.
 */
export function sha256Update(ctx: usize, data: usize, len: usize): void {
  store<u64>(ctx + LENGTH_OFF, load<u64>(ctx + LENGTH_OFF) + <u64>len);
  let pending = <usize>load<u32>(ctx + PENDING_OFF);
  const block = ctx + BLOCK_OFF;
  if (pending > 0) {
    const take = min<usize>(64 - pending, len);
    memory.copy(block + pending, data, take);
    pending += take;
    data += take;
    len -= take;
    if (pending < 64) {
      store<u32>(ctx + PENDING_OFF, <u32>pending);
      return;
    }
    compress(ctx, block);
    pending = 0;
  }
  while (len >= 64) {
    compress(ctx, data);
    data += 64;
    len -= 64;
  }
  if (len > 0) memory.copy(block, data, len);
  store<u32>(ctx + PENDING_OFF, <u32>len);
}

/**
 * Pad the message (5.1.1: a 1 bit, zeros to 56 mod 64 bytes, the bit length
 * as 64-bit big-endian), compress the last block(s) and write the 32-byte
 * digest at `out`. The context is spent: sha256Init it again to reuse it.
 */
export function sha256Final(ctx: usize, out: usize): void {
  const pending = <usize>load<u32>(ctx + PENDING_OFF);
  const block = ctx + BLOCK_OFF;
  const bits = load<u64>(ctx + LENGTH_OFF) << 3;
  store<u8>(block + pending, 0x80);
  if (pending >= 56) {
    memory.fill(block + pending + 1, 0, 63 - pending);
    compress(ctx, block);
    memory.fill(block, 0, 56);
  } else {
    memory.fill(block + pending + 1, 0, 55 - pending);
  }
  store<u64>(block + 56, bswap<u64>(bits));
  compress(ctx, block);
  for (let i: usize = 0; i < 32; i += 4) store<u32>(out + i, bswap<u32>(load<u32>(ctx + H_OFF + i)));
}

// The functions of 4.1.2.
// @ts-ignore: decorator
@inline function bigSigma0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
// @ts-ignore: decorator
@inline function bigSigma1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
// @ts-ignore: decorator
@inline function ch(x: u32, y: u32, z: u32): u32 { return z ^ (x & (y ^ z)); }
// @ts-ignore: decorator
@inline function maj(x: u32, y: u32, z: u32): u32 { return (x & y) | (z & (x | y)); }

// σ0 and σ1 on four words at once (SIMD has no rotate: two shifts and an or).
// @ts-ignore: decorator
@inline function rotr4(x: v128, n: i32): v128 { return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n)); }
// @ts-ignore: decorator
@inline function smallSigma0x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3)); }
// @ts-ignore: decorator
@inline function smallSigma1x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 17), rotr4(x, 19)), i32x4.shr_u(x, 10)); }

/** One 64-byte block at `p` into the context's H (6.2.2 steps 1-4). */
function compress(ctx: usize, p: usize): void {
  // Step 1: the schedule, four words per step in SIMD lanes. The block's
  // words are big-endian: one byte shuffle swaps four of them.
  for (let t: usize = 0; t < 64; t += 16) {
    const x = v128.load(p + t);
    v128.store(W + t, i8x16.shuffle(x, x, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
  }
  // W[t..t+3] = σ1(W[t-2..t+1]) + W[t-7..t-4] + σ0(W[t-15..t-12]) + W[t-16..t-13]:
  // all known but σ1's last two inputs, W[t] and W[t+1], which are this
  // step's own first two lanes; so lanes 0-1 first, then 2-3 from them.
  const zero = i32x4.splat(0);
  for (let t: usize = 64; t < 256; t += 16) {
    let x = i32x4.add(i32x4.add(v128.load(W + t - 64), v128.load(W + t - 28)), smallSigma0x4(v128.load(W + t - 60)));
    // Lanes 2-3 of this load hold the previous block's words: keep lanes 0-1 only.
    x = i32x4.add(x, i8x16.shuffle(smallSigma1x4(v128.load(W + t - 8)), zero, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    x = i32x4.add(x, i8x16.shuffle(zero, smallSigma1x4(x), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    v128.store(W + t, x);
  }
  // Steps 2-3: 64 rounds, eight per pass. Instead of shifting the eight
  // working variables each round, each round writes its T1 + T2 into the
  // variable that round would call h, and the next round reads them one
  // place on (so after eight rounds the names are back where they started).
  const h = ctx + H_OFF;
  let a = load<u32>(h, 0), b = load<u32>(h, 4), c = load<u32>(h, 8), d = load<u32>(h, 12);
  let e = load<u32>(h, 16), f = load<u32>(h, 20), g = load<u32>(h, 24), hh = load<u32>(h, 28);
  for (let t: usize = 0; t < 256; t += 32) {
    hh += bigSigma1(e) + ch(e, f, g) + load<u32>(K + t, 0) + load<u32>(W + t, 0); d += hh; hh += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + load<u32>(K + t, 4) + load<u32>(W + t, 4); c += g; g += bigSigma0(hh) + maj(hh, a, b);
    f += bigSigma1(c) + ch(c, d, e) + load<u32>(K + t, 8) + load<u32>(W + t, 8); b += f; f += bigSigma0(g) + maj(g, hh, a);
    e += bigSigma1(b) + ch(b, c, d) + load<u32>(K + t, 12) + load<u32>(W + t, 12); a += e; e += bigSigma0(f) + maj(f, g, hh);
    d += bigSigma1(a) + ch(a, b, c) + load<u32>(K + t, 16) + load<u32>(W + t, 16); hh += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(hh) + ch(hh, a, b) + load<u32>(K + t, 20) + load<u32>(W + t, 20); g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, hh, a) + load<u32>(K + t, 24) + load<u32>(W + t, 24); f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, hh) + load<u32>(K + t, 28) + load<u32>(W + t, 28); e += a; a += bigSigma0(b) + maj(b, c, d);
  }
  // Step 4: the new intermediate hash value.
  store<u32>(h, load<u32>(h, 0) + a, 0);
  store<u32>(h, load<u32>(h, 4) + b, 4);
  store<u32>(h, load<u32>(h, 8) + c, 8);
  store<u32>(h, load<u32>(h, 12) + d, 12);
  store<u32>(h, load<u32>(h, 16) + e, 16);
  store<u32>(h, load<u32>(h, 20) + f, 20);
  store<u32>(h, load<u32>(h, 24) + g, 24);
  store<u32>(h, load<u32>(h, 28) + hh, 28);
}
