/**
 * The original tool's README story, for real, through the CLI binary
 * (`node bin/docker-patcher.js`) and the real daemon at DOCKER_HOST
 * (unreachable = failure, never a skip):
 *
 *   build app v1 and v2 (docker import of a busybox rootfs, docker build)
 *   docker-patcher create <short v1> <short v2> p.patch
 *   docker rmi v2
 *   docker-patcher apply <short v1> <full v2> p.patch -t repo/app:v2
 *   docker image inspect / docker run the rebuilt v2
 *
 * plus the failures a user meets: unknown image, no daemon, a patch for an
 * old image the daemon lacks. Builds dist/ first when src/ is newer.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, exitStatus } from '../../src/errors.js';
import { DockerClient } from '../../src/docker/index.js';
import { busybox, dockerCli, ensureBuilt, removeQuietly, requireDaemon, type Run, runPatcher, uniqueRepo } from './helpers.js';

const repo = `${uniqueRepo('e2e')}/app`;
const NO_DAEMON = 'unix:///nonexistent/docker.sock';

let client: DockerClient;
let host = '';
let tmp = '';
let baseId = '';
let v1 = '';
let v2 = '';
let v2ArchiveSize = 0;

/** docker-patcher with `args`; `env` overrides the environment (DOCKER_HOST is ours by default). */
const patcher = (args: string[], env: Record<string, string> = {}): Run => runPatcher(args, tmp, { DOCKER_HOST: host, ...env });

/** The docker CLI against our daemon; returns trimmed stdout, throws on failure. */
const docker = (...args: string[]): string => dockerCli(host, args, tmp);

/** The image ID behind `ref`, or '' when the daemon does not have it. */
function idOf(ref: string): string {
  try {
    return docker('image', 'inspect', '--format', '{{.Id}}', ref);
  } catch {
    return '';
  }
}

/** A failed run: the expected exit status and exactly one `docker-patcher: ...` line on stderr. */
function expectOneLineError(run: Run, code: ErrorCode): string {
  expect(run.status, run.stderr).toBe(exitStatus[code]);
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('\r'));
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^docker-patcher: \S/);
  return lines[0];
}

/** A build context: the app files, and a Dockerfile on top of the base image. */
function context(name: string, version: string, tool: Buffer): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'app/bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'app/bin/busybox'), tool, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'app/version.conf'), `VERSION=${version}\nGREETING="hello from app"\n`);
  fs.writeFileSync(path.join(dir, 'app/run.sh'), '. /app/version.conf\n/app/bin/busybox echo "$GREETING $VERSION ($APP_VERSION)"\n');
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    `FROM ${baseId}\nCOPY app /app\nENV APP_VERSION=${version}\nCMD ["/bin/busybox", "sh", "/app/run.sh"]\n`,
  );
  return dir;
}

beforeAll(async () => {
  client = await requireDaemon();
  host = client.host;
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-e2e-'));
  const bb = busybox();
  fs.mkdirSync(path.join(tmp, 'rootfs/bin'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'rootfs/bin/busybox'), bb, { mode: 0o755 });
  execFileSync('tar', ['-C', path.join(tmp, 'rootfs'), '-cf', path.join(tmp, 'rootfs.tar'), 'bin']);
  baseId = docker('import', path.join(tmp, 'rootfs.tar'), `${repo}:base`);
  expect(baseId).toMatch(/^sha256:[0-9a-f]{64}$/);
  // v2: the same binary with a few bytes appended (still runs), a changed config and ENV.
  v1 = docker('build', '-q', '-t', `${repo}:v1`, context('v1', '1.0', bb));
  v2 = docker('build', '-q', '-t', `${repo}:v2`, context('v2', '2.0', Buffer.concat([bb, Buffer.from('\0release 2.0\0')])));
  expect(v1).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(v2).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(v2).not.toBe(v1);
  docker('save', '-o', path.join(tmp, 'v2-saved.tar'), `${repo}:v2`);
  v2ArchiveSize = fs.statSync(path.join(tmp, 'v2-saved.tar')).size;
});

