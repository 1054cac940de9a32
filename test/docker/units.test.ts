/** Pure helpers of src/docker: DOCKER_HOST parsing, version choice, tag splitting, JSON-lines. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, PatcherError } from '../../src/errors.js';
import {
  DockerClient,
  jsonMessages,
  messageError,
  negotiateVersion,
  parseDockerHost,
  splitRepoTag,
} from '../../src/docker/index.js';

describe('parseDockerHost', () => {
  it('defaults to the standard unix socket', () => {
    expect(parseDockerHost(undefined)).toEqual({
      kind: 'unix',
      url: 'unix:///var/run/docker.sock',
      socketPath: '/var/run/docker.sock',
    });
    expect(parseDockerHost('  ').kind).toBe('unix');
  });

  it('parses unix://, bare paths, tcp:// and http://', () => {
    expect(parseDockerHost('unix:///tmp/x.sock')).toMatchObject({ socketPath: '/tmp/x.sock' });
    expect(parseDockerHost('/tmp/y.sock')).toMatchObject({ url: 'unix:///tmp/y.sock', socketPath: '/tmp/y.sock' });
    expect(parseDockerHost('tcp://10.0.0.2:2376')).toEqual({
      kind: 'tcp',
      url: 'tcp://10.0.0.2:2376',
      hostname: '10.0.0.2',
      port: 2376,
    });
    expect(parseDockerHost('tcp://dockerhost')).toMatchObject({ hostname: 'dockerhost', port: 2375 });
    expect(parseDockerHost('http://[::1]:2375')).toMatchObject({ hostname: '::1', port: 2375 });
  });

  it('refuses what it cannot speak, with DOCKER one-liners', () => {
    for (const host of ['ssh://me@box', 'npipe:////./pipe/docker_engine', 'https://h:2376', 'unix://rel.sock', 'tcp://h:1/x']) {
      let err: unknown;
      try {
        parseDockerHost(host);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PatcherError);
      expect((err as PatcherError).code).toBe(ErrorCode.Docker);
      expect((err as PatcherError).message).toMatch(new RegExp(`^docker: unsupported DOCKER_HOST ${host.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(`));
    }
  });
});

describe('DockerClient.fromEnv', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('takes DOCKER_HOST and DOCKER_API_VERSION, the host option first', async () => {
    vi.stubEnv('DOCKER_HOST', 'tcp://example:1234');
    vi.stubEnv('DOCKER_API_VERSION', '1.40');
    vi.stubEnv('DOCKER_TLS_VERIFY', '');
    const client = DockerClient.fromEnv();
    expect(client.host).toBe('tcp://example:1234');
    expect(await client.apiVersion()).toBe('1.40');
    expect(DockerClient.fromEnv({ host: 'unix:///x.sock' }).host).toBe('unix:///x.sock');
  });

  it('refuses tcp:// with DOCKER_TLS_VERIFY', () => {
    vi.stubEnv('DOCKER_HOST', 'tcp://example:2376');
    vi.stubEnv('DOCKER_TLS_VERIFY', '1');
    expect(() => DockerClient.fromEnv()).toThrow(/^docker: unsupported DOCKER_HOST tcp:\/\/example:2376 \(DOCKER_TLS_VERIFY/);
  });
});

describe('negotiateVersion', () => {
  it('takes the lower of ours and the daemon, within its minimum', () => {
    expect(negotiateVersion('1.41', '1.12')).toBe('1.41');
    expect(() => negotiateVersion('1.9')).toThrow(/daemon API 1.9 is too old/); // 9 < 24, not '1.9' > '1.24'
    expect(negotiateVersion('1.99', '1.24')).toBe('1.47');
    expect(negotiateVersion('1.52', '1.48')).toBe('1.48');
    expect(negotiateVersion(undefined)).toBe('1.24');
  });
});

describe('splitRepoTag', () => {
  it('splits at the last colon after the last slash', () => {
    expect(splitRepoTag('foo:bar')).toEqual({ repo: 'foo', tag: 'bar' });
    expect(splitRepoTag('foo')).toEqual({ repo: 'foo', tag: 'latest' });
    expect(splitRepoTag('reg:5000/ns/foo')).toEqual({ repo: 'reg:5000/ns/foo', tag: 'latest' });
    expect(splitRepoTag('reg:5000/ns/foo:1.2')).toEqual({ repo: 'reg:5000/ns/foo', tag: '1.2' });
    expect(() => splitRepoTag('foo@sha256:abc')).toThrow(/digest/);
  });
});

describe('jsonMessages', () => {
  async function* slices(text: string, size: number): AsyncGenerator<Uint8Array> {
    const bytes = new TextEncoder().encode(text);
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  }

  it('splits JSON lines across any slicing, multibyte text included', async () => {
    const text = '{"stream":"Loaded image: é:1\\n"}\r\n\r\nnot json\n{"error":"x"}';
    for (const size of [1, 2, 3, 321, 10_000]) {
      const out = [];
      for await (const m of jsonMessages(slices(text, size))) out.push(m);
      expect(out).toEqual([{ stream: 'Loaded image: é:1\n' }, { stream: 'not json' }, { error: 'x' }]);
    }
  });

  it('refuses an endless line', async () => {
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) yield new Uint8Array(64 << 10).fill(0x41);
    }
    await expect(jsonMessages(endless()).next()).rejects.toThrow(/longer than/);
  });

  it('reads errorDetail.message, else error, on one line', () => {
    expect(messageError({ errorDetail: { message: 'a\nb' }, error: 'c' })).toBe('a b');
    expect(messageError({ errorDetail: {}, error: 'c' })).toBe('c');
    expect(messageError({ stream: 'ok' })).toBeUndefined();
  });
});
