/**
 * Facts about the real engines that issue 9's work relies on (docs/engines.md),
 * pinned against the daemons CI starts: dockerd 26 with the containerd image
 * store (DP_DOCKERD26_HOST, `bash .ci/dockerd26.sh start`), the classic
 * dockerd 20.10 (DOCKER_HOST) and a local registry (DP_REGISTRY,
 * `bash .ci/registry.sh start`). Unreachable = failure, never a skip.
 *
 * Every image here has its own random bottom layer: the containerd store
 * skips fetching (and later cannot save) blobs of layers it has already
 * unpacked, so images sharing layers across tests would change the results.
 * Push, pull and run go through the docker CLI.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { DockerClient } from '../../src/docker/index.js';
import { chunked, legacyArchive, removeQuietly, requireDaemon, rootfsTar, sha256, tarOf, uniqueRepo } from './helpers.js';

const DEFAULT_DOCKERD26_HOST = 'unix:///tmp/dp-dockerd26/docker.sock';
const DEFAULT_REGISTRY = '127.0.0.1:5055';
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

const d26Host = process.env.DP_DOCKERD26_HOST || DEFAULT_DOCKERD26_HOST;
const registry = process.env.DP_REGISTRY || DEFAULT_REGISTRY;
let d26: DockerClient;
let classic: DockerClient;
const cleanup: Array<[DockerClient, string]> = [];

/** GET `path` on a daemon's unix socket: status and parsed JSON body. */
function getJson(host: string, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: host.replace(/^unix:\/\//, ''), path, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
  });
}

/** A client for dockerd 26 known to answer and to run the containerd image store. */
async function requireDockerd26(): Promise<DockerClient> {
  const strict = process.env.DP_REQUIRE_DOCKERD26 === '1' || process.env.CI === 'true';
  const fail = (why: string) =>
    new Error(
      `dockerd 26 with the containerd store required but ${why} at ${d26Host}` +
        `${strict ? ' (DP_REQUIRE_DOCKERD26=1 or CI=true)' : ''}. ` +
        'Start one with `bash .ci/dockerd26.sh start` and `export $(bash .ci/dockerd26.sh env)`.',
    );
  const client = new DockerClient({ host: d26Host, connectTimeoutMs: 5_000 });
  try {
    await client.ping();
  } catch (err) {
    throw fail(`unreachable (${(err as Error).message})`);
  }
  const info = (await getJson(d26Host, '/info')).body;
  if (!JSON.stringify(info.DriverStatus ?? []).includes('io.containerd.snapshotter')) {
    throw fail(`not using the containerd store (driver ${info.Driver}, server ${info.ServerVersion})`);
  }
  return client;
}

/** The registry's `GET /v2/` must answer 200: fail (not skip) otherwise. */
async function requireRegistry(): Promise<void> {
  const strict = process.env.DP_REQUIRE_REGISTRY === '1' || process.env.CI === 'true';
  const status = await fetch(`http://${registry}/v2/`).then(
    (res) => String(res.status),
    (err: Error) => err.message,
  );
  if (status !== '200') {
    throw new Error(
      `local registry required but GET http://${registry}/v2/ gave ${status}` +
        `${strict ? ' (DP_REQUIRE_REGISTRY=1 or CI=true)' : ''}. ` +
        'Start one with `bash .ci/registry.sh start` and `export $(bash .ci/registry.sh env)`.',
    );
  }
}

/** The docker CLI against `host`; returns stdout. */
function docker(host: string, args: string[]): string {
  return execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', timeout: 120_000 });
}

/** All entries of a tar stream, by name. */
async function entries(stream: AsyncIterable<Uint8Array>): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  for await (const chunk of stream) if (!extract.write(chunk)) await new Promise((r) => extract.once('drain', r));
  extract.end();
  await done;
  return files;
}

/** Two layers: busybox plus a random nonce (unique to this image), and one with /app/BUILD. */
async function uniqueLayers(build: string): Promise<Buffer[]> {
  const base = await rootfsTar([{ name: 'etc/dp-nonce', data: randomBytes(16).toString('hex') }]);
  return [base, await tarOf([{ name: 'app/BUILD', data: `${build}\n` }])];
}

/** The manifest dockerd 26 makes up for a legacy archive: compact JSON, uncompressed layer types. */
function madeUpManifest(configBytes: number, configId: string, layers: Buffer[]): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_V2,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: configId, size: configBytes },
    layers: layers.map((layer) => ({
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar',
      digest: `sha256:${sha256(layer)}`,
      size: layer.length,
    })),
  });
}

function track(client: DockerClient, ref: string): string {
  cleanup.push([client, ref]);
  return ref;
}

beforeAll(async () => {
  d26 = await requireDockerd26();
  classic = await requireDaemon();
  await requireRegistry();
});

afterAll(async () => {
  for (const [client, ref] of cleanup.reverse()) await removeQuietly(client, [ref]);
});

