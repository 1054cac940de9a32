/**
 * `update REF` against a real docker-registry 2.8 (one per file, loopback,
 * plain http; one with TLS + htpasswd) and each engine CI runs: three small
 * versions of an image pushed as images, the patch v1 -> v2 made by
 * `create` and stored by `push`. The device holds only v1: `update :2`
 * loads v2 by the patch (ID, tag, the patch's size reported), a second run
 * is up to date, `update :3` (no patch) pulls through the daemon, or
 * refuses with --no-pull; --dry-run reports the bytes and changes nothing.
 * The failures (wrong password, unknown repository, registry down, a patch
 * blob that does not match) are one line, non-zero, images unchanged. An
 * index gives the daemon's platform's entry (or one line naming the ones it
 * has). Each engine pulls from a registry with htpasswd with the
 * credentials update hands it (X-Registry-Auth).
 * A missing engine or registry fails the test, never skips it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerClient } from '../../src/docker/client.js';
import { loadArchive } from '../../src/docker/load.js';
import { RegistryClient } from '../../src/registry/client.js';
import { ENGINES, requireClassic, type EngineKind } from '../docker/daemons.js';
import { ensureBuilt } from '../cli/helpers.js';
import { expectOneLineError, freePort, htpasswdLine, makeCertificate, pushImage, run, sha256, startRegistry, untar, type RunResult, type TestRegistry } from './helpers.js';

const USER = 'device';
const PASSWORD = 'update-s3cret';

let registry: TestRegistry;
let tmp: string;
/** Every daemon image a test made, removed at the end (by ID: the IDs are unique to this run). */
const made: Array<[DockerClient, string]> = [];

beforeAll(async () => {
  ensureBuilt();
  registry = await startRegistry();
  tmp = mkdtempSync(join(tmpdir(), 'dp-update-'));
});

