/**
 * create from registry references against a real docker-registry 2.8 on
 * loopback, with the shared small image pair pushed as two tags (plain
 * OCI layers, and gzip layers under Docker v2 media types): no daemon,
 * shared layers downloaded once (bytes counted by a proxy in front of the
 * registry), apply of the patch to the old `docker save` archive gives
 * app:2's image ID and layers, the patch matches the one from the local
 * archives, --push stores it with NEW's manifest as subject (a second push
 * uploads nothing), and the failures (unknown tag or repository, registry
 * down, wrong password, a blob or an inflated layer that does not match,
 * zstd layers, a missing platform) are one line, non-zero, with no PATCH
 * and no temp dir left. Also: a registry-shaped name the daemon has is
 * read from the daemon.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageArchive } from '../../src/image/archive.js';
import { fileSource, nodeHasher } from '../../src/image/source.node.js';
import { findPatches, PATCH_ARTIFACT_TYPE } from '../../src/registry/artifact.js';
import { RegistryClient } from '../../src/registry/client.js';
import { ensureBuilt } from '../cli/helpers.js';
import { SMALL, unpackPair } from '../fixtures/shared.js';
import { expectOneLineError, freePort, htpasswdLine, makeCertificate, runAsync, sha256, startRegistry, untar, type RunResult, type TestRegistry } from './helpers.js';

const NO_DAEMON = { DOCKER_HOST: 'unix:///nonexistent.sock' };
const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI = 'application/vnd.oci.image.manifest.v1+json';

let registry: TestRegistry;
let proxy: CountingProxy;
let dir: string;
let oldTar: string;
let newTar: string;
let app: Pushed[];
let gz: Pushed[];

interface Pushed {
  digest: string;
  configDigest: string;
  /** Config and layer blobs: digest -> size. */
  blobs: Map<string, number>;
}

/** A TCP proxy to the registry that counts the bytes the registry sends back. */
interface CountingProxy {
  host: string;
  received(): number;
  reset(): void;
  stop(): Promise<void>;
}

