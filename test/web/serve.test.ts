import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRequestPath, startServer, type RunningServer } from '../../src/cli/web-server.js';
import { PatcherError } from '../../src/errors.js';

/** A raw GET (no URL normalisation by a client library), so traversal attempts reach the server as sent. */
function get(url: string, path: string, method = 'GET'): Promise<{ status: number; type?: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolveGet, rejectGet) => {
    const req = request({ hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', rejectGet);
    req.end();
  });
}

describe('serve: static files for the browser demo', () => {
  let dir: string;
  let root: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dp-serve-'));
    root = join(dir, 'dist');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'main.js'), 'console.log(1)');
    writeFileSync(join(root, 'style.css'), 'body{}');
    writeFileSync(join(root, 'diffcore.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d]));
    writeFileSync(join(root, 'sub', 'index.html'), 'sub');
    writeFileSync(join(root, 'notes.xyz'), 'unknown type');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    symlinkSync(join(dir, 'secret.txt'), join(root, 'link.txt'));
    server = await startServer({ port: 0, root });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 and a free port by default with --port 0', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('serves files with the right MIME types', async () => {
    expect(await get(server.url, '/')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(await get(server.url, '/main.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await get(server.url, '/style.css')).toMatchObject({ status: 200, type: 'text/css; charset=utf-8' });
    expect(await get(server.url, '/diffcore.wasm')).toMatchObject({ status: 200, type: 'application/wasm' });
    expect(await get(server.url, '/sub/')).toMatchObject({ status: 200, body: 'sub' });
    expect(await get(server.url, '/main.js?v=1')).toMatchObject({ status: 200 });
    expect(await get(server.url, '/main.js', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('answers 404 for missing files, directories without index, unknown types', async () => {
    expect((await get(server.url, '/nope.js')).status).toBe(404);
    expect((await get(server.url, '/notes.xyz')).status).toBe(404);
    expect((await get(server.url, '/sub')).status).toBe(404);
  });

  it('never leaves the root', async () => {
    for (const path of ['/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/link.txt', '/%00', '/..\\secret.txt', '/%zz']) {
      const response = await get(server.url, path);
      expect(response.status, path).toBe(404);
      expect(response.body, path).not.toContain('outside');
    }
    expect(await resolveRequestPath(root, '/../secret.txt')).toBeNull();
  });

  it('refuses other methods', async () => {
    expect((await get(server.url, '/', 'POST')).status).toBe(405);
  });

  it('says to build when the page is missing, and names a busy port', async () => {
    await expect(startServer({ port: 0, root: join(dir, 'missing') })).rejects.toThrow(/run npm run build/);
    const port = Number(new URL(server.url).port);
    const busy = startServer({ port, root });
    await expect(busy).rejects.toBeInstanceOf(PatcherError);
    await expect(busy).rejects.toThrow(`port ${port} on 127.0.0.1 is in use`);
  });
});
