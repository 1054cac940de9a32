// Exact gzip on real files: every gzip entry of the nginx pair's Debian layers
// (GNU gzip -9n made most of them) round-trips byte for byte, with the text zlib gives.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type DiffCore } from '../../src/core/index.js';
import { NGINX, unpackPair } from '../fixtures/shared.js';

let core: DiffCore;
let dir: string;
beforeAll(async () => {
  core = await loadCore();
  dir = unpackPair(NGINX.file);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Data of every tar entry that starts with the gzip magic (by content, not name). */
function gzipEntries(tar: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0;) {
    const size = parseInt(new TextDecoder().decode(tar.subarray(at + 124, at + 136)).replace(/\0.*$/, '').trim() || '0', 8);
    const data = tar.subarray(at + 512, at + 512 + size);
    if (data.length > 18 && data[0] === 0x1f && data[1] === 0x8b && data[2] === 8) out.push(data);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('exact gzip on real Debian files', () => {
  it('every gzip entry of both layers of the old and new nginx images round-trips', () => {
    const tars = new Map<string, string>();
    for (const name of [NGINX.old.name, NGINX.new.name]) tars.set(name, join(dir, name.replace('.tar', '')));
    let files = 0;
    let bytes = 0;
    const failures: string[] = [];
    for (const [name, sub] of tars) {
      unpackArchive(name, sub);
      for (const layer of readdirSync(sub).filter((d) => /^[0-9a-f]{64}$/.test(d))) {
        const tar = readFileSync(join(sub, layer, 'layer.tar'));
        for (const gz of gzipEntries(tar)) {
          const form = core.gunzipExact(gz, { maxOutput: 1 << 26, maxStructure: 1 << 24 });
          const again = core.gzipExact(form, gz.length);
          if (Buffer.compare(again, gz) !== 0 || Buffer.compare(form.text, gunzipSync(gz)) !== 0) failures.push(`${layer} #${files}`);
          files++;
          bytes += gz.length;
        }
      }
    }
    console.log(`real gzip entries: ${files - failures.length}/${files} exact, ${bytes} compressed bytes`);
    expect(files).toBeGreaterThan(1500);
    expect(failures).toEqual([]);
  });
});

describe("exact gzip on Go's compress/gzip layer blobs", () => {
  it('every layer blob of the registry-gz pair (pushed by dockerd 20.10) round-trips', () => {
    const pair = unpackPair('registry-gz.tar.zst');
    try {
      let blobs = 0;
      for (const name of ['registry-gz-old.tar', 'registry-gz-new.tar']) {
        const sub = join(pair, name.replace('.tar', ''));
        execFileSync('/bin/sh', ['-c', 'mkdir -p "$1" && tar -xf "$0" -C "$1"', join(pair, name), sub]);
        for (const blob of readdirSync(join(sub, 'blobs', 'sha256'))) {
          const bytes = readFileSync(join(sub, 'blobs', 'sha256', blob));
          if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) continue;
          const form = core.gunzipExact(bytes, { maxOutput: 1 << 28, maxStructure: 1 << 27 });
          expect(Buffer.compare(core.gzipExact(form, bytes.length), bytes)).toBe(0);
          expect(form.text.length).toBeGreaterThan(bytes.length);
          blobs++;
        }
      }
      expect(blobs).toBe(4); // base and top layer of each image
    } finally {
      rmSync(pair, { recursive: true, force: true });
    }
  });
});

/** Unpack one docker save archive of the pair into `sub`. */
function unpackArchive(name: string, sub: string): void {
  execFileSync('/bin/sh', ['-c', 'mkdir -p "$1" && tar -xf "$0" -C "$1"', join(dir, name), sub]);
}