afterAll(async () => {
  for (const [client, id] of made.reverse()) await client.removeImage(id, { force: true }).catch(() => {});
  await registry?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Version {
  tar: string;
  archive: Uint8Array;
  /** Config digest. */
  id: string;
  /** Sizes of the layer tars and the config, as pushImage uploads them. */
  layerSizes: number[];
  configSize: number;
  /** The digest of its manifest in the registry. */
  manifest: string;
}

interface App {
  /** registry/repository */
  repo: string;
  v: Record<'1' | '2' | '3', Version>;
  /** The v1 -> v2 patch file. */
  patch: string;
}

/**
 * Three versions of a small image unique to this call (a nonce in the base
 * layer): the base layer is shared, the app layer (~300 KB of text) changes
 * by a few bytes from one version to the next. Each archive is tagged
 * `repo:N` (so the patch's header names repo:2, and push finds v2 as its
 * subject). Pushed to the registry as images; the v1 -> v2 patch made by
 * `create`.
 */
async function makeApp(host: string, name: string, client = new RegistryClient(host)): Promise<App> {
  const { buildDockerArchive } = await import('../fixtures/images.js');
  const repo = `${host}/${name}`;
  const dir = mkdtempSync(join(tmp, 'app-'));
  const base = [{ path: 'bin', type: 'directory' as const }, { path: 'bin/tool', data: 'tool v1\n', mode: 0o755 }, { path: 'etc/nonce', data: randomBytes(16).toString('hex') }];
  const text = randomBytes(150_000).toString('hex');
  const edit = (n: number): string => `${text.slice(0, 1000 * n)}version ${n}${text.slice(1000 * n + 9)}`;
  const v = {} as App['v'];
  for (const n of ['1', '2', '3'] as const) {
    const archive = await buildDockerArchive({ layers: [base, [{ path: 'app/data.txt', data: edit(Number(n)) }]], tags: [`${repo}:${n}`] });
    const tar = join(dir, `v${n}.tar`);
    writeFileSync(tar, archive);
    const files = await untar(archive);
    const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Config: string; Layers: string[] }>;
    const config = files.get(entry!.Config)!;
    const manifest = await pushImage(client, name, n, archive);
    v[n] = { tar, archive, id: sha256(config), layerSizes: entry!.Layers.map((l) => files.get(l)!.length), configSize: config.length, manifest };
  }
  const patch = join(dir, 'v1-v2.patch');
  const created = run(['create', '-q', v['1'].tar, v['2'].tar, patch]);
  if (created.status !== 0) throw new Error(`create failed: ${created.stderr}`);
  return { repo, v, patch };
}

/** `push` the patch (the existing command); throws when it fails. */
function pushPatch(app: App, extra: string[] = [], input?: string): { reference: string; blobDigest: string; findable: string } {
  const r = run(['push', '--json', app.patch, app.repo, ...extra], { input });
  if (r.status !== 0) throw new Error(`push failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { reference: string; blobDigest: string; findable: string };
}

/** The daemon's images of `repo` (ID and sorted names): what must not change on a failure or a dry run. */
async function imagesOf(client: DockerClient, repo: string): Promise<string[]> {
  const list = await client.listImages();
  return list
    .filter((i) => [...i.RepoTags, ...i.RepoDigests].some((n) => n.startsWith(`${repo}:`) || n.startsWith(`${repo}@`)))
    .map((i) => `${i.Id} ${[...i.RepoTags].sort().join(',')}`)
    .sort();
}

/** Load v1 (only) into the daemon, tagged repo:1 by its archive; remember it for the cleanup. */
async function loadOld(client: DockerClient, app: App): Promise<void> {
  const id = await loadArchive(client, app.v['1'].tar, { expectedId: app.v['1'].id, tags: [] });
  made.push([client, id]);
}

/** The config digest of the image the daemon's `ref` names (the containerd store names images by manifest). */
async function configOf(client: DockerClient, ref: string): Promise<string> {
  const { configDigestOf, usesContainerdStore } = await import('../../src/docker/identity.js');
  const id = (await client.inspectImage(ref)).Id;
  return (await usesContainerdStore(client)) ? ((await configDigestOf(client, id)) ?? id) : id;
}

const json = (r: RunResult): Record<string, any> => {
  if (r.status !== 0) throw new Error(`update failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
};

/** The happy path on one engine: dry run, patch, up to date, fallback pull, --no-pull. */
async function happyPath(client: DockerClient, kind: EngineKind): Promise<App> {
  const app = await makeApp(registry.host, `dp/update-${kind}-${randomBytes(3).toString('hex')}`);
  const pushed = pushPatch(app);
  expect(pushed.findable).toBe('fallback-tag');
  const patchSize = statSync(app.patch).size;
  await loadOld(client, app);
  const H = ['-H', client.host];
  const update = (...args: string[]): RunResult => run(['update', ...args, ...H], { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });

  // --dry-run: the patch and its size, nothing changed.
  const before = await imagesOf(client, app.repo);
  const dry = json(update(`${app.repo}:2`, '--dry-run', '--json'));
  expect(dry).toMatchObject({ action: 'patch', dryRun: true, configDigest: app.v['2'].id, bytes: patchSize, patch: { reference: pushed.reference, size: patchSize } });
  const dryText = update(`${app.repo}:2`, '--dry-run');
  expect(dryText.status).toBe(0);
  expect(dryText.stdout).toContain(`would apply patch ${pushed.reference}`);
  expect(dryText.stdout).toContain(`would fetch ${patchSize} bytes`);
  expect(await imagesOf(client, app.repo)).toEqual(before);

  // The update itself: by the patch.
  const r = update(`${app.repo}:2`);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toContain(`by patch ${pushed.reference}, fetched ${patchSize} bytes`);
  expect(await configOf(client, `${app.repo}:2`)).toBe(app.v['2'].id);
  made.push([client, (await client.inspectImage(`${app.repo}:2`)).Id]);

  // Again: up to date, nothing fetched.
  const again = update(`${app.repo}:2`, '--json');
  expect(json(again)).toMatchObject({ action: 'up-to-date', bytes: 0 });
  expect(update(`${app.repo}:2`).stderr).toMatch(/up to date/);

  // v3 has no patch: --no-pull refuses, --dry-run says pull and its bytes.
  const images = await imagesOf(client, app.repo);
  expectOneLineError(update(`${app.repo}:3`, '--no-pull'), 9, /none from the local images.*--no-pull|no patch to .*--no-pull/);
  const dryPull = json(update(`${app.repo}:3`, '--dry-run', '--json'));
  // The base layer is in the daemon (v1, v2 have it): only v3's app layer and its config.
  expect(dryPull).toMatchObject({ action: 'pull', bytes: app.v['3'].layerSizes[1]! + app.v['3'].configSize });
  expect(dryPull.reason).toMatch(/no patch to/);
  expect(await imagesOf(client, app.repo)).toEqual(images);

  // The fallback pull, through the daemon.
  const pulled = update(`${app.repo}:3`);
  const lines = pulled.stderr.split('\n').filter(Boolean);
  if (pulled.status === 0) made.push([client, (await client.inspectImage(`${app.repo}:3`)).Id]);
  expect(pulled.status, pulled.stderr).toBe(0);
  expect(lines[0]).toMatch(/no patch to .*; pulling through the daemon/);
  expect(lines[1]).toMatch(/pulled .* through the daemon, tagged/);
  expect(await configOf(client, `${app.repo}:3`)).toBe(app.v['3'].id);
  return app;
}

describe('update on dockerd 20.10 (classic store)', () => {
  let client: DockerClient;
  beforeAll(async () => {
    client = await requireClassic();
  });

  it('loads the new image by the patch, is then up to date, pulls what has no patch, --no-pull refuses, --dry-run changes nothing', async () => {
    const app = await happyPath(client, 'classic');
    // v2 only under another repository's name: up to date, REF tagged onto it, nothing fetched.
    const other = `${app.repo}-other:2`;
    await client.tagImage(app.v['2'].id, other);
    await client.removeImage(`${app.repo}:2`);
    const r = json(run(['update', `${app.repo}:2`, '--json']));
    expect(r).toMatchObject({ action: 'up-to-date', retag: true, bytes: 0, from: { id: app.v['2'].id } });
    expect((await client.inspectImage(`${app.repo}:2`)).Id).toBe(app.v['2'].id);
  }, 180_000);

  it('an unknown repository, a registry that is down: one line, non-zero, images unchanged', async () => {
    // Other test files share the daemon: only these repositories' images are ours to compare.
    const port = await freePort();
    const repos = [`${registry.host}/dp/no-such-repo`, `127.0.0.1:${port}/dp/app`];
    expectOneLineError(run(['update', `${repos[0]}:1`]), 9, /not found/);
    expectOneLineError(run(['update', `${repos[1]}:1`]), 11, /connection refused/);
    for (const repo of repos) expect(await imagesOf(client, repo)).toEqual([]);
  }, 60_000);

  it('a patch blob that does not match its digest: one line, exit 7, nothing loaded or tagged', async () => {
    const app = await makeApp(registry.host, `dp/update-corrupt-${randomBytes(3).toString('hex')}`);
    const pushed = pushPatch(app);
    await loadOld(client, app);
    const hex = pushed.blobDigest.slice('sha256:'.length);
    const data = join(registry.dir, 'store/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = readFileSync(data);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(data, bytes);
    const before = await imagesOf(client, app.repo);
    expectOneLineError(run(['update', `${app.repo}:2`]), 7, /hashes to sha256:/);
    expect(await imagesOf(client, app.repo)).toEqual(before);
    await expect(client.inspectImage(app.v['2'].id)).rejects.toThrow();
  }, 120_000);

  it("an index: the daemon's platform is picked; an index without it is one line naming the platforms it has", async () => {
    const app = await makeApp(registry.host, `dp/update-index-${randomBytes(3).toString('hex')}`);
    const name = app.repo.slice(registry.host.length + 1);
    const registryClient = new RegistryClient(registry.host);
    const version = await client.systemVersion();
    const v2 = (await registryClient.getManifest(name, app.v['2'].manifest))!;
    const v3 = (await registryClient.getManifest(name, app.v['3'].manifest))!;
    const entry = (m: typeof v2, architecture: string) => ({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, platform: { os: 'linux', architecture } });
    const index = (entries: unknown[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
    await registryClient.putManifest(name, 'multi', 'application/vnd.oci.image.index.v1+json', index([entry(v3, 's390x'), entry(v2, String(version.Arch))]));
    await registryClient.putManifest(name, 'other', 'application/vnd.oci.image.index.v1+json', index([entry(v3, 's390x'), entry(v2, 'riscv64')]));
    const dry = json(run(['update', `${app.repo}:multi`, '--dry-run', '--json']));
    expect(dry).toMatchObject({ action: 'pull', manifestDigest: app.v['2'].manifest, configDigest: app.v['2'].id });
    expectOneLineError(run(['update', `${app.repo}:other`]), 9, new RegExp(`has no image for linux/${String(version.Arch)}.*\\(it has: linux/s390x, linux/riscv64\\)`));
    expectOneLineError(run(['update', `${app.repo}:nosuchtag`]), 9, /not found in the registry/);
  }, 60_000);

  describe('a registry with TLS and htpasswd', () => {
    let secure: TestRegistry;
    let cert: { cert: string; key: string };
    beforeAll(async () => {
      cert = makeCertificate(tmp, 'update-tls');
      const htpasswd = join(tmp, 'htpasswd');
      writeFileSync(htpasswd, `${htpasswdLine(USER, PASSWORD)}\n`);
      secure = await startRegistry({ tls: cert, htpasswd });
    });
    afterAll(async () => {
      await secure?.stop();
    });

    it('with the password: by the patch; a wrong password: one line, exit 11, images unchanged', async () => {
      const client26 = client;
      const registryClient = new RegistryClient(secure.host, { credentials: { username: USER, password: PASSWORD }, ca: [readFileSync(cert.cert, 'utf8')] });
      const app = await makeApp(secure.host, `dp/update-tls-${randomBytes(3).toString('hex')}`, registryClient);
      const login = ['--ca-cert', cert.cert, '-u', USER, '--password-stdin'];
      pushPatch(app, login, PASSWORD);
      await loadOld(client26, app);
      const before = await imagesOf(client26, app.repo);
      expectOneLineError(run(['update', `${app.repo}:2`, ...login], { input: 'wrong' }), 11, /refused access as device/);
      expect(await imagesOf(client26, app.repo)).toEqual(before);
      const r = run(['update', `${app.repo}:2`, ...login], { input: PASSWORD });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/by patch/);
      expect((await client26.inspectImage(`${app.repo}:2`)).Id).toBe(app.v['2'].id);
      made.push([client26, app.v['2'].id]);
    }, 120_000);
  });
});

describe('a plain loopback registry with htpasswd', () => {
  let locked: TestRegistry;
  beforeAll(async () => {
    const htpasswd = join(tmp, 'htpasswd-plain');
    writeFileSync(htpasswd, `${htpasswdLine(USER, PASSWORD)}\n`);
    locked = await startRegistry({ htpasswd });
  });
  afterAll(async () => {
    await locked?.stop();
  });

  it('X-Registry-Auth is URL-safe base64 of the JSON the daemon reads', async () => {
    const { registryAuthHeader } = await import('../../src/device/update.js');
    const header = registryAuthHeader({ username: 'u', password: 'p?>?>~~~' }, 'docker.io');
    expect(header).not.toMatch(/[+/]/);
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ username: 'u', password: 'p?>?>~~~', serveraddress: 'registry-1.docker.io' });
  });

  for (const engine of ENGINES) {
    it(`${engine.name} pulls with the credentials given (no patch, no local image: a first install)`, async () => {
      const client = await engine.require();
      const registryClient = new RegistryClient(locked.host, { credentials: { username: USER, password: PASSWORD } });
      const app = await makeApp(locked.host, `dp/update-auth-${engine.kind}-${randomBytes(3).toString('hex')}`, registryClient);
      const login = ['-u', USER, '--password-stdin', '-H', client.host];
      expectOneLineError(run(['update', `${app.repo}:2`, ...login], { input: 'wrong' }), 11, /refused access as device/);
      const r = run(['update', `${app.repo}:2`, ...login], { input: PASSWORD });
      if (r.status === 0) made.push([client, (await client.inspectImage(`${app.repo}:2`)).Id]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/a first install is a pull; pulling through the daemon/);
      expect(await configOf(client, `${app.repo}:2`)).toBe(app.v['2'].id);
    }, 120_000);
  }
});

for (const engine of ENGINES.filter((e) => e.kind !== 'classic')) {
  describe(`update on ${engine.name}`, () => {
    let client: DockerClient;
    beforeAll(async () => {
      client = await engine.require();
    });

    it('loads the new image by the patch, is then up to date, pulls what has no patch', async () => {
      await happyPath(client, engine.kind);
    }, 240_000);
  });
}
