/**
 * The README story, through the CLI binary, against each engine CI runs
 * (test/docker/daemons.ts; a missing engine fails its suite, never skips):
 *
 *   docker import a busybox rootfs; docker build app v1 and v2 on it
 *   docker-patcher create <short v1> <short v2> p.patch   (the IDs `docker images` shows)
 *   docker rmi v2
 *   docker-patcher apply <short v1> <short v2> p.patch -t repo:v2
 *   the daemon holds v2 again under the ID it uses, and it prints the new version
 *
 * dockerd 20.10 and podman show config digests as IDs; dockerd 26's
 * containerd store shows manifest digests. On dockerd 26 the patch records
 * both identities and apply takes NEW by either. podman here cannot start
 * containers (runc: "error setting rlimit type 7: operation not permitted"),
 * so its image is read through `docker create` + `docker cp` instead of
 * `docker run`. Plus the one-line errors: an unknown ID in either form.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, exitStatus } from '../../src/errors.js';
import type { DockerClient } from '../../src/docker/index.js';
import { ENGINES, type Engine } from './daemons.js';
import { busybox, dockerCli, ensureBuilt, removeQuietly, type Run, runPatcher, uniqueRepo } from './helpers.js';

/** A failed run: the expected exit status and exactly one `docker-patcher: ...` line on stderr. */
function expectOneLineError(run: Run, code: ErrorCode): string {
  expect(run.status, run.stderr).toBe(exitStatus[code]);
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('\r'));
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^docker-patcher: \S/);
  return lines[0];
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

