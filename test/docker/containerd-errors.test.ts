/**
 * apply's one-line errors against a daemon that names images by manifest
 * digest (a fake containerd-store Engine API on a unix socket, so each
 * failure is deterministic): a daemon that refuses every load, one that
 * reports another image than the patch makes, and one that loads the image
 * but does not list it (dockerd 26's silently broken partial load,
 * docs/engines.md). Through the CLI binary; OLD is an archive, so only the
 * load talks to the daemon.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, exitStatus } from '../../src/errors.js';
import { openImageArchive } from '../../src/image/archive.js';
import { fileSource, nodeHasher } from '../../src/image/source.node.js';
import { buildDockerOciArchive, samplePair } from '../fixtures/images.js';
import { ensureBuilt, ROOT } from './helpers.js';

const BIN = path.join(ROOT, 'bin/docker-patcher.js');

interface Behaviour {
  /** The JSON lines POST /images/load answers with. */
  load: () => unknown[];
  /** What GET /images/json lists. */
  listed: () => string[];
}

let tmp = '';
let socket = '';
let server: http.Server;
let behaviour: Behaviour;
let manifest = '';
let config = '';
const requests: string[] = [];

function fakeContainerdStore(): http.Server {
  const held = new Set<string>();
  return http.createServer((req, res) => {
    const url = decodeURIComponent(req.url!.replace(/^\/v1\.45/, '').replace(/\?.*$/, ''));
    requests.push(`${req.method} ${url}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    req.resume();
    if (url === '/_ping') return void res.end('OK');
    if (url === '/version') return json(200, { ApiVersion: '1.45', MinAPIVersion: '1.24' });
    if (url === '/info') return json(200, { Driver: 'overlayfs', DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']] });
    if (req.method === 'POST' && url === '/images/load') {
      req.on('end', () => {
        const lines = behaviour.load();
        for (const line of lines) {
          const id = /Loaded image ID: (sha256:[0-9a-f]{64})/.exec(JSON.stringify(line))?.[1];
          if (id) held.add(id);
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(lines.map((l) => JSON.stringify(l)).join('\r\n'));
      });
      return;
    }
    if (url === '/images/json') return json(200, behaviour.listed().map((Id) => ({ Id })));
    const inspect = /^\/images\/(sha256:[0-9a-f]{64})\/json$/.exec(url);
    if (inspect && held.has(inspect[1])) return json(200, { Id: inspect[1], RepoTags: [], RootFS: { Type: 'layers', Layers: [] } });
    if (req.method === 'POST' && /\/tag$/.test(url)) return json(201, {});
    return json(404, { message: `No such image: ${url}` });
  });
}

/** The CLI against the fake (asynchronously: the fake answers from this process's event loop). */
function patcher(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '-H', `unix://${socket}`], { cwd: tmp, timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A failed run: its exit status and one error line (besides the note on falling back to the full archive). */
function oneLine(run: { status: number | null; stderr: string }, code: ErrorCode): string {
  expect(run.status, run.stderr).toBe(exitStatus[code]);
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('\r') && !l.startsWith('daemon refused the partial archive'));
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^docker-patcher: \S/);
  return lines[0];
}

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-containerd-errors-'));
  const pair = samplePair();
  fs.writeFileSync(path.join(tmp, 'old.tar'), await buildDockerOciArchive(pair.old));
  fs.writeFileSync(path.join(tmp, 'new.tar'), await buildDockerOciArchive(pair.new));
  const source = await fileSource(path.join(tmp, 'new.tar'));
  const neu = await openImageArchive(source, { hasher: nodeHasher });
  await source.close?.();
  manifest = neu.manifestDigest!;
  config = neu.imageId;
  expect(manifest).toMatch(/^sha256:[0-9a-f]{64}$/);
  const created = spawnSync(process.execPath, [BIN, 'create', 'old.tar', 'new.tar', 'p.patch'], { cwd: tmp });
  expect(created.status, created.stderr.toString()).toBe(0);
  socket = path.join(tmp, 'docker.sock');
  server = fakeContainerdStore();
  await new Promise<void>((resolve) => server.listen(socket, resolve));
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  if (server) await new Promise((resolve) => server.close(resolve));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('apply into a containerd-store daemon that misbehaves: one line, nothing tagged', () => {
  it('a daemon that refuses every load: the partial archive, then the full one', async () => {
    requests.length = 0;
    behaviour = { load: () => [{ errorDetail: { message: 'failed to unpack loaded image: content digest not found' }, error: 'failed to unpack loaded image: content digest not found' }], listed: () => [] };
    const line = oneLine(await patcher(['apply', 'old.tar', manifest.slice(7, 19), 'p.patch', '-t', 'dp-test/x:1']), ErrorCode.Docker);
    expect(line).toContain('content digest not found');
    expect(requests.filter((r) => r === 'POST /images/load')).toHaveLength(2);
    expect(requests.some((r) => r.endsWith('/tag'))).toBe(false);
  });

  it('a daemon that reports another image than the patch makes (by either identity)', async () => {
    requests.length = 0;
    const other = `sha256:${'ab'.repeat(32)}`;
    behaviour = { load: () => [{ stream: `Loaded image ID: ${other}\n` }], listed: () => [other] };
    const line = oneLine(await patcher(['apply', 'old.tar', config.slice(7), 'p.patch', '-t', 'dp-test/x:1']), ErrorCode.DigestMismatch);
    expect(line).toContain(other);
    expect(line).toContain(manifest);
    expect(requests.some((r) => r.endsWith('/tag'))).toBe(false);
  });

  it('a daemon that loads the image under its manifest digest but does not list it: a refusal, and the full archive is not listed either', async () => {
    requests.length = 0;
    behaviour = { load: () => [{ stream: `Loaded image ID: ${manifest}\n` }], listed: () => [] };
    const line = oneLine(await patcher(['apply', 'old.tar', manifest, 'p.patch', '-t', 'dp-test/x:1']), ErrorCode.Docker);
    expect(line).toContain('does not list it');
    expect(requests.filter((r) => r === 'POST /images/load')).toHaveLength(2);
    expect(requests.some((r) => r.endsWith('/tag'))).toBe(false);
  });

  it('loads and tags by the manifest digest when the daemon lists it', async () => {
    requests.length = 0;
    behaviour = { load: () => [{ stream: `Loaded image ID: ${manifest}\n` }], listed: () => [manifest] };
    const run = await patcher(['apply', 'old.tar', manifest.slice(7, 19), 'p.patch', '-t', 'dp-test/x:1', '--json']);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ loadedId: manifest, newImageId: config, partial: true });
    expect(requests).toContain(`POST /images/${manifest}/tag`);
  });
});
