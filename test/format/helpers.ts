/**
 * Test helpers for the format readers: a tiny pure-JS bspatch (so format
 * tests do not depend on the WASM core), seeded random data, and writers for
 * the classic formats built on the system `bsdiff` and `bzip2` binaries.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Delta } from '../../src/core/index.js';

/** Reference bspatch: applies `delta` to `old`, with bsdiff's semantics. */
export function bspatch(old: Uint8Array, delta: Delta, newSize: number): Uint8Array {
  const out = new Uint8Array(newSize);
  let [oldPos, newPos, d, e] = [0, 0, 0, 0];
  for (let t = 0; t < delta.ctrl.length; t += 3) {
    const [add, copy, seek] = [delta.ctrl[t], delta.ctrl[t + 1], delta.ctrl[t + 2]];
    if (newPos + add + copy > newSize) throw new Error('bspatch: triple past newSize');
    for (let i = 0; i < add; i++) out[newPos + i] = (delta.diff[d + i] + (old[oldPos + i] ?? 0)) & 0xff;
    newPos += add;
    oldPos += add;
    d += add;
    out.set(delta.extra.subarray(e, e + copy), newPos);
    newPos += copy;
    e += copy;
    oldPos += seek;
  }
  if (newPos !== newSize) throw new Error('bspatch: short output');
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function randomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `base` with `edits` random byte changes, a few insertions and a deletion. */
export function mutate(base: Uint8Array, edits: number, seed = 7): Uint8Array {
  const r = randomBytes(edits * 4 + 64, seed);
  const out = Array.from(base);
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = ((r[4 * i] << 16) | (r[4 * i + 1] << 8) | r[4 * i + 2]) % out.length;
    if (i % 5 === 0) out.splice(at, 0, r[4 * i + 3], r[4 * i + 2]);
    else if (i % 7 === 0) out.splice(at, 3);
    else out[at] = r[4 * i + 3];
  }
  return Uint8Array.from(out);
}

/** Run Debian's bsdiff (BSDIFF40). Throws, failing the test, when it is missing. */
export function debianBsdiff(old: Uint8Array, neu: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'dp-bsdiff-'));
  try {
    writeFileSync(join(dir, 'old'), old);
    writeFileSync(join(dir, 'new'), neu);
    execFileSync('bsdiff', [join(dir, 'old'), join(dir, 'new'), join(dir, 'patch')]);
    return new Uint8Array(readFileSync(join(dir, 'patch')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function bzip2(data: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync('bzip2', ['-c', '-9'], { input: data, maxBuffer: 1 << 30 }));
}

function offtout(value: number, out: Uint8Array, at: number): void {
  let y = Math.abs(value);
  for (let i = 0; i < 8; i++) {
    out[at + i] = y % 256;
    y = Math.floor(y / 256);
  }
  if (value < 0) out[at + 7] |= 0x80;
}

/** BSDIFF40 writer (bsdiff 4.x layout) for deltas Debian's bsdiff cannot make (empty files). */
export function encodeBsdiff40(delta: Delta, newSize: number): Uint8Array {
  const ctrl = new Uint8Array(delta.ctrl.length * 8);
  delta.ctrl.forEach((v, i) => offtout(v, ctrl, 8 * i));
  const [c, d, e] = [bzip2(ctrl), bzip2(delta.diff), bzip2(delta.extra)];
  const header = new Uint8Array(32);
  header.set(new TextEncoder().encode('BSDIFF40'));
  offtout(c.length, header, 8);
  offtout(d.length, header, 16);
  offtout(newSize, header, 24);
  return Buffer.concat([header, c, d, e]);
}

/**
 * A BSDIFF40 patch from Debian's bsdiff, or for empty inputs (which it cannot
 * mmap) a literal one from encodeBsdiff40.
 */
export function bsdiff40Patch(old: Uint8Array, neu: Uint8Array): Uint8Array {
  if (old.length > 0 && neu.length > 0) return debianBsdiff(old, neu);
  const ctrl = neu.length > 0 ? Int32Array.of(0, neu.length, 0) : new Int32Array(0);
  return encodeBsdiff40({ ctrl, diff: new Uint8Array(0), extra: neu }, neu.length);
}

/** ENDSLEY/BSDIFF43 writer: mendsley's layout, size as offtin (LE) or big-endian (icedream/go-bsdiff). */
export function encodeBsdiff43(delta: Delta, newSize: number, sizeEncoding: 'le' | 'be'): Uint8Array {
  const parts: Uint8Array[] = [];
  let [d, e] = [0, 0];
  for (let t = 0; t < delta.ctrl.length; t += 3) {
    const rec = new Uint8Array(24);
    for (let i = 0; i < 3; i++) offtout(delta.ctrl[t + i], rec, 8 * i);
    parts.push(rec, delta.diff.subarray(d, (d += delta.ctrl[t])), delta.extra.subarray(e, (e += delta.ctrl[t + 1])));
  }
  const header = new Uint8Array(24);
  header.set(new TextEncoder().encode('ENDSLEY/BSDIFF43'));
  if (sizeEncoding === 'le') offtout(newSize, header, 16);
  else new DataView(header.buffer).setBigUint64(16, BigInt(newSize), false);
  return Buffer.concat([header, bzip2(Buffer.concat(parts))]);
}

export { offtout };