afterAll(async () => {
  if (client) await removeQuietly(client, [`${repo}:v2`, `${repo}:v1`, `${repo}:base`, `${repo}:v2-wrong`, v2, v1, baseId].filter(Boolean));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const short = (id: string) => id.slice('sha256:'.length, 'sha256:'.length + 12);

describe('end to end through the CLI and a real daemon', () => {
  it('runs v1 and v2 as built', () => {
    expect(docker('run', '--rm', `${repo}:v1`)).toBe('hello from app 1.0 (1.0)');
    expect(docker('run', '--rm', `${repo}:v2`)).toBe('hello from app 2.0 (2.0)');
  });

  it('create <short v1> <short v2>, rmi v2, apply <short v1> <full v2> -t: the daemon holds v2 again and it runs', () => {
    const spool = fs.mkdtempSync(path.join(tmp, 'spool-'));
    // -H wins over a DOCKER_HOST that leads nowhere.
    const created = patcher(['create', short(v1), short(v2), 'p.patch', '-H', host, '--temp-dir', spool], { DOCKER_HOST: NO_DAEMON });
    expect(created.status, created.stderr).toBe(0);
    const patchSize = fs.statSync(path.join(tmp, 'p.patch')).size;
    expect(patchSize).toBeGreaterThan(0);
    expect(patchSize).toBeLessThan(v2ArchiveSize / 10);
    expect(fs.readdirSync(spool)).toEqual([]);

    docker('rmi', `${repo}:v2`);
    expect(idOf(v2)).toBe('');

    // -d is -H's alias.
    const applied = patcher(['apply', short(v1), v2, 'p.patch', '-t', `${repo}:v2`, '-d', host, '--temp-dir', spool, '--json'], { DOCKER_HOST: NO_DAEMON });
    expect(applied.status, applied.stderr).toBe(0);
    expect(applied.stderr).not.toMatch(/refused/);
    // Our daemon (classic store) already holds the base layer: only the changed one was sent.
    expect(JSON.parse(applied.stdout)).toMatchObject({ newImageId: v2, partial: true });
    expect(fs.readdirSync(spool)).toEqual([]);
    expect(idOf(`${repo}:v2`)).toBe(v2);
    expect(docker('image', 'inspect', '--format', '{{json .RootFS.Layers}}', `${repo}:v2`)).toBe(
      docker('image', 'inspect', '--format', '{{json .RootFS.Layers}}', v2),
    );
    expect(docker('run', '--rm', `${repo}:v2`)).toBe('hello from app 2.0 (2.0)');

    // The same patch written as an archive (-o) is the image docker save wrote, by ID.
    const out = patcher(['apply', `${repo}:v1`, short(v2), 'p.patch', '-o', 'v2-rebuilt.tar']);
    expect(out.status, out.stderr).toBe(0);
    expect(fs.statSync(path.join(tmp, 'v2-rebuilt.tar')).size).toBeGreaterThan(patchSize);
  });

  it('reports an unknown image in one line, non-zero, and writes no patch', () => {
    const run = patcher(['create', `${repo}:nope`, short(v1), 'unknown.patch']);
    const line = expectOneLineError(run, ErrorCode.NotFound);
    expect(line).toContain(`${repo}:nope`);
    expect(fs.existsSync(path.join(tmp, 'unknown.patch'))).toBe(false);
  });

  it('reports an unreachable daemon in one line', () => {
    for (const run of [
      patcher(['create', short(v1), short(v2), 'nodaemon.patch'], { DOCKER_HOST: NO_DAEMON }),
      patcher(['apply', short(v1), v2, 'p.patch', '-t', `${repo}:v2-wrong`, '-H', NO_DAEMON]),
    ]) {
      const line = expectOneLineError(run, ErrorCode.Docker);
      expect(line).toContain('/nonexistent/docker.sock');
    }
    expect(fs.existsSync(path.join(tmp, 'nodaemon.patch'))).toBe(false);
    expect(idOf(`${repo}:v2-wrong`)).toBe('');
  });

  it('refuses a patch whose old image the daemon lacks, and loads nothing', async () => {
    // The base image is in the daemon, but the patch was made from v1.
    await client.removeImage(`${repo}:v2`, { force: true });
    expect(idOf(v2)).toBe('');
    const wrong = patcher(['apply', short(baseId), v2, 'p.patch', '-t', `${repo}:v2-wrong`]);
    const line = expectOneLineError(wrong, ErrorCode.WrongImage);
    expect(line).toContain(v1);
    expect(idOf(`${repo}:v2-wrong`)).toBe('');
    expect(idOf(v2)).toBe('');

    // With v1 gone from the daemon, its ID names nothing.
    await client.removeImage(`${repo}:v1`, { force: true });
    expect(idOf(v1)).toBe('');
    const gone = patcher(['apply', short(v1), v2, 'p.patch', '-t', `${repo}:v2-wrong`]);
    expectOneLineError(gone, ErrorCode.NotFound);
    expect(idOf(`${repo}:v2-wrong`)).toBe('');
    expect(idOf(v2)).toBe('');
  });
});
