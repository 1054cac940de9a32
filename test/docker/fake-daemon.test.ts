/**
 * DockerClient against a tiny fake Engine API (HTTP over a unix socket in a
 * temp dir): version negotiation, errors inside a 200 stream, HTTP errors,
 * timeouts and backpressure, all deterministic and daemon-free.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { DockerClient, MAX_API_VERSION } from '../../src/docker/index.js';
import { rejection } from './helpers.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Fake {
  client: DockerClient;
  socketPath: string;
  /** `METHOD path` of every request, in order. */
  requests: string[];
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A fake daemon; `/version` answers `version` unless `routes` handles it. */
async function fakeDaemon(
  routes: Record<string, Handler>,
  version: Record<string, string> = { ApiVersion: '1.41', MinAPIVersion: '1.12' },
  options: ConstructorParameters<typeof DockerClient>[0] = {},
): Promise<Fake> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-fake-'));
  const socketPath = path.join(dir, 'docker.sock');
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const route = `${req.method} ${req.url!.replace(/\?.*$/, '')}`;
    const handler = routes[route];
    if (handler) return handler(req, res);
    if (route === 'GET /version') return void res.end(JSON.stringify(version));
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: `no route ${route}` }));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { client: new DockerClient({ host: `unix://${socketPath}`, ...options }), socketPath, requests };
}

/** Answer 200 and send `text` in `size`-byte slices, draining the request first. */
function streamReply(text: string, size = 7): Handler {
  return (req, res) => {
    req.resume();
    req.on('end', async () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (let at = 0; at < text.length; at += size) {
        res.write(text.slice(at, at + size));
        await sleep(1);
      }
      res.end();
    });
  };
}

async function* bytes(n: number, chunk = 1000): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < n; sent += chunk) yield new Uint8Array(Math.min(chunk, n - sent));
}

describe('API version negotiation', () => {
  const inspect = { 'GET /v1.41/images/a/json': (_q: unknown, res: http.ServerResponse) => res.end('{"Id":"sha256:1"}') };

  it('uses the daemon version when it is below our cap', async () => {
    const fake = await fakeDaemon(inspect as Record<string, Handler>);
    expect((await fake.client.inspectImage('a')).Id).toBe('sha256:1');
    expect(fake.requests).toEqual(['GET /version', 'GET /v1.41/images/a/json']);
    await fake.client.inspectImage('a'); // negotiated once
    expect(fake.requests.filter((r) => r === 'GET /version')).toHaveLength(1);
  });

  it('caps a newer daemon at MAX_API_VERSION, unless its minimum is higher', async () => {
    const capped = await fakeDaemon({}, { ApiVersion: '1.52', MinAPIVersion: '1.24' });
    expect(await capped.client.apiVersion()).toBe(MAX_API_VERSION);
    const raised = await fakeDaemon({}, { ApiVersion: '1.52', MinAPIVersion: '1.50' });
    expect(await raised.client.apiVersion()).toBe('1.50');
  });

  it('falls back to the /_ping Api-Version header', async () => {
    const fake = await fakeDaemon(
      { 'GET /_ping': (_req, res) => res.writeHead(200, { 'Api-Version': '1.40' }).end('OK') },
      {},
    );
    expect(await fake.client.apiVersion()).toBe('1.40');
  });

  it('refuses a daemon older than API 1.24', async () => {
    const fake = await fakeDaemon({}, { ApiVersion: '1.12' });
    const err = await rejection(fake.client.apiVersion());
    expect(err.message).toBe('docker: daemon API 1.12 is too old (need 1.24 or newer)');
  });

  it('skips negotiation when apiVersion is given', async () => {
    const fake = await fakeDaemon(inspect as Record<string, Handler>, {}, { apiVersion: '1.41' });
    await fake.client.inspectImage('a');
    expect(fake.requests).toEqual(['GET /v1.41/images/a/json']);
  });
});

