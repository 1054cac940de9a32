import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PatcherError } from '../../src/errors.js';
import { memorySource } from '../../src/image/source.js';
import { encodeUstarHeader, paddingSize } from '../../src/image/tar-header.js';
import { indexTar, readTar } from '../../src/image/tar.js';
import {
  buildDockerArchive, buildDockerOciArchive, buildLayerTar, buildOciArchive, emptyLayersSpec,
  SAMPLE_LONG_PATH, SAMPLE_PREFIX_PATH, samplePair,
} from '../fixtures/images.js';
import { chunked, collect, rebuildTarBytes } from './util.js';

const CHUNK_SIZES = [1, 7, 321, 4096 + 3];
const enc = new TextEncoder();

/** One hand-made entry: Go-style header, data, then the given padding (default zeros). */
function rawEntry(name: string, data: Uint8Array, opts: { typeflag?: string; padding?: Uint8Array } = {}): Uint8Array[] {
  const header = encodeUstarHeader({ name, typeflag: opts.typeflag ?? '0', size: data.length });
  return [header, data, opts.padding ?? new Uint8Array(paddingSize(data.length))];
}

function join_(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** Rewrite a header's size field as GNU base-256 and fix its checksum. */
function base256Size(header: Uint8Array, size: number): Uint8Array {
  const h = header.slice();
  h.fill(0, 124, 136);
  h[124] = 0x80;
  for (let i = 135, v = size; v > 0; i--, v = Math.floor(v / 256)) h[i] = v % 256;
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(enc.encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
  return h;
}

let tmp: string;
const fixtures = new Map<string, Uint8Array>();

beforeAll(async () => {
  const { old, new: next } = samplePair();
  for (const [name, spec] of [['old', old], ['new', next]] as const) {
    for (const [i, layer] of spec.layers.entries()) fixtures.set(`${name}-layer${i}`, await buildLayerTar(layer));
    fixtures.set(`${name}-docker`, await buildDockerArchive(spec));
  }
  fixtures.set('docker-oci', await buildDockerOciArchive(old));
  fixtures.set('oci-gzip', await buildOciArchive(next, { gzip: true }));
  fixtures.set('docker-two-images', await buildDockerArchive([old, next]));
  fixtures.set('docker-empty-layers', await buildDockerArchive(emptyLayersSpec()));

  // GNU and PAX tars written by GNU tar itself.
  tmp = mkdtempSync(join(tmpdir(), 'dp-tar-'));
  const longDir = join(tmp, 'src', 'd'.repeat(60), 'e'.repeat(60));
  mkdirSync(longDir, { recursive: true });
  writeFileSync(join(longDir, 'f'.repeat(90)), 'long name\n');
  symlinkSync('t'.repeat(120), join(tmp, 'src', 'longlink'));
  writeFileSync(join(tmp, 'src', 'small.txt'), 'x'.repeat(700));
  for (const format of ['gnu', 'pax', 'ustar', 'v7']) {
    const out = join(tmp, `${format}.tar`);
    const names = format === 'gnu' || format === 'pax' ? ['.'] : ['small.txt'];
    execFileSync('tar', [`--format=${format}`, '--sort=name', '-cf', out, '-C', join(tmp, 'src'), ...names]);
    fixtures.set(`gnu-tar-${format}`, readFileSync(out));
  }

  // Hand-made edge cases.
  const hello = enc.encode('hello world\n');
  fixtures.set('nonzero-padding', join_([...rawEntry('a.txt', hello, { padding: new Uint8Array(500).fill(0x41) }), new Uint8Array(1024)]));
  fixtures.set('base256-size', join_([base256Size(encodeUstarHeader({ name: 'big', typeflag: '0', size: hello.length }), hello.length), hello, new Uint8Array(500), new Uint8Array(1024)]));
  const pax = enc.encode('30 comment=a global comment...\n');
  fixtures.set('global-pax', join_([...rawEntry('pax_global_header', pax, { typeflag: 'g' }), ...rawEntry('b.txt', hello), new Uint8Array(1024)]));
  fixtures.set('trailing-garbage', join_([...rawEntry('c.txt', hello), new Uint8Array(1024), enc.encode('garbage after the end')]));
  fixtures.set('no-end-blocks', join_(rawEntry('d.txt', hello)));
  fixtures.set('empty-file-entry', join_([...rawEntry('empty', new Uint8Array(0)), new Uint8Array(10240 - 512)]));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('readTar round trip', () => {
  test('every fixture, whole and in odd chunk sizes', async () => {
    expect(fixtures.size).toBeGreaterThan(20);
    for (const [name, bytes] of fixtures) {
      for (const size of [bytes.length || 1, ...CHUNK_SIZES]) {
        const { bytes: rebuilt } = await rebuildTarBytes(chunked(bytes, size));
        expect(rebuilt.length, `${name} @${size}`).toBe(bytes.length);
        expect(Buffer.compare(rebuilt, bytes), `${name} @${size}`).toBe(0);
      }
    }
  });

  test('indexTar agrees with readTar on names, offsets, headers and trailer', async () => {
    for (const [name, bytes] of fixtures) {
      const streamed = await rebuildTarBytes(chunked(bytes, 321));
      const indexed = await indexTar(memorySource(bytes));
      expect(indexed.entries, name).toEqual(streamed.entries);
      expect(indexed.end, name).toEqual(streamed.end);
    }
  });
});

describe('readTar entries', () => {
  test('resolves PAX, ustar prefix, GNU long names and links', async () => {
    const layer0 = (await indexTar(memorySource(fixtures.get('old-layer0')!))).entries;
    const long = layer0.find((e) => e.name === SAMPLE_LONG_PATH)!;
    expect(long.header.length).toBeGreaterThan(512); // PAX 'x' block + data + header
    expect(layer0.find((e) => e.name === SAMPLE_PREFIX_PATH)!.header.length).toBe(512);

    const gnu = (await indexTar(memorySource(fixtures.get('gnu-tar-gnu')!))).entries;
    const longName = `./${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}`;
    const file = gnu.find((e) => e.name === longName)!;
    expect(file.type).toBe('file');
    expect(file.header.length).toBe(512 * 3); // 'L' header, its data, the entry header
    const link = gnu.find((e) => e.name === './longlink')!;
    expect(link).toMatchObject({ type: 'symlink', linkname: 't'.repeat(120), size: 0 });

    const pax = (await indexTar(memorySource(fixtures.get('gnu-tar-pax')!))).entries;
    expect(pax.find((e) => e.name === longName)?.type).toBe('file');
    expect(pax.find((e) => e.name === './longlink')?.linkname).toBe('t'.repeat(120));
  });

  test('types, sizes, modes and data', async () => {
    const reader = readTar(chunked(fixtures.get('old-layer1')!, 7));
    const seen: Record<string, unknown> = {};
    for await (const e of reader) {
      seen[e.name] = { type: e.type, linkname: e.linkname, size: e.size, data: new TextDecoder().decode(await collect(e.data)) };
    }
    expect(seen).toEqual({
      'app/current': { type: 'symlink', linkname: 'data/blob.bin', size: 0, data: '' },
      'app/bin/start.sh': { type: 'file', linkname: '', size: 32, data: '#!/bin/sh\n/app/bin/run.sh start\n' },
      'app/bin/stop.sh': { type: 'link', linkname: 'app/bin/start.sh', size: 0, data: '' },
    });
  });

  test('base-256 size, non-zero padding, global header, trailing bytes', async () => {
    const big = (await indexTar(memorySource(fixtures.get('base256-size')!))).entries[0];
    expect(big.size).toBe(12);
    const padded = (await indexTar(memorySource(fixtures.get('nonzero-padding')!))).entries[0];
    expect(padded.padding).toEqual(new Uint8Array(500).fill(0x41));
    const global = (await indexTar(memorySource(fixtures.get('global-pax')!))).entries;
    expect(global.map((e) => [e.name, e.header.length])).toEqual([['b.txt', 1536]]);
    const garbage = await indexTar(memorySource(fixtures.get('trailing-garbage')!));
    expect(new TextDecoder().decode(garbage.end.trailer.subarray(1024))).toBe('garbage after the end');
    expect((await indexTar(memorySource(fixtures.get('no-end-blocks')!))).end.trailer.length).toBe(0);
  });

  test('entries whose data the consumer skips or half-reads', async () => {
    const bytes = fixtures.get('old-layer0')!;
    const names: string[] = [];
    let i = 0;
    for await (const e of readTar(chunked(bytes, 4099))) {
      names.push(e.name);
      if (i++ % 2 === 0) continue; // skip the data entirely
      for await (const _chunk of e.data) break; // read one chunk, then leave
    }
    const expected = (await indexTar(memorySource(bytes))).entries.map((e) => e.name);
    expect(names).toEqual(expected);
  });

  test('reading data after asking for the next entry fails', async () => {
    const it = readTar(chunked(fixtures.get('old-layer1')!, 512))[Symbol.asyncIterator]();
    const first = (await it.next()).value!;
    await it.next();
    await expect(collect(first.data)).rejects.toThrow(/after the next entry/);
  });

  test('pulls input only as fast as the consumer reads', async () => {
    const bytes = fixtures.get('old-layer0')!;
    let pulled = 0;
    async function* counting() {
      for await (const c of chunked(bytes, 1024)) {
        pulled++;
        yield c;
      }
    }
    for await (const e of readTar(counting())) {
      if (e.name !== 'app/data/blob.bin') continue;
      const before = pulled;
      const it = e.data[Symbol.asyncIterator]();
      await it.next();
      await it.next();
      expect(pulled - before).toBeLessThanOrEqual(2);
      expect(pulled * 1024).toBeLessThan(e.dataOffset + 4096);
      break;
    }
  });
});

describe('readTar errors', () => {
  const expectBad = async (bytes: Uint8Array, message: RegExp) => {
    const err = await rebuildTarBytes(chunked(bytes, 321)).catch((e) => e);
    expect(err).toBeInstanceOf(PatcherError);
    expect(err.code).toBe('BAD_IMAGE');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
    const indexed = await indexTar(memorySource(bytes)).catch((e) => e);
    expect(indexed.message).toMatch(message);
  };

  test('truncated archives', async () => {
    const bytes = fixtures.get('old-layer0')!;
    await expectBad(bytes.subarray(0, 100_000), /^truncated tar archive: data of /);
    await expectBad(bytes.subarray(0, 512 + 100), /^truncated tar archive: header/);
    const pax = (await indexTar(memorySource(bytes))).entries.find((e) => e.name === SAMPLE_LONG_PATH)!;
    await expectBad(bytes.subarray(0, pax.headerOffset + 700), /^truncated tar archive/);
    await expectBad(bytes.subarray(0, pax.headerOffset + 1024), /^truncated tar archive: metadata/);
  });

  test('inputs that are not tar archives', async () => {
    await expectBad(new Uint8Array(0), /^not a tar archive: empty input/);
    await expectBad(enc.encode('{"not":"a tar"}'), /^not a tar archive: only 15 bytes/);
    await expectBad(enc.encode('x'.repeat(2000)), /^not a tar archive: header checksum mismatch/);
  });

  test('a corrupt header further in', async () => {
    const bytes = fixtures.get('old-layer1')!.slice();
    const second = (await indexTar(memorySource(bytes))).entries[1].headerOffset;
    bytes[second + 5] ^= 0xff;
    await expectBad(bytes, new RegExp(`^bad tar header at offset ${second}: header checksum mismatch`));
  });
});