describe('dockerd 26, containerd image store', () => {
  it('names a loaded legacy archive by the manifest digest it makes up; the config digest is unknown to it', async () => {
    const layers = await uniqueLayers('build 1');
    const repoTag = track(d26, `${uniqueRepo('engines')}/app:v1`);
    const image = await legacyArchive(layers, repoTag);
    await d26.loadImage(chunked(image.archive));

    const config = (await entries(chunked(image.archive))).get(image.manifest.Config)!;
    const manifestId = `sha256:${sha256(Buffer.from(madeUpManifest(config.length, image.id, layers)))}`;
    const info = await d26.inspectImage(repoTag);
    expect(info.Id).toBe(manifestId);
    expect(info.Id).not.toBe(image.id);
    expect(info.RootFS.Layers).toEqual(image.diffIds);
    expect(info.RepoDigests).toEqual([`${repoTag.split(':')[0]}@${manifestId}`]);
    expect((await d26.inspectImage(manifestId.slice(7, 19))).Id).toBe(manifestId);
    for (const ref of [image.id, image.id.slice(7, 19)]) {
      expect((await getJson(d26Host, `/images/${ref}/json`)).status).toBe(404);
    }
  });

  it('saves it as an OCI layout with plain layer blobs and the made-up manifest as a blob', async () => {
    const layers = await uniqueLayers('build 1');
    const repoTag = track(d26, `${uniqueRepo('engines')}/app:v1`);
    const image = await legacyArchive(layers, repoTag);
    await d26.loadImage(chunked(image.archive));
    const id = (await d26.inspectImage(repoTag)).Id;

    const files = await entries(d26.saveImage(repoTag));
    expect(files.has('oci-layout')).toBe(true);
    const index = JSON.parse(files.get('index.json')!.toString());
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([id]);
    const manifest = JSON.parse(files.get(`blobs/sha256/${id.slice(7)}`)!.toString());
    expect(manifest.config.digest).toBe(image.id);
    for (const layer of layers) expect(files.get(`blobs/sha256/${sha256(layer)}`)?.equals(layer)).toBe(true);
  });

  it('refuses a legacy archive without the layers it holds; takes an OCI layout without their blobs, same ID', async () => {
    const v1Layers = await uniqueLayers('build 1');
    const v2Layers = [v1Layers[0], await tarOf([{ name: 'app/BUILD', data: 'build 2\n' }])];
    const repo = uniqueRepo('engines');
    const v1 = await legacyArchive(v1Layers, track(d26, `${repo}/app:v1`));
    const v2 = await legacyArchive(v2Layers, track(d26, `${repo}/app:v2`), [0]);
    await d26.loadImage(chunked(v1.archive));

    const refused = await d26.loadImage(chunked(v2.archive)).then(
      () => '',
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/failed to resolve layers: layer ".*layer\.tar" not found/);

    // The full v2 through the store, then its OCI save minus the shared blob.
    const full = await legacyArchive(v2Layers, `${repo}/app:v2`);
    await d26.loadImage(chunked(full.archive));
    const id = (await d26.inspectImage(`${repo}/app:v2`)).Id;
    const saved = await entries(d26.saveImage(`${repo}/app:v2`));
    await d26.removeImage(`${repo}/app:v2`);
    saved.delete(`blobs/sha256/${sha256(v1Layers[0])}`);
    const partial = await tarOf([...saved].map(([name, data]) => ({ name, data })));
    await d26.loadImage(chunked(partial));

    expect((await d26.inspectImage(`${repo}/app:v2`)).Id).toBe(id);
    const listed = (await getJson(d26Host, '/images/json')).body as Array<{ Id: string }>;
    expect(listed.map((image) => image.Id)).toContain(id);
  });
});

describe('local registry between dockerd 20.10 and dockerd 26', () => {
  it('a pull keeps the registry manifest digest as the ID; its save carries that manifest and gzip blobs; loading that save gives it back', async () => {
    const layers = await uniqueLayers('build 2');
    const repo = `${registry}/${uniqueRepo('engines')}/app`;
    const ref = `${repo}:v2`;
    const image = await legacyArchive(layers, track(classic, ref));
    await classic.loadImage(chunked(image.archive));
    docker(classic.host, ['push', '-q', ref]);

    const path = repo.slice(registry.length + 1);
    const res = await fetch(`http://${registry}/v2/${path}/manifests/v2`, { headers: { Accept: MANIFEST_V2 } });
    const registryManifest = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${sha256(registryManifest)}`;

    docker(d26Host, ['pull', '-q', track(d26, ref)]);
    const pulled = await d26.inspectImage(ref);
    expect(pulled.Id).toBe(digest);
    expect(pulled.RepoDigests).toEqual([`${repo}@${digest}`]);

    const saved = await entries(d26.saveImage(ref));
    expect(saved.get(`blobs/sha256/${digest.slice(7)}`)?.equals(registryManifest)).toBe(true);
    const manifest = JSON.parse(registryManifest.toString());
    for (const layer of manifest.layers) {
      expect(layer.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
      expect([...saved.get(`blobs/sha256/${layer.digest.slice(7)}`)!.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    }

    await d26.removeImage(ref);
    await d26.loadImage(chunked(await tarOf([...saved].map(([name, data]) => ({ name, data })))));
    const loaded = await d26.inspectImage(ref);
    expect(loaded.Id).toBe(digest);
    expect(loaded.RepoDigests).toEqual([`${repo}@${digest}`]);
    const out = docker(d26Host, ['run', '--rm', '--network', 'none', '--entrypoint', '/bin/busybox', `${repo}@${digest}`, 'cat', '/app/BUILD']);
    expect(out).toBe('build 2\n');
  });
});
