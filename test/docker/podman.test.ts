/**
 * `apply` into a real podman (its Docker-compatible API), through the CLI
 * binary. podman refuses a partial `docker save` archive (one without the
 * layers it already holds; that is a dockerd classic-store behaviour,
 * moby/moby#18727), so apply must fall back to the full archive, say so,
 * load it, tag it and find the expected image ID:
 *
 *   build v1 and v2 as legacy docker-save archives (test/fixtures/images.ts)
 *   POST /images/load both into podman; their IDs are their config digests
 *   docker-patcher create v1.tar v2.tar p.patch; remove v2 from podman
 *   docker-patcher apply <v1 name in podman> <v2 id> p.patch -t REPO:v2 -H <podman> --json
 *   inspect REPO:v2 in podman: v2's ID and diff_ids
 *
 * The service is the one `bash .ci/podman.sh start` runs; its address comes
 * from DP_PODMAN_HOST (`export $(bash .ci/podman.sh env)`), default
 * unix:///tmp/dp-podman/podman.sock. Unreachable = failure, never a skip.
 * Needs no dockerd. Builds dist/ first when src/ is newer.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../../src/docker/index.js';
import { fileSource } from '../../src/image/source.node.js';
import { buildDockerArchive, type ImageSpec } from '../fixtures/images.js';
import { busybox, ensureBuilt, removeQuietly, type Run, runPatcher, sha256, uniqueRepo } from './helpers.js';

const DEFAULT_PODMAN_HOST = 'unix:///tmp/dp-podman/podman.sock';
const repo = `${uniqueRepo('podman')}/app`;

let client: DockerClient;
let host = '';
let tmp = '';

/**
 * A client for the podman service that is known to answer and to be podman.
 * Never skips: when it does not answer, this throws (so the suite fails)
 * with what to do about it.
 */
async function requirePodman(): Promise<DockerClient> {
  const address = process.env.DP_PODMAN_HOST || DEFAULT_PODMAN_HOST;
  const podman = new DockerClient({ host: address, connectTimeoutMs: 5_000 });
  const strict = process.env.DP_REQUIRE_PODMAN === '1' || process.env.CI === 'true';
  const fail = (why: string) =>
    new Error(
      `podman API service required but ${why} at ${address}` +
        `${strict ? ' (DP_REQUIRE_PODMAN=1 or CI=true)' : ''}. ` +
        'Start one with `bash .ci/podman.sh start` and `export $(bash .ci/podman.sh env)`.',
    );
  try {
    await podman.ping();
  } catch (err) {
    throw fail(`unreachable (${(err as Error).message})`);
  }
  // A dockerd at that address would pass every check below for the wrong reason.
  const version = await fetchVersion(address);
  if (!/podman/i.test(JSON.stringify(version.Components ?? []))) throw fail(`not podman (${JSON.stringify(version).slice(0, 200)})`);
  return podman;
}

/** GET /version (unversioned) at a unix:// or tcp:// address. */
async function fetchVersion(address: string): Promise<{ Version?: string; ApiVersion?: string; Components?: unknown[] }> {
  const url = new URL(address);
  const where = url.protocol === 'unix:' ? { socketPath: url.pathname } : { host: url.hostname, port: Number(url.port || 2375) };
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ ...where, path: '/version', timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as { Version?: string; Components?: unknown[] });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** docker-patcher with `args`; DOCKER_HOST leads nowhere, so only -H reaches podman. */
const patcher = (args: string[]): Run => runPatcher(args, tmp, { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });

/** What an archive says about its (single) image, read with tar(1), not with our readers. */
function archiveImage(file: string): { id: string; diffIds: string[]; tags: string[] } {
  const read = (member: string) => execFileSync('tar', ['-xOf', file, member], { maxBuffer: 1 << 26 });
  const [manifest] = JSON.parse(read('manifest.json').toString()) as Array<{ Config: string; RepoTags: string[] | null }>;
  const config = read(manifest.Config);
  const { rootfs } = JSON.parse(config.toString()) as { rootfs: { diff_ids: string[] } };
  return { id: `sha256:${sha256(config)}`, diffIds: rootfs.diff_ids, tags: manifest.RepoTags ?? [] };
}

/** POST /images/load the archive at `file` into podman; returns what podman says it loaded. */
async function loadInto(podman: DockerClient, file: string): Promise<string[]> {
  const source = await fileSource(file);
  try {
    return (await podman.loadImage(source.stream())).loaded;
  } finally {
    await source.close?.();
  }
}

/** The image ID podman has under `ref`, or '' when it has none. */
async function idOf(ref: string): Promise<string> {
  return client.inspectImage(ref).then(
    (info) => info.Id,
    () => '',
  );
}

/** v1 and v2: the same busybox base layer, then an app layer that changed (as in e2e.test.ts). */
function specs(bb: Buffer): [ImageSpec, ImageSpec] {
  const base = [
    { path: 'bin', type: 'directory' as const },
    { path: 'bin/busybox', data: bb, mode: 0o755 },
  ];
  const app = (version: string, tool: Uint8Array) => [
    { path: 'app', type: 'directory' as const },
    { path: 'app/bin', type: 'directory' as const },
    { path: 'app/bin/busybox', data: tool, mode: 0o755 },
    { path: 'app/version.conf', data: `VERSION=${version}\nGREETING="hello from app"\n` },
  ];
  const config = (version: string) => ({ config: { Env: [`APP_VERSION=${version}`], Cmd: ['/bin/busybox', 'sh', '-c', 'cat /app/version.conf'] } });
  return [
    { layers: [base, app('1.0', bb)], config: config('1.0'), tags: [`${repo}:v1`] },
    { layers: [base, app('2.0', Buffer.concat([bb, Buffer.from('\0release 2.0\0')]))], config: config('2.0'), tags: [`${repo}:v2`] },
  ];
}

