// Go's compress/flate fed in pieces (assembly/goflate-stream.ts) against the
// whole-text model (goflate.ts, itself checked against Go 1.19 in
// goflate.test.ts): the same bytes for every Go fixture, at every level,
// whatever the cuts, and Go's hashes directly.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore, type GoDeflateStream } from '../../src/core/index.js';
import { PatcherError } from '../../src/errors.js';
import { REPO_ROOT, unpackPair } from '../fixtures/shared.js';
// @ts-expect-error plain ES module shared with the fixture generator
import { goflateInputs } from '../fixtures-gen/goflate/inputs.mjs';

interface Row { file: string; level: number; raw: string; rawLength: number; gzip: string; gzipLength: number }

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const LEVELS = [-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** A small seeded generator (tests must be repeatable). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

/** Cuts of `n` bytes: sizes from 1 byte to about `max`, small ones often (the window's edges are where bugs hide). */
function cuts(n: number, next: () => number, max: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < n; ) {
    const pick = next() % 4;
    const size = Math.min(n - at, pick === 0 ? 1 + (next() % 7) : pick === 1 ? 1 + (next() % 600) : 1 + (next() % max));
    out.push(size);
    at += size;
  }
  return out;
}

/** Everything a stream makes for `text` written in pieces of the given sizes. */
function streamed(stream: GoDeflateStream, text: Uint8Array, sizes: number[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) {
    // Copies: each view is valid only until the next step.
    for (const out of stream.write(text.subarray(at, at + size))) parts.push(out.slice());
    at += size;
  }
  parts.push(stream.end().slice());
  return Buffer.concat(parts);
}

let core: DiffCore;
let reference: DiffCore;
beforeAll(async () => {
  core = await loadCore();
  reference = await loadCore();
});

describe("Go's compress/flate fed in pieces", () => {
  const fixture = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/goflate-go119.json'), 'utf8')) as { go: string; rows: Row[] };
  const inputs = new Map<string, Uint8Array>((goflateInputs() as [string, Uint8Array, number[]][]).map(([name, bytes]) => [name, bytes]));

  it("matches Go's hashes for every fixture and level, in random pieces (raw deflate and gzip)", () => {
    const next = rng(7);
    const wrong: string[] = [];
    expect(fixture.rows.length).toBe(354);
    for (const r of fixture.rows) {
      const text = inputs.get(r.file)!;
      const raw = streamed(core.goDeflateStream({ level: r.level }), text, cuts(text.length, next, 200_000));
      if (raw.length !== r.rawLength || sha(raw) !== r.raw) wrong.push(`${r.file} level ${r.level} raw`);
      const gz = streamed(core.goGzipStream({ level: r.level }), text, cuts(text.length, next, 100_000));
      if (gz.length !== r.gzipLength || sha(gz) !== r.gzip) wrong.push(`${r.file} level ${r.level} gzip`);
    }
    expect(wrong).toEqual([]);
  });

  it('equals the whole-text model byte for byte on every fixture at every level, one piece or byte-sized pieces near the window edges', () => {
    const wrong: string[] = [];
    for (const [name, text] of inputs) {
      if (text.length > 300_000) continue; // one byte at a time is slow; the random cuts above cover the big ones
      for (const level of LEVELS) {
        const whole = reference.goGzipExact(text, { level });
        if (Buffer.compare(streamed(core.goGzipStream({ level }), text, [text.length]), whole) !== 0) wrong.push(`${name} ${level} one piece`);
        // 1-byte pieces around every 32 KiB and 65,535-byte boundary, bigger ones in between.
        const sizes: number[] = [];
        for (let at = 0; at < text.length; ) {
          const edge = [32768, 65535].some((b) => at % b > b - 300 || at % b < 300);
          const size = Math.min(text.length - at, edge ? 1 : 997);
          sizes.push(size);
          at += size;
        }
        if (Buffer.compare(streamed(core.goGzipStream({ level }), text, sizes), whole) !== 0) wrong.push(`${name} ${level} small pieces`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('equals the whole-text model on random, text and run-heavy inputs of random sizes, random pieces, every level', () => {
    const next = rng(2026);
    const wrong: string[] = [];
    for (let i = 0; i < 40; i++) {
      const n = i < 10 ? next() % 2000 : next() % 400_000;
      const text = new Uint8Array(n);
      const kind = i % 3;
      for (let k = 0; k < n; k++) text[k] = kind === 0 ? next() >>> 24 : kind === 1 ? 97 + (next() % 6) : k % 1000 < 700 ? 0 : next() >>> 28;
      for (const level of LEVELS) {
        const whole = reference.goDeflateExact(text, { level });
        const got = streamed(core.goDeflateStream({ level }), text, cuts(n, next, 140_000));
        if (Buffer.compare(got, whole) !== 0) wrong.push(`input ${i} (${n} bytes, kind ${kind}) level ${level}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('a stream that was never written to is the empty stream; the core serves the next stream after one ends', () => {
    for (const level of LEVELS) {
      expect(Buffer.compare(streamed(core.goGzipStream({ level }), new Uint8Array(0), []), reference.goGzipExact(new Uint8Array(0), { level }))).toBe(0);
      expect(Buffer.compare(gunzipSync(streamed(core.goGzipStream({ level }), inputs.get('text-65537')!, [65537])), inputs.get('text-65537')!)).toBe(0);
    }
  });

  it('refuses levels Go does not have, and use after end', () => {
    for (const level of [-3, 10, 2.5]) expect(() => core.goGzipStream({ level })).toThrow(PatcherError);
    const stream = core.goGzipStream({ level: 6 });
    stream.end();
    expect(() => stream.end()).toThrow(PatcherError);
    expect(() => [...stream.write(new Uint8Array(4))]).toThrow(PatcherError);
  });

  it('holds about 1.3 MiB of core memory whatever the text size', async () => {
    const fresh = await loadCore();
    const before = fresh.memoryBytes();
    const text = inputs.get('text-1500000')!;
    expect(text.length).toBeGreaterThan(1_000_000);
    streamed(fresh.goGzipStream({ level: 6 }), text, cuts(text.length, rng(3), 300_000));
    expect(fresh.memoryBytes() - before).toBeLessThan(1.5 * 1024 * 1024);
  });
});

describe('the registry-gz layer blobs (dockerd 20.10, Go 1.19) rebuilt in pieces', () => {
  let pair: string;
  afterAll(() => {
    if (pair) rmSync(pair, { recursive: true, force: true });
  });

  it('both top layers come out with their own sha256, the tar fed in random pieces', () => {
    pair = unpackPair('registry-gz.tar.zst');
    const next = rng(11);
    let checked = 0;
    for (const name of ['registry-gz-old.tar', 'registry-gz-new.tar']) {
      const sub = join(pair, name.replace('.tar', ''));
      execFileSync('/bin/sh', ['-c', 'mkdir -p "$1" && tar -xf "$0" -C "$1"', join(pair, name), sub]);
      for (const blob of readdirSync(join(sub, 'blobs', 'sha256'))) {
        const bytes = readFileSync(join(sub, 'blobs', 'sha256', blob));
        if (bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes.length > 10e6) continue; // the 50 MB base: goflate.test.ts covers it
        const text = gunzipSync(bytes);
        expect(sha(streamed(core.goGzipStream({ level: 6 }), text, cuts(text.length, next, 1 << 20)))).toBe(blob);
        checked++;
      }
    }
    expect(checked).toBe(2);
  });
});
