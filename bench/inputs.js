// Bench inputs: a real executable pair (esbuild 0.24.0 -> 0.24.2, fetched
// once with `npm pack` into bench/.cache) and deterministic synthetic files.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Path of `package/bin/esbuild` for `version`, fetched on first use. */
export function esbuildBinary(cacheDir, version) {
  const dir = join(cacheDir, `esbuild-${version}`);
  const bin = join(dir, 'package/bin/esbuild');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const name = execFileSync('npm', ['pack', '--silent', `@esbuild/linux-x64@${version}`, '--pack-destination', cacheDir], {
    encoding: 'utf8',
  }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', join(cacheDir, name), '-C', dir]);
  return bin;
}

/** Fast deterministic bytes (xorshift128 over 32-bit words). */
export function pseudoRandom(length, seed = 1) {
  const words = new Uint32Array(Math.ceil(length / 4));
  let [a, b, c, d] = [seed | 1, 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35];
  for (let i = 0; i < words.length; i++) {
    let t = a ^ (a << 11);
    [a, b, c] = [b, c, d];
    d = (d ^ (d >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    words[i] = d;
  }
  return new Uint8Array(words.buffer, 0, length);
}

/**
 * `old` with a release's worth of change: per 256 KiB, a few byte edits,
 * one 64-byte insertion and one 32-byte deletion.
 */
export function mutateLikeARelease(old, seed = 7) {
  const r = pseudoRandom(Math.ceil(old.length / 4096) * 16 + 64, seed);
  const parts = [];
  let k = 0;
  const step = 256 * 1024;
  for (let start = 0; start < old.length; start += step) {
    const end = Math.min(old.length, start + step);
    const block = old.slice(start, end);
    for (let e = 0; e < 8 && block.length > 0; e++) block[(r[k++] * 977 + r[k++] * 131 + e * 4099) % block.length] ^= 0x5a;
    const cut = Math.floor(block.length / 3);
    parts.push(block.subarray(0, cut), r.subarray(0, 64), block.subarray(Math.min(block.length, cut + 32)));
  }
  return Buffer.concat(parts);
}

/** Write old/new files for a synthetic case once (they are deterministic). */
export function syntheticPair(cacheDir, name, makeOld) {
  const oldPath = join(cacheDir, `${name}.old`);
  const newPath = join(cacheDir, `${name}.new`);
  if (!existsSync(oldPath) || !existsSync(newPath) || statSync(newPath).size === 0) {
    const old = makeOld();
    writeFileSync(oldPath, old);
    writeFileSync(newPath, mutateLikeARelease(old));
  }
  return { oldPath, newPath };
}

export const zeros = (size) => new Uint8Array(size);
export function repeatedBlock(size, blockSize = 4096) {
  const out = new Uint8Array(size);
  const block = pseudoRandom(blockSize, 99);
  for (let i = 0; i < size; i += blockSize) out.set(block.subarray(0, Math.min(blockSize, size - i)), i);
  return out;
}