let v1 = { id: '', diffIds: [] as string[], tags: [] as string[] };
let v2 = { id: '', diffIds: [] as string[], tags: [] as string[] };

beforeAll(async () => {
  client = await requirePodman();
  host = client.host;
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-podman-'));
  const [s1, s2] = specs(busybox());
  fs.writeFileSync(path.join(tmp, 'v1.tar'), await buildDockerArchive(s1));
  fs.writeFileSync(path.join(tmp, 'v2.tar'), await buildDockerArchive(s2));
  v1 = archiveImage(path.join(tmp, 'v1.tar'));
  v2 = archiveImage(path.join(tmp, 'v2.tar'));
  expect(v2.id).not.toBe(v1.id);
  expect(v2.diffIds[0]).toBe(v1.diffIds[0]);
  expect(v2.diffIds[1]).not.toBe(v1.diffIds[1]);
});

afterAll(async () => {
  if (client) await removeQuietly(client, [`${repo}:v2`, `${repo}:v1`, `${repo}:v2b`, v2.id, v1.id].filter(Boolean));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('apply into a real podman', () => {
  it('podman loads docker-save archives under their config digest as image ID', async () => {
    for (const [file, image] of [
      ['v1.tar', v1],
      ['v2.tar', v2],
    ] as const) {
      const loaded = await loadInto(client, path.join(tmp, file));
      // podman names what it loaded with its short-name prefix: localhost/REPO:TAG.
      expect(loaded).toEqual([`localhost/${image.tags[0]}`]);
      const info = await client.inspectImage(image.tags[0]);
      expect(info.Id).toBe(image.id);
      expect(info.RootFS.Layers).toEqual(image.diffIds);
    }
  });

  it('create v1.tar v2.tar, remove v2, apply <v1 in podman> <v2 id> -t: partial refused, full archive loaded, tagged, ID verified', async () => {
    const created = patcher(['create', 'v1.tar', 'v2.tar', 'p.patch']);
    expect(created.status, created.stderr).toBe(0);
    expect(fs.statSync(path.join(tmp, 'p.patch')).size).toBeLessThan(fs.statSync(path.join(tmp, 'v2.tar')).size / 10);

    await client.removeImage(v2.id, { force: true });
    expect(await idOf(v2.id)).toBe('');
    expect(await idOf(v1.tags[0])).toBe(v1.id);

    const spool = fs.mkdtempSync(path.join(tmp, 'spool-'));
    const applied = patcher(['apply', v1.tags[0], v2.id, 'p.patch', '-t', `${repo}:v2b`, '-H', host, '--temp-dir', spool, '--json']);
    expect(applied.status, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ newImageId: v2.id, partial: false, loadedInto: host, tags: [`${repo}:v2b`] });
    // One line: podman's refusal, then the fallback.
    const lines = applied.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('\r'));
    expect(lines, applied.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/daemon refused the partial archive \(.+\); sending the full image$/);
    expect(fs.readdirSync(spool)).toEqual([]);

    const info = await client.inspectImage(`${repo}:v2b`);
    expect(info.Id).toBe(v2.id);
    expect(info.RootFS.Layers).toEqual(v2.diffIds);
    // The archive's own tag, applied by podman as it loaded.
    expect(await idOf(`${repo}:v2`)).toBe(v2.id);
  });

  it('create from the images in podman (GET /images/{ref}/get) makes a patch apply -o turns into v2', () => {
    const created = patcher(['create', v1.tags[0], v2.id.slice(7, 19), 'from-podman.patch', '-H', host]);
    expect(created.status, created.stderr).toBe(0);
    const out = patcher(['apply', 'v1.tar', v2.id, 'from-podman.patch', '-o', 'v2-rebuilt.tar']);
    expect(out.status, out.stderr).toBe(0);
    expect(archiveImage(path.join(tmp, 'v2-rebuilt.tar')).id).toBe(v2.id);
  });

  it('an image with two tags: podman reports them in one comma-joined line, and apply still finds the image', async () => {
    const [s1, s2] = specs(busybox());
    const twoTags = { ...s2, config: { ...s2.config, Labels: { tags: 'two' } }, tags: [`${repo}:v3`, `${repo}:v3-alias`] };
    fs.writeFileSync(path.join(tmp, 'v3.tar'), await buildDockerArchive(twoTags));
    const v3 = archiveImage(path.join(tmp, 'v3.tar'));
    expect(v3.tags).toHaveLength(2);
    expect(s1.tags).toEqual(v1.tags);
    const created = patcher(['create', 'v1.tar', 'v3.tar', 'v3.patch']);
    expect(created.status, created.stderr).toBe(0);
    try {
      const applied = patcher(['apply', v1.tags[0], v3.id, 'v3.patch', '-H', host, '--json']);
      expect(applied.status, applied.stderr).toBe(0);
      expect(JSON.parse(applied.stdout)).toMatchObject({ newImageId: v3.id, partial: false });
      expect(await idOf(`${repo}:v3`)).toBe(v3.id);
      expect(await idOf(`${repo}:v3-alias`)).toBe(v3.id);
    } finally {
      await removeQuietly(client, [`${repo}:v3`, `${repo}:v3-alias`, v3.id]);
    }
  });
});
