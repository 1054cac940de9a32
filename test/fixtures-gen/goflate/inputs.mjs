// Inputs for the Go compress/flate fixtures: deterministic, made the same way
// by the test (test/core/goflate.test.ts) and by gen.mjs, so only Go's
// output hashes need committing (test/fixtures/goflate-go119.json).

/** xorshift32 bytes from `seed`. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

const WORDS = ('the of and to in is that for it as with was on be by at this from or an are which not have '
  + 'layer image docker patch deflate block window match token huffman stored literal length distance '
  + 'usr/lib/x86_64-linux-gnu libssl.so.3 nginx debian changelog copyright 1.22.1-9 0x7f ELF').split(' ');

function random(n, seed) {
  const r = rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r() >>> 24;
  return b;
}

function text(n, seed) {
  const r = rng(seed);
  const b = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const w = WORDS[r() % WORDS.length];
    for (let k = 0; k < w.length && i < n; k++) b[i++] = w.charCodeAt(k);
    if (i < n) b[i++] = r() % 11 === 0 ? 10 : 32;
  }
  return b;
}

function runs(n, seed) {
  const r = rng(seed);
  const b = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const v = r() % 5 === 0 ? r() >>> 24 : 0;
    const len = 1 + (r() % 300);
    for (let k = 0; k < len && i < n; k++) b[i++] = v;
  }
  return b;
}

/** Text with stretches of random bytes: blocks switch between stored and Huffman. */
function mixed(n, seed) {
  const b = text(n, seed);
  const r = rng(seed + 1);
  for (let at = 0; at < n; at += 40000) {
    const len = Math.min(n - at, 10000 + (r() % 20000));
    b.set(random(len, seed + at), at);
  }
  return b;
}

/** [name, bytes, levels] for every fixture. */
export function goflateInputs() {
  const all = [-2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const list = [['empty', new Uint8Array(0), all]];
  for (const n of [1, 4, 16, 17, 127, 128, 300, 16383, 16384, 16385, 65535, 65536, 65537]) {
    list.push([`random-${n}`, random(n, n), all]);
    list.push([`text-${n}`, text(n, n + 7), all]);
  }
  for (const n of [1000, 70000, 200000]) list.push([`runs-${n}`, runs(n, n), all]);
  list.push(['text-300000', text(300000, 3), all]);
  list.push(['mixed-400000', mixed(400000, 5), all]);
  list.push(['text-1500000', text(1500000, 9), [1, 6]]);
  return list;
}