describe.each(ENGINES)('the README story on $name', (engine: Engine) => {
  const repo = `${uniqueRepo(`story-${engine.kind}`)}/app`;
  let client: DockerClient;
  let host = '';
  let tmp = '';
  const ids = { base: '', v1: '', v2: '' };

  /** docker-patcher against this engine only (DOCKER_HOST leads nowhere). */
  /** docker-patcher with `args`; DOCKER_HOST leads nowhere, so only -H reaches this engine. */
  function patcher(args: string[]): Run {
    const daemon = args[0] === 'inspect' ? [] : ['-H', host];
    return runPatcher([...args, ...daemon], tmp, { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
  }

  /** The docker CLI against this engine; trimmed stdout, throws on failure. */
  const docker = (...args: string[]): string => dockerCli(host, args, tmp);

  /** The full ID the engine uses for `ref`, or '' when it has no such image. */
  function idOf(ref: string): string {
    try {
      return docker('image', 'inspect', '--format', '{{.Id}}', ref);
    } catch {
      return '';
    }
  }

  /** What the image's /app/version.conf says: `docker run` (podman: create + cp, see the top). */
  function versionIn(ref: string): string {
    if (engine.kind !== 'podman') return docker('run', '--rm', '--network', 'none', ref, '/bin/busybox', 'cat', '/app/version.conf');
    const container = docker('create', ref);
    try {
      return execFileSync('tar', ['-xO'], { input: execFileSync('docker', ['cp', `${container}:/app/version.conf`, '-'], { env: { ...process.env, DOCKER_HOST: host } }) })
        .toString()
        .trim();
    } finally {
      docker('rm', '-f', container);
    }
  }

  function context(name: string, version: string, tool: Buffer): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(path.join(dir, 'app/bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'app/bin/busybox'), tool, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'app/version.conf'), `VERSION=${version}\n`);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${repo}:base\nCOPY app /app\nENV APP_VERSION=${version}\nCMD ["/bin/busybox", "cat", "/app/version.conf"]\n`);
    return dir;
  }

  beforeAll(async () => {
    client = await engine.require();
    host = client.host;
    ensureBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `dp-story-${engine.kind}-`));
    const bb = busybox();
    fs.mkdirSync(path.join(tmp, 'rootfs/bin'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'rootfs/bin/busybox'), bb, { mode: 0o755 });
    execFileSync('tar', ['-C', path.join(tmp, 'rootfs'), '-cf', path.join(tmp, 'rootfs.tar'), 'bin']);
    docker('import', path.join(tmp, 'rootfs.tar'), `${repo}:base`);
    docker('build', '-q', '-t', `${repo}:v1`, context('v1', '1.0', bb));
    docker('build', '-q', '-t', `${repo}:v2`, context('v2', '2.0', Buffer.concat([bb, Buffer.from('\0release 2.0\0')])));
    ids.base = idOf(`${repo}:base`);
    ids.v1 = idOf(`${repo}:v1`);
    ids.v2 = idOf(`${repo}:v2`);
    for (const id of Object.values(ids)) expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ids.v2).not.toBe(ids.v1);
  }, 300_000);

  afterAll(async () => {
    if (client) await removeQuietly(client, [`${repo}:v2`, `${repo}:v1`, `${repo}:base`, `${repo}:again`, `${repo}:wrong`, ids.v2, ids.v1, ids.base].filter(Boolean));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('create by the short IDs docker images shows, rmi v2, apply -t: v2 is back under the same ID and prints the new version', () => {
    const shown = (tag: string) => docker('images', '--format', '{{.ID}}', `${repo}:${tag}`);
    const [s1, s2] = [shown('v1'), shown('v2')];
    expect(s1).toBe(short(ids.v1));
    expect(s2).toBe(short(ids.v2));

    const created = patcher(['create', s1, s2, 'p.patch', '--json']);
    expect(created.status, created.stderr).toBe(0);
    const summary = JSON.parse(created.stdout);
    // The daemon's ID is one of the two identities the patch records.
    if (engine.kind === 'containerd') {
      expect(summary.newManifestDigest).toBe(ids.v2);
      expect(summary.oldManifestDigest).toBe(ids.v1);
      expect(summary.newImageId).not.toBe(ids.v2);
    } else {
      expect(summary.newImageId).toBe(ids.v2);
    }

    docker('rmi', `${repo}:v2`);
    expect(idOf(ids.v2)).toBe('');

    const applied = patcher(['apply', s1, s2, 'p.patch', '-t', `${repo}:v2`, '--json']);
    expect(applied.status, applied.stderr).toBe(0);
    const result = JSON.parse(applied.stdout);
    expect(result.loadedId).toBe(ids.v2);
    // dockerd (both stores) takes the partial archive; podman gets the full one.
    expect(result.partial).toBe(engine.kind !== 'podman');
    // The partial archive leaves out the base layer v1 holds (in the containerd store: its gzip blob, by digest).
    if (result.partial) expect(result.bytesWritten).toBeLessThan(summary.newArchiveSize - 1_000_000);
    expect(idOf(`${repo}:v2`)).toBe(ids.v2);
    expect(versionIn(`${repo}:v2`)).toBe('VERSION=2.0');
    if (engine.kind === 'containerd') {
      // Listed (a silently broken load is not) and saved whole again.
      expect(docker('images', '--no-trunc', '--format', '{{.ID}}', `${repo}:v2`)).toBe(ids.v2);
    }
  }, 300_000);

  it('takes NEW by the other identity (containerd store: the config digest) and OLD by name', () => {
    const summary = JSON.parse(patcher(['inspect', 'p.patch', '--json']).stdout);
    const other = engine.kind === 'containerd' ? summary.newImageId : summary.newManifestDigest;
    if (engine.kind !== 'containerd') {
      // Classic saves are legacy archives: no manifest, one identity.
      expect(other).toBeUndefined();
      return;
    }
    docker('rmi', `${repo}:v2`);
    const applied = patcher(['apply', `${repo}:v1`, short(other), 'p.patch', '-t', `${repo}:again`, '--json']);
    expect(applied.status, applied.stderr).toBe(0);
    expect(idOf(`${repo}:again`)).toBe(ids.v2);
  }, 300_000);

  it('reports an unknown ID in either form in one line and loads nothing', () => {
    const summary = JSON.parse(patcher(['inspect', 'p.patch', '--json']).stdout);
    // An OLD the daemon does not know: 12 hex digits of nothing; in the containerd store also the config digest.
    const unknownOld = [`${'0'.repeat(11)}1`, ...(engine.kind === 'containerd' ? [short(summary.oldImageId)] : [])];
    for (const old of unknownOld) {
      const line = expectOneLineError(patcher(['apply', old, short(ids.v2), 'p.patch', '-t', `${repo}:wrong`]), ErrorCode.NotFound);
      expect(line).toContain(old);
    }
    // A NEW that is neither identity of the patch's new image.
    const line = expectOneLineError(patcher(['apply', short(ids.v1), 'ffffffffffff', 'p.patch', '-t', `${repo}:wrong`]), ErrorCode.WrongImage);
    expect(line).toContain('ffffffffffff');
    const base = expectOneLineError(patcher(['apply', short(ids.base), short(ids.v2), 'p.patch', '-t', `${repo}:wrong`]), ErrorCode.WrongImage);
    expect(base).toContain('this patch is for old image');
    expect(idOf(`${repo}:wrong`)).toBe('');
    const create = expectOneLineError(patcher(['create', `${'0'.repeat(11)}1`, short(ids.v2), 'x.patch']), ErrorCode.NotFound);
    expect(create).toContain('000000000001');
    expect(fs.existsSync(path.join(tmp, 'x.patch'))).toBe(false);
  }, 300_000);
});
