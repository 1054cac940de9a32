/**
 * Test inputs and black-box compressors for the exact deflate codec: Node's
 * zlib, fflate, the gzip and pigz binaries, python3's zlib. Each producer
 * returns labelled streams; a missing tool throws (the test then fails).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { deflateSync as fflateDeflate, gzipSync as fflateGzip, type DeflateOptions } from 'fflate';
import { prng, randomBytes } from '../../src/image/sample.js';

export interface Stream {
  label: string;
  format: 'deflate' | 'gzip';
  bytes: Uint8Array;
  input: Uint8Array;
}

const WORDS = ('the quick brown fox jumps over lazy dog package version changelog debian urgency medium ' +
  'fix security update upstream release build depends maintainer closes bug openssl nginx libssl').split(' ');

/** Pseudo-text: words, numbers and line breaks, like a changelog. */
export function textBytes(size: number, seed: number): Uint8Array {
  const next = prng(seed);
  let s = '';
  while (s.length < size) {
    const r = next();
    s += r % 17 === 0 ? `\n  * ${r % 1000}.${r % 97} ` : WORDS[r % WORDS.length] + (r % 5 === 0 ? ', ' : ' ');
  }
  return new TextEncoder().encode(s.slice(0, size));
}

/** A spread of inputs: empty, tiny, text, random, runs, and text with random holes. */
export function inputs(count: number, maxSize: number): Uint8Array[] {
  const out: Uint8Array[] = [new Uint8Array(0), new Uint8Array([65]), new Uint8Array(300).fill(7)];
  const next = prng(1234);
  for (let i = 0; out.length < count; i++) {
    const size = i % 3 === 0 ? next() % 2000 : next() % maxSize;
    const kind = i % 4;
    if (kind === 0) out.push(randomBytes(size, i + 1));
    else if (kind === 3) {
      const t = textBytes(size, i + 1);
      t.set(randomBytes(Math.min(size >> 3, 4096), i + 7), size >> 1);
      out.push(t);
    } else out.push(textBytes(size, i + 1));
  }
  return out;
}

export function nodeZlibStreams(data: Uint8Array[]): Stream[] {
  const out: Stream[] = [];
  const add = (label: string, format: 'deflate' | 'gzip', bytes: Uint8Array, input: Uint8Array) =>
    out.push({ label: `node ${label}`, format, bytes, input });
  for (const input of data) {
    for (let level = 0; level <= 9; level++) add(`level ${level}`, 'deflate', deflateRawSync(input, { level }), input);
    for (const [name, strategy] of [['filtered', constants.Z_FILTERED], ['huffman-only', constants.Z_HUFFMAN_ONLY],
      ['rle', constants.Z_RLE], ['fixed', constants.Z_FIXED]] as const) {
      add(name, 'deflate', deflateRawSync(input, { level: 6, strategy }), input);
    }
    add('memLevel 1', 'deflate', deflateRawSync(input, { level: 9, memLevel: 1 }), input);
    add('memLevel 9', 'deflate', deflateRawSync(input, { level: 9, memLevel: 9 }), input);
    add('windowBits 9', 'deflate', deflateRawSync(input, { level: 9, windowBits: 9 }), input);
    add('windowBits 12', 'deflate', deflateRawSync(input, { level: 5, windowBits: 12 }), input);
    add('gzip 6', 'gzip', gzipSync(input), input);
    add('gzip 1', 'gzip', gzipSync(input, { level: 1 }), input);
  }
  return out;
}

export function fflateStreams(data: Uint8Array[]): Stream[] {
  const out: Stream[] = [];
  for (const input of data) {
    for (let level = 0; level <= 9; level++) {
      out.push({ label: `fflate level ${level}`, format: 'deflate', bytes: fflateDeflate(input, { level: level as DeflateOptions['level'] }), input });
    }
    out.push({ label: 'fflate gzip', format: 'gzip', bytes: fflateGzip(input, { level: 6, mtime: 0, filename: 'x.txt' }), input });
  }
  return out;
}

/** The gzip or pigz binary at each of `flags` over every input. */
export function binaryStreams(tool: 'gzip' | 'pigz', data: Uint8Array[], flags: string[]): Stream[] {
  const out: Stream[] = [];
  for (const input of data) {
    for (const flag of flags) {
      const bytes = execFileSync(tool, [flag, '-c'], { input, maxBuffer: 1 << 28 });
      out.push({ label: `${tool} ${flag}`, format: 'gzip', bytes: new Uint8Array(bytes), input });
    }
  }
  return out;
}

/** python3's zlib (raw deflate) at levels 1..9, one process for all inputs. */
export function pythonStreams(data: Uint8Array[]): Stream[] {
  const dir = mkdtempSync(join(tmpdir(), 'dp-deflate-py-'));
  data.forEach((d, i) => writeFileSync(join(dir, `in${i}`), d));
  const script = `import zlib, sys, os
d = sys.argv[1]
for i in range(int(sys.argv[2])):
    data = open(os.path.join(d, 'in%d' % i), 'rb').read()
    for level in range(1, 10):
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        open(os.path.join(d, 'out%d_%d' % (i, level)), 'wb').write(c.compress(data) + c.flush())
`;
  execFileSync('python3', ['-c', script, dir, String(data.length)]);
  const out: Stream[] = [];
  data.forEach((input, i) => {
    for (let level = 1; level <= 9; level++) {
      out.push({ label: `python zlib ${level}`, format: 'deflate', bytes: new Uint8Array(readFileSync(join(dir, `out${i}_${level}`))), input });
    }
  });
  rmSync(dir, { recursive: true, force: true });
  return out;
}