async function startProxy(target: string): Promise<CountingProxy> {
  const [host, port] = target.split(':') as [string, string];
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    sockets.add(client).add(upstream);
    upstream.on('data', (d: Buffer) => (count += d.length));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  const listen = await freePort();
  await new Promise<void>((resolve) => server.listen(listen, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${listen}`,
    received: () => count,
    reset: () => void (count = 0),
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Push a legacy docker save archive as `repository:tag`: plain OCI layers, or gzip layers under Docker v2 types. */
async function pushArchive(client: RegistryClient, repository: string, tag: string, path: string, gzip: boolean, edit?: (config: any) => void): Promise<Pushed> {
  const files = await untar(readFileSync(path));
  const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Config: string; Layers: string[] }>;
  const blobs = new Map<string, number>();
  const put = async (bytes: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha256(bytes);
    await client.pushBlob(repository, digest, bytes.length, async function* () {
      yield bytes;
    });
    blobs.set(digest, bytes.length);
    return { digest, size: bytes.length };
  };
  const layers = [];
  for (const name of entry!.Layers) {
    const tar = files.get(name)!;
    const stored = gzip ? gzipSync(tar) : tar;
    layers.push({ mediaType: gzip ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar', ...(await put(stored)) });
  }
  let configBytes = files.get(entry!.Config)!;
  if (edit) {
    const json = JSON.parse(configBytes.toString());
    edit(json);
    configBytes = Buffer.from(JSON.stringify(json));
  }
  const config = await put(configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: gzip ? DOCKER_V2 : OCI,
      config: { mediaType: gzip ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', ...config },
      layers,
    }),
  );
  const { digest } = await client.putManifest(repository, tag, gzip ? DOCKER_V2 : OCI, manifest);
  return { digest, configDigest: config.digest, blobs };
}

const ok = (r: RunResult): RunResult => {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return r;
};

/** The image ID and layer diff_ids of an archive. */
async function identity(path: string): Promise<{ imageId: string; diffIds: string[]; tags: string[] }> {
  const source = await fileSource(path);
  try {
    const archive = await openImageArchive(source, { hasher: nodeHasher });
    return { imageId: archive.imageId, diffIds: archive.layers.map((l) => l.diffId), tags: archive.tags };
  } finally {
    await source.close?.();
  }
}

/** A --temp-dir that must be empty again after the run. */
function tempDir(name: string): string {
  const path = join(dir, `tmp-${name}`);
  mkdirSync(path, { recursive: true });
  return path;
}

beforeAll(async () => {
  ensureBuilt();
  dir = unpackPair(SMALL.file);
  oldTar = join(dir, SMALL.old.name);
  newTar = join(dir, SMALL.new.name);
  registry = await startRegistry();
  proxy = await startProxy(registry.host);
  const client = new RegistryClient(registry.host);
  app = [await pushArchive(client, 'dp/app', '1', oldTar, false), await pushArchive(client, 'dp/app', '2', newTar, false)];
  gz = [await pushArchive(client, 'dp/gz', '1', oldTar, true), await pushArchive(client, 'dp/gz', '2', newTar, true)];
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('create from registry references, no daemon', () => {
  it('makes the patch; shared layers are downloaded once; apply to the old archive gives app:2', async () => {
    const out = join(dir, 'reg.patch');
    const temp = tempDir('first');
    proxy.reset();
    const r = ok(await runAsync(['create', '-e', temp, `${proxy.host}/dp/app:1`, `${proxy.host}/dp/app:2`, out], { env: NO_DAEMON }));
    expect(r.stderr).toMatch(/OLD .*dp\/app:1: docker: cannot reach the daemon at unix:\/\/\/nonexistent\.sock.*; reading it from its registry/);
    expect(r.stderr).toContain(`NEW's registry manifest: ${app[1]!.digest}`);
    expect(readdirSync(temp)).toEqual([]);
    // Bytes: each distinct blob once (plus HTTP headers and manifests), far less than both images' blobs.
    const distinct = new Map([...app[0]!.blobs, ...app[1]!.blobs]);
    const distinctBytes = [...distinct.values()].reduce((a, b) => a + b, 0);
    const bothImages = [...app[0]!.blobs.values(), ...app[1]!.blobs.values()].reduce((a, b) => a + b, 0);
    expect(proxy.received()).toBeGreaterThanOrEqual(distinctBytes);
    expect(proxy.received()).toBeLessThan(distinctBytes + 64 * 1024);
    expect(distinctBytes).toBeLessThan(bothImages - 1_000_000);
    console.log(`registry create: ${proxy.received()} B received; distinct blobs ${distinctBytes} B; both images' blobs ${bothImages} B`);

    const rebuilt = join(dir, 'rebuilt.tar');
    ok(await runAsync(['apply', '-q', oldTar, app[1]!.configDigest, out, '-o', rebuilt]));
    const got = await identity(rebuilt);
    const want = await identity(newTar);
    expect(got.imageId).toBe(app[1]!.configDigest);
    expect(got.diffIds).toEqual(want.diffIds);
    expect(got.tags).toEqual([`${proxy.host}/dp/app:2`]);

    // Against the patch from the same images as local archives.
    const local = join(dir, 'local.patch');
    ok(await runAsync(['create', '-q', oldTar, newTar, local]));
    // The registry's image as an archive has no v1 metadata (<id>/json,
    // <id>/VERSION, repositories): the patch is smaller by at most those bytes.
    const [a, b] = [statSync(out).size, statSync(local).size];
    const files = await untar(readFileSync(newTar));
    const v1 = [...files].filter(([name]) => /\/(json|VERSION)$|^repositories$/.test(name)).reduce((sum, [, data]) => sum + data.length, 0);
    console.log(`patch from the registry ${a} B, from local archives ${b} B (v1 metadata in the local archive ${v1} B)`);
    expect(a).toBeLessThanOrEqual(b);
    expect(b - a).toBeLessThanOrEqual(v1);
  });

  it('inflates gzip layers (Docker v2 manifests) and checks them against the diff_ids', async () => {
    const out = join(dir, 'gz.patch');
    const temp = tempDir('gz');
    const r = ok(await runAsync(['create', '--from-registry', '-e', temp, `${registry.host}/dp/gz:1`, `${registry.host}/dp/gz:2`, out], { env: NO_DAEMON }));
    expect(r.stderr).toContain(`NEW's registry manifest: ${gz[1]!.digest}`);
    expect(readdirSync(temp)).toEqual([]);
    const rebuilt = join(dir, 'gz-rebuilt.tar');
    ok(await runAsync(['apply', '-q', oldTar, gz[1]!.configDigest, out, '-o', rebuilt]));
    expect((await identity(rebuilt)).imageId).toBe(gz[1]!.configDigest);
  });

  it('--push stores the patch with NEW as subject; a second create --push uploads nothing', async () => {
    const out = join(dir, 'pushed.patch');
    const first = ok(await runAsync(['create', `${registry.host}/dp/app:1`, `${registry.host}/dp/app:2`, out, '--push'], { env: NO_DAEMON }));
    const ref = first.stdout.trim();
    expect(ref).toMatch(new RegExp(`^${registry.host}/dp/app@sha256:[0-9a-f]{64}$`));
    expect(first.stderr).toContain(`refers to ${app[1]!.digest}`);
    const found = await findPatches(new RegistryClient(registry.host), 'dp/app', app[1]!.digest);
    expect(found.map((d) => d.digest)).toEqual([ref.split('@')[1]]);
    expect(found[0]!.artifactType).toBe(PATCH_ARTIFACT_TYPE);
    const again = ok(await runAsync(['create', '-q', `${registry.host}/dp/app:1`, `${registry.host}/dp/app:2`, out, '--push-to', `${registry.host}/dp/app`], { env: NO_DAEMON }));
    expect(again.stdout.trim()).toBe(ref);
    const verbose = ok(await runAsync(['create', `${registry.host}/dp/app:1`, `${registry.host}/dp/app:2`, out, '--push'], { env: NO_DAEMON }));
    expect(verbose.stderr).toMatch(/already there, nothing uploaded/);
    // Findable from the registry: apply --from-registry rebuilds app:2.
    const rebuilt = join(dir, 'pushed-rebuilt.tar');
    ok(await runAsync(['apply', '-q', oldTar, app[1]!.configDigest, '--from-registry', ref, '-o', rebuilt]));
    expect((await identity(rebuilt)).imageId).toBe(app[1]!.configDigest);
  });

  it('--push with NEW given by digest (no tag in the patch): the subject is still NEW, by the digest create read', async () => {
    const out = join(dir, 'by-digest.patch');
    const r = ok(await runAsync(['create', '--json', `${registry.host}/dp/gz:1`, `${registry.host}/dp/gz@${gz[1]!.digest}`, out, '--push'], { env: NO_DAEMON }));
    const json = JSON.parse(r.stdout) as { newRegistryManifest: string; newManifestDigest?: string; newTags: string[]; push: { subject: string; reference: string } };
    expect(json.newRegistryManifest).toBe(gz[1]!.digest);
    expect(json.newManifestDigest).toBeUndefined(); // the patch records no manifest: the archive is the classic form
    expect(json.newTags).toEqual([]);
    expect(json.push.subject).toBe(gz[1]!.digest);
    const found = await findPatches(new RegistryClient(registry.host), 'dp/gz', gz[1]!.digest);
    expect(found.map((d) => d.digest)).toContain(json.push.reference.split('@')[1]);
  });

  it('from an index, the --platform image', async () => {
    const client = new RegistryClient(registry.host);
    const entry = async (digest: string, architecture: string) => ({ mediaType: OCI, digest, size: (await client.getManifest('dp/app', digest))!.bytes.length, platform: { os: 'linux', architecture } });
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [await entry(app[0]!.digest, 'riscv64'), await entry(app[1]!.digest, 'amd64')] };
    await client.putManifest('dp/app', 'multi', index.mediaType, Buffer.from(JSON.stringify(index)));
    const out = join(dir, 'multi.patch');
    const r = ok(await runAsync(['create', '--json', '--platform', 'linux/amd64', `${registry.host}/dp/app:1`, `${registry.host}/dp/app:multi`, out], { env: NO_DAEMON }));
    const json = JSON.parse(r.stdout) as { newRegistryManifest: string; newImageId: string; newTags: string[] };
    expect(json.newRegistryManifest).toBe(app[1]!.digest);
    expect(json.newImageId).toBe(app[1]!.configDigest);
    expect(json.newTags).toEqual([`${registry.host}/dp/app:multi`]);
  });

  it('usage: --push needs REPO when NEW is no registry reference, and a file for PATCH', async () => {
    expectOneLineError(await runAsync(['create', oldTar, newTar, join(dir, 'u.patch'), '--push']), 2, /--push-to REPO/);
    expectOneLineError(await runAsync(['create', `${registry.host}/dp/app:1`, `${registry.host}/dp/app:2`, '-', '--push']), 2, /stdout/);
    expectOneLineError(await runAsync(['create', oldTar, newTar, join(dir, 'u.patch'), '--push-to', `${registry.host}/dp/app:3`]), 2, /repository only/);
  });
});

