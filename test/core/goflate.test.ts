// Go's compress/flate rebuilt (assembly/goflate.ts): byte-identical to what
// Go 1.19 wrote for fixed inputs at every level it models (hashes in
// test/fixtures/goflate-go119.json, made by test/fixtures-gen/goflate), and
// for the real layer blobs dockerd 20.10 pushed (the registry-gz pair).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, gunzipSync, inflateRawSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore } from '../../src/core/index.js';
import { PatcherError } from '../../src/errors.js';
import { REPO_ROOT, unpackPair } from '../fixtures/shared.js';
// @ts-expect-error plain ES module shared with the fixture generator
import { goflateInputs } from '../fixtures-gen/goflate/inputs.mjs';

interface Row { file: string; level: number; raw: string; rawLength: number; gzip: string; gzipLength: number }

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const BUDGET = { maxOutput: 1 << 28, maxStructure: 1 << 27 };

let core: DiffCore;
beforeAll(async () => {
  core = await loadCore();
});

describe("Go's compress/flate, rebuilt", () => {
  const fixture = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/goflate-go119.json'), 'utf8')) as { go: string; rows: Row[] };
  const inputs = new Map<string, Uint8Array>((goflateInputs() as [string, Uint8Array, number[]][]).map(([name, bytes]) => [name, bytes]));

  it('has Go output for every input and level', () => {
    expect(fixture.go).toMatch(/go1\.19/);
    expect(fixture.rows.length).toBe(354);
    for (const r of fixture.rows) expect(inputs.has(r.file)).toBe(true);
  });

  it('matches Go byte for byte: raw deflate and gzip, levels -2..9, empty to 1.5 MB', () => {
    const wrong: string[] = [];
    for (const r of fixture.rows) {
      const text = inputs.get(r.file)!;
      const raw = core.goDeflateExact(text, { level: r.level });
      if (raw.length !== r.rawLength || sha(raw) !== r.raw) wrong.push(`${r.file} level ${r.level} raw`);
      const gz = core.goGzipExact(text, { level: r.level });
      if (gz.length !== r.gzipLength || sha(gz) !== r.gzip) wrong.push(`${r.file} level ${r.level} gzip`);
    }
    expect(wrong).toEqual([]);
  });

  it('every size 0..700 and a few odd shapes decode back to the text at every level (zlib reads them)', () => {
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16;
    const shapes: Uint8Array[] = [];
    for (let n = 0; n <= 700; n += 7) shapes.push(Uint8Array.from({ length: n }, () => next() & (n % 3 === 0 ? 3 : 255)));
    shapes.push(new Uint8Array(70000), new Uint8Array(131072).fill(7), Uint8Array.from({ length: 70000 }, (_, i) => (i * 2654435761) >>> 24));
    for (const text of shapes) {
      for (let level = -2; level <= 9; level++) {
        expect(Buffer.compare(inflateRawSync(core.goDeflateExact(text, { level })), text)).toBe(0);
        expect(Buffer.compare(gunzipSync(core.goGzipExact(text, { level })), text)).toBe(0);
      }
    }
  });

  it('level -1 is level 6', () => {
    const text = inputs.get('text-65537')!;
    expect(Buffer.compare(core.goDeflateExact(text, { level: -1 }), core.goDeflateExact(text, { level: 6 }))).toBe(0);
  });

  it('refuses levels Go does not have', () => {
    for (const level of [-3, 10, 2.5, Number.NaN]) {
      expect(() => core.goDeflateExact(new Uint8Array(10), { level })).toThrow(PatcherError);
    }
  });

  it('finds the level and header of a Go-made member, with a header Go would write for a named file', () => {
    const text = inputs.get('mixed-400000')!;
    const header = Uint8Array.of(0x1f, 0x8b, 8, 8, 0x10, 0x20, 0x30, 0x40, 0, 255, ...new TextEncoder().encode('layer.tar'), 0);
    for (const level of [1, 2, 4, 6, 9, 0, -2]) {
      const gz = core.goGzipExact(text, { level, header });
      const found = core.goGzipParams(gz, BUDGET);
      expect(found).not.toBeNull();
      // Levels can agree on an input (here 7 and 9 do): any level that rebuilds the bytes is an answer.
      expect(Buffer.compare(core.goGzipExact(text, found!.params), gz)).toBe(0);
      if (level !== 9) expect(found!.params.level).toBe(level);
      expect(Buffer.compare(found!.params.header, header)).toBe(0);
      expect(Buffer.compare(found!.text, text)).toBe(0);
    }
  });

  it('answers null for streams Go did not write, truncated or not gzip at all', () => {
    const text = inputs.get('text-300000')!;
    expect(core.goGzipParams(gzipSync(text, { level: 6 }), BUDGET)).toBeNull();
    expect(core.goFirstDiff()).toBeGreaterThan(9); // the header matched, the deflate data did not
    const go = core.goGzipExact(text, { level: 6 });
    expect(core.goGzipParams(go.subarray(0, go.length - 1), BUDGET)).toBeNull();
    const flipped = go.slice();
    flipped[go.length >> 1] ^= 0x10;
    expect(core.goGzipParams(flipped, BUDGET)).toBeNull();
    expect(core.goGzipParams(text.subarray(0, 100), BUDGET)).toBeNull();
    expect(core.goGzipParams(new Uint8Array(0), BUDGET)).toBeNull();
    // Go's own stream with a byte appended: one member and nothing after it only.
    expect(core.goGzipParams(Uint8Array.of(...go.subarray(0, 64), 0), BUDGET)).toBeNull();
  });
});

describe("Go's compress/gzip layer blobs rebuilt from text and level", () => {
  it('every gzip blob of the registry-gz pair (dockerd 20.10, Go 1.19) is rebuilt byte for byte', () => {
    const pair = unpackPair('registry-gz.tar.zst');
    try {
      const seen = new Set<string>();
      for (const name of ['registry-gz-old.tar', 'registry-gz-new.tar']) {
        const sub = join(pair, name.replace('.tar', ''));
        execFileSync('/bin/sh', ['-c', 'mkdir -p "$1" && tar -xf "$0" -C "$1"', join(pair, name), sub]);
        for (const blob of readdirSync(join(sub, 'blobs', 'sha256'))) {
          const bytes = readFileSync(join(sub, 'blobs', 'sha256', blob));
          if (bytes[0] !== 0x1f || bytes[1] !== 0x8b || seen.has(blob)) continue;
          seen.add(blob);
          // goGzipParams compares every byte of its output with the blob ...
          const found = core.goGzipParams(bytes, BUDGET);
          expect(found?.params.level).toBe(6);
          expect(Array.from(found!.params.header)).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
          // ... and the top layers (7 MB each; the 50 MB base once is enough) are also rebuilt and hashed.
          if (bytes.length < 10e6) expect(sha(core.goGzipExact(found!.text, found!.params))).toBe(blob);
        }
      }
      expect(seen.size).toBe(3); // the shared base layer and each image's top layer
    } finally {
      rmSync(pair, { recursive: true, force: true });
    }
  });
});