describe('POST /images/load progress stream', () => {
  const loaded = '{"stream":"Loaded image: foo:bar\\n"}\r\n{"stream":"Loaded image ID: sha256:abc\\n"}\r\n';

  it('collects what was loaded, whatever the slicing', async () => {
    const fake = await fakeDaemon({ 'POST /v1.41/images/load': streamReply(loaded, 5) });
    expect(await fake.client.loadImage(bytes(10_000))).toEqual({ loaded: ['foo:bar', 'sha256:abc'] });
    expect(fake.requests.at(-1)).toBe('POST /v1.41/images/load?quiet=1');
  });

  it('accepts podman-style single JSON without a trailing newline', async () => {
    const fake = await fakeDaemon({ 'POST /v1.41/images/load': streamReply('{"stream":"Loaded image: x:y\\n"}') });
    expect((await fake.client.loadImage(bytes(10))).loaded).toEqual(['x:y']);
  });

  it('throws DOCKER for an error inside the 200 stream, sliced at odd places', async () => {
    const body =
      '{"status":"Loading layer","progressDetail":{"current":1,"total":2}}\r\n' +
      '{"errorDetail":{"message":"invalid diffID for layer 0:\\n expected x"},"error":"invalid diffID for layer 0: expected x"}\r\n';
    const fake = await fakeDaemon({ 'POST /v1.41/images/load': streamReply(body, 3) });
    const err = await rejection(fake.client.loadImage(bytes(5000)));
    expect(err.code).toBe(ErrorCode.Docker);
    expect(err.message).toBe('docker: image load failed: invalid diffID for layer 0: expected x');
  });

  it('throws DOCKER when the stream reports nothing loaded', async () => {
    const fake = await fakeDaemon({ 'POST /v1.41/images/load': streamReply('') });
    const err = await rejection(fake.client.loadImage(bytes(10)));
    expect(err.message).toBe('docker: image load failed: the daemon reported no image loaded');
  });

  it('throws DOCKER for an HTTP error status with a JSON message', async () => {
    const fake = await fakeDaemon({
      'POST /v1.41/images/load': (req, res) => {
        req.resume();
        res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"disk\\nfull"}');
      },
    });
    const err = await rejection(fake.client.loadImage(bytes(10)));
    expect(err.message).toBe('docker: image load failed: disk full (HTTP 500)');
  });

  it('throws DOCKER when the daemon drops the connection mid-stream', async () => {
    const fake = await fakeDaemon({
      'POST /v1.41/images/load': (req, res) => {
        req.resume();
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"status":"Loading"}\r\n');
        setTimeout(() => res.socket?.destroy(), 20);
      },
    });
    const err = await rejection(fake.client.loadImage(bytes(10)));
    expect(err.code).toBe(ErrorCode.Docker);
    expect(err.message).toMatch(/^docker: connection to the daemon at unix:\/\/.* failed \(/);
  });

  it('pulls the tar only as fast as the daemon reads it (backpressure)', async () => {
    let pausedReq: http.IncomingMessage | undefined;
    const fake = await fakeDaemon({
      'POST /v1.41/images/load': (req) => {
        req.pause(); // read nothing
        pausedReq = req;
      },
    });
    let pulled = 0;
    const total = 256 << 20;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (; pulled < total; ) {
        pulled += 64 << 10;
        yield new Uint8Array(64 << 10);
      }
    }
    const load = fake.client.loadImage(source());
    load.catch(() => {});
    await sleep(300);
    expect(pausedReq).toBeDefined();
    // Socket buffers on both sides are a few MiB at most; nowhere near 256 MiB.
    expect(pulled).toBeLessThan(16 << 20);
  });
});

describe('GET /images/{name}/get', () => {
  it('reads the socket only as fast as the consumer iterates (backpressure)', async () => {
    let written = 0;
    const fake = await fakeDaemon({
      'GET /v1.41/images/big/get': async (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/x-tar' });
        const chunk = Buffer.alloc(64 << 10);
        for (let i = 0; i < 4096 && !res.destroyed; i++) {
          written += chunk.length;
          if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
        }
        res.end();
      },
    });
    const it = fake.client.saveImage('big');
    const first = await it.next();
    expect(first.done).toBe(false);
    await sleep(300);
    expect(written).toBeLessThan(16 << 20); // of 256 MiB offered
    await it.return(undefined); // closes the connection
  });

  it('maps 404 to NOT_FOUND and 500 to DOCKER', async () => {
    const fake = await fakeDaemon({
      'GET /v1.41/images/bad/get': (_req, res) => res.writeHead(500).end('boom'),
    });
    const drain = async (ref: string) => {
      for await (const _ of fake.client.saveImage(ref));
    };
    expect((await rejection(drain('nope:1'))).message).toBe('image not found: nope:1');
    expect((await rejection(drain('bad'))).message).toBe('docker: boom (HTTP 500)');
  });
});

describe('transport errors', () => {
  it('ECONNREFUSED on a socket path that is not listening', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-fake-'));
    const socketPath = path.join(dir, 'docker.sock');
    fs.writeFileSync(socketPath, '');
    try {
      const err = await rejection(new DockerClient({ host: socketPath }).ping());
      expect(err.message).toBe(`docker: cannot reach the daemon at unix://${socketPath} (ECONNREFUSED)`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ECONNREFUSED on tcp://', async () => {
    const err = await rejection(new DockerClient({ host: 'tcp://127.0.0.1:1' }).ping());
    expect(err.message).toBe('docker: cannot reach the daemon at tcp://127.0.0.1:1 (ECONNREFUSED)');
  });

  it('times out a daemon that accepts but never answers', async () => {
    const fake = await fakeDaemon({ 'GET /_ping': () => {} }, {}, { requestTimeoutMs: 200 });
    const err = await rejection(fake.client.ping());
    expect(err.code).toBe(ErrorCode.Docker);
    expect(err.message).toMatch(/failed \(ETIMEDOUT\)$/);
  });
});