describe('create from a registry: failures are one line, leave no PATCH and no temp dir', () => {
  const fails = async (args: string[], status: number, pattern: RegExp, opts: { input?: string } = {}): Promise<void> => {
    const out = join(dir, 'failed.patch');
    const temp = tempDir('failed');
    expectOneLineError(await runAsync(['create', '-q', '-e', temp, ...args, out], { env: NO_DAEMON, ...opts }), status, pattern);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(temp)).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.includes('failed.patch'))).toEqual([]);
  };

  it('an unknown tag or repository: exit 9', async () => {
    await fails([`${registry.host}/dp/app:1`, `${registry.host}/dp/app:9`], 9, /dp\/app:9: no such image/);
    await fails(['--from-registry', `${registry.host}/dp/app:1`, `${registry.host}/dp/nosuch:2`], 9, /dp\/nosuch:2: no such image|repository dp\/nosuch not found/);
  });

  it('a registry that is down: exit 11', async () => {
    const port = await freePort();
    await fails([`127.0.0.1:${port}/dp/app:1`, `127.0.0.1:${port}/dp/app:2`], 11, /connection refused/);
  });

  it('a wrong password: exit 11', async () => {
    const certDir = join(dir, 'certs');
    mkdirSync(certDir, { recursive: true });
    const cert = makeCertificate(certDir, 'tls');
    writeFileSync(join(certDir, 'htpasswd'), `${htpasswdLine('fleet', 'right')}\n`);
    const secured = await startRegistry({ tls: cert, htpasswd: join(certDir, 'htpasswd') });
    try {
      await fails(['--ca-cert', cert.cert, '-u', 'fleet', '--password-stdin', `${secured.host}/dp/app:1`, `${secured.host}/dp/app:2`], 11, /refused access as fleet/, { input: 'wrong\n' });
    } finally {
      await secured.stop();
    }
  });

  it('a layer the config gives another diff_id: exit 7', async () => {
    const client = new RegistryClient(registry.host);
    await pushArchive(client, 'dp/baddiff', '1', oldTar, true, (config) => {
      config.rootfs.diff_ids[0] = `sha256:${'1'.repeat(64)}`;
    });
    await pushArchive(client, 'dp/baddiff', '2', newTar, true);
    await fails([`${registry.host}/dp/baddiff:1`, `${registry.host}/dp/baddiff:2`], 7, /inflates to sha256:[0-9a-f]{64}, the config's diff_id is sha256:1111/);
  });

  it('zstd layers: exit 4 naming the media type; a platform the index lacks: exit 9 naming those there are', async () => {
    const client = new RegistryClient(registry.host);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'2'.repeat(64)}`] } }));
    const layer = Buffer.from('not really zstd');
    for (const bytes of [config, layer]) await client.pushBlob('dp/zstd', sha256(bytes), bytes.length, async function* () { yield bytes; });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha256(layer), size: layer.length }],
      }),
    );
    const { digest } = await client.putManifest('dp/zstd', '1', OCI, manifest);
    await fails([`${registry.host}/dp/zstd:1`, `${registry.host}/dp/app:2`], 4, /layer 1 is application\/vnd\.oci\.image\.layer\.v1\.tar\+zstd, unsupported/);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: OCI, digest, size: manifest.length, platform: { os: 'linux', architecture: 'riscv64' } },
          { mediaType: OCI, digest, size: manifest.length, platform: { os: 'windows', architecture: 'amd64' } },
        ],
      }),
    );
    await client.putManifest('dp/zstd', 'multi', 'application/vnd.oci.image.index.v1+json', index);
    await fails(['--platform', 'linux/arm64', `${registry.host}/dp/zstd:multi`, `${registry.host}/dp/app:2`], 9, /has no image for linux\/arm64 \(it has: linux\/riscv64, windows\/amd64\)/);
  });

  // Last: it corrupts a blob in the store.
  it('a blob that does not match its digest: exit 7', async () => {
    const client = new RegistryClient(registry.host);
    const pushed = await pushArchive(client, 'dp/corrupt', '2', newTar, true);
    const [digest] = [...pushed.blobs.entries()].sort((x, y) => y[1] - x[1])[0]!;
    const hex = digest.slice('sha256:'.length);
    const data = join(registry.dir, 'store/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = readFileSync(data);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(data, bytes);
    await fails([`${registry.host}/dp/corrupt:2`, `${registry.host}/dp/app:2`], 7, /hashes to sha256:/);
  });
});

describe('a registry-shaped name the daemon has is read from the daemon', () => {
  const DOCKER_HOST = process.env.DOCKER_HOST ?? 'unix:///tmp/dp-dockerd/docker.sock';
  const docker = (...args: string[]) => spawnSync('docker', ['-H', DOCKER_HOST, ...args], { encoding: 'utf8' });
  const added: string[] = [];
  const loaded: string[] = [];

  afterAll(() => {
    for (const tag of [...added, ...loaded]) docker('rmi', tag);
  });

  it('uses the daemon without --from-registry (the registry does not have these names)', async () => {
    for (const [tar, fixtureTag, tag] of [[oldTar, 'dp-fixture/small:v1', 'daemononly:1'], [newTar, 'dp-fixture/small:v2', 'daemononly:2']] as const) {
      const had = docker('image', 'inspect', fixtureTag).status === 0;
      const load = docker('load', '-i', tar);
      if (load.status !== 0) throw new Error(`docker load failed (is dockerd at ${DOCKER_HOST} running?): ${load.stderr}`);
      if (!had) loaded.push(fixtureTag);
      const target = `${registry.host}/dp/${tag}`;
      expect(docker('tag', fixtureTag, target).status).toBe(0);
      added.push(target);
    }
    const out = join(dir, 'daemon.patch');
    const r = ok(await runAsync(['create', added[0]!, added[1]!, out], { env: { DOCKER_HOST } }));
    expect(r.stderr).toContain(`OLD ${added[0]}: from the daemon`);
    expect(r.stderr).toContain(`NEW ${added[1]}: from the daemon`);
    const rebuilt = join(dir, 'daemon-rebuilt.tar');
    ok(await runAsync(['apply', '-q', oldTar, app[1]!.configDigest, out, '-o', rebuilt]));
    expect((await identity(rebuilt)).imageId).toBe(app[1]!.configDigest);
  });
});
