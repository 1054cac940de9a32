/**
 * The registry client's pure parts: references (Docker Hub defaults, ports,
 * digests, bad input), WWW-Authenticate challenges, config.json credentials,
 * the patch annotations, and the verified blob stream (a mismatch never
 * lets the last chunk through), fed in odd chunk sizes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PatcherError } from '../../src/errors.js';
import type { PatchHeader } from '../../src/format/image/container.js';
import { Annotation, patchAnnotations, fallbackTag } from '../../src/registry/artifact.js';
import { credentialsFromConfig, parseChallenge } from '../../src/registry/auth.js';
import { sha256Of, verified } from '../../src/registry/client.js';
import { isLoopback, parseReference } from '../../src/registry/reference.js';
import { uploadBlob } from '../../src/registry/upload.js';
import { testTempDir } from '../temp-dirs.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['me/app:1.2', { registry: 'docker.io', repository: 'me/app', tag: '1.2' }],
    ['127.0.0.1:5055/dp/app:2', { registry: '127.0.0.1:5055', repository: 'dp/app', tag: '2' }],
    [`localhost/app@${D}`, { registry: 'localhost', repository: 'app', digest: D }],
    [`ghcr.io/o/r/app:v1@${D}`, { registry: 'ghcr.io', repository: 'o/r/app', tag: 'v1', digest: D }],
    ['index.docker.io/library/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
  ])('%s', (ref, expected) => {
    expect(parseReference(ref, { defaultTag: true })).toEqual({ tag: undefined, digest: undefined, ...expected });
  });

  it.each(['', 'UPPER/case', 'app@sha256:12', 'a//b', 'host:99999999/app', 'app:bad/tag', './file.patch'])('refuses %j with one USAGE line', (ref) => {
    let err: unknown;
    try {
      parseReference(ref);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PatcherError);
    expect((err as PatcherError).code).toBe('USAGE');
    expect((err as PatcherError).message).not.toMatch(/\n/);
  });

  it('loopback hosts', () => {
    expect(['127.0.0.1:5000', 'localhost', '[::1]:5000', '127.8.9.10'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['10.0.0.1:5000', 'registry.example', '127.0.0.1.nip.io'].map(isLoopback)).toEqual([false, false, false]);
  });
});

describe('parseChallenge', () => {
  it('reads Bearer realm, service and a quoted scope with commas', () => {
    const c = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } });
  });
  it('reads Basic, ignores other schemes', () => {
    expect(parseChallenge('Basic realm="dp"')?.scheme).toBe('basic');
    expect(parseChallenge('Negotiate abc')).toBeUndefined();
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});

describe('credentialsFromConfig', () => {
  const dir = testTempDir('dp-dockercfg-');
  const auth = (s: string): string => Buffer.from(s).toString('base64');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: auth('hub:secret') }, 'https://reg.example:5000': { auth: auth('u:p:with:colons') }, 'bad.example': { auth: auth('nocolon') } } }),
  );
  it('finds entries by host, with or without scheme, Docker Hub under its historical key', () => {
    expect(credentialsFromConfig('docker.io', dir)).toEqual({ username: 'hub', password: 'secret' });
    expect(credentialsFromConfig('reg.example:5000', dir)).toEqual({ username: 'u', password: 'p:with:colons' });
    expect(credentialsFromConfig('other.example', dir)).toBeUndefined();
    expect(credentialsFromConfig('x', join(dir, 'missing'))).toBeUndefined();
  });
  it('an auth that is not user:password is one REGISTRY line', () => {
    expect(() => credentialsFromConfig('bad.example', dir)).toThrow(/not base64 of user:password/);
  });
});

describe('patchAnnotations', () => {
  const header = {
    formatVersion: 3,
    old: { imageId: 'sha256:old', blobs: [] },
    new: { imageId: 'sha256:new', tags: ['r/app:2', 'r/app:latest'] },
  } as unknown as PatchHeader;
  it('config digests, tags and the format version; manifest digests only when the header has them', () => {
    expect(patchAnnotations(header)).toEqual({ [Annotation.oldConfig]: 'sha256:old', [Annotation.newConfig]: 'sha256:new', [Annotation.newTags]: 'r/app:2,r/app:latest', [Annotation.formatVersion]: '3' });
    const withManifests = { ...header, old: { ...header.old, manifestDigest: 'sha256:om' }, new: { ...header.new, manifestDigest: 'sha256:nm' } } as PatchHeader;
    expect(patchAnnotations(withManifests)).toMatchObject({ [Annotation.oldManifest]: 'sha256:om', [Annotation.newManifest]: 'sha256:nm' });
  });
  it('fallback tag', () => {
    expect(fallbackTag(D)).toBe(`sha256-${'ab'.repeat(32)}`);
  });
});

describe('verified blob stream', () => {
  const data = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
  const chunks = async function* (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  };
  const collect = async (stream: AsyncIterable<Uint8Array>): Promise<{ bytes: number; error?: PatcherError }> => {
    let bytes = 0;
    try {
      for await (const c of stream) bytes += c.length;
    } catch (err) {
      return { bytes, error: err as PatcherError };
    }
    return { bytes };
  };
  it.each([1, 321, 65536, 200_000])('passes matching bytes through in %i-byte chunks', async (size) => {
    expect(await collect(verified(chunks(data, size), sha256Of(data), data.length, 'blob'))).toEqual({ bytes: data.length });
  });
  it.each([321, 65536])('a changed byte: DIGEST_MISMATCH before the last chunk (%i-byte chunks)', async (size) => {
    const bad = data.slice();
    bad[50] ^= 1;
    const r = await collect(verified(chunks(bad, size), sha256Of(data), data.length, 'blob'));
    expect(r.error?.code).toBe('DIGEST_MISMATCH');
    expect(r.bytes).toBeLessThan(data.length);
  });
  it('too short or too long: DIGEST_MISMATCH', async () => {
    expect((await collect(verified(chunks(data.subarray(0, 99_999), 4096), sha256Of(data), data.length, 'blob'))).error?.message).toMatch(/99999 bytes, its descriptor gives 100000/);
    expect((await collect(verified(chunks(data, 4096), sha256Of(data), 50_000, 'blob'))).error?.code).toBe('DIGEST_MISMATCH');
  });
});

describe('uploadBlob', () => {
  const data = new Uint8Array(10_000).map((_, i) => i & 0xff);
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < data.length; i += 777) yield data.subarray(i, i + 777);
  }
  const record = () => {
    const calls: Array<{ method: string; url: string; headers: Record<string, string>; bytes: number }> = [];
    let n = 0;
    const transport = {
      start: async () => new URL('http://r/upload/0'),
      send: async (url: URL, method: 'PATCH' | 'PUT', headers: Record<string, string>, body?: unknown) => {
        let bytes = 0;
        if (body instanceof Uint8Array) bytes = body.length;
        else if (body) for await (const c of (body as { stream: AsyncIterable<Uint8Array> }).stream) bytes += c.length;
        calls.push({ method, url: url.toString(), headers, bytes });
        return new URL(`http://r/upload/${++n}`);
      },
    };
    return { calls, transport };
  };
  it('chunked: PATCHes of chunkSize with Content-Range, each to the Location the last gave, then PUT ?digest=', async () => {
    const { calls, transport } = record();
    await uploadBlob(transport, sha256Of(data), data.length, source, { chunkSize: 4096 });
    expect(calls.map((c) => [c.method, c.headers['Content-Range'], c.bytes])).toEqual([
      ['PATCH', '0-4095', 4096],
      ['PATCH', '4096-8191', 4096],
      ['PATCH', '8192-9999', 1808],
      ['PUT', undefined, 0],
    ]);
    expect(calls.map((c) => c.url)).toEqual(['http://r/upload/0', 'http://r/upload/1', 'http://r/upload/2', `http://r/upload/3?digest=${encodeURIComponent(sha256Of(data))}`]);
  });
  it('monolithic: one PUT with the whole blob', async () => {
    const { calls, transport } = record();
    await uploadBlob(transport, sha256Of(data), data.length, source, {});
    expect(calls.map((c) => [c.method, c.bytes])).toEqual([['PUT', 10_000]]);
  });
  it('a source that is not the size it claimed: one IO line', async () => {
    const { transport } = record();
    await expect(uploadBlob(transport, sha256Of(data), data.length + 1, source, {})).rejects.toThrow(/10000 bytes, expected 10001/);
  });
});
