/**
 * The fleet workflow of the README, end to end, against a real
 * docker-registry 2.8 and the classic dockerd from .ci/run:
 *
 *   CI:      `docker push` two versions (gzip layers, as dockerd writes
 *            them); `create REG/app:1 REG/app:2 PATCH --push` reads both
 *            from the registry (no daemon) and stores the patch there.
 *   device:  holds only app:1; `update REG/app:2 --dry-run` reports the
 *            patch's bytes and changes nothing; `update REG/app:2` loads
 *            app:2 by the patch (its image ID, its tag); app:3, pushed with
 *            no patch, arrives by the fallback pull.
 *
 * A missing daemon or registry fails the test, never skips it.
 */
import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerClient } from '../../src/docker/client.js';
import { requireClassic } from '../docker/daemons.js';
import { dockerCli } from '../docker/helpers.js';
import { ensureBuilt } from '../cli/helpers.js';
import { testTempDir } from '../temp-dirs.js';
import { run, sha256, startRegistry, untar, type RunResult, type TestRegistry } from './helpers.js';

let registry: TestRegistry;
let client: DockerClient;
let dir: string;
const tagsMade: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  client = await requireClassic();
  registry = await startRegistry();
  dir = testTempDir('dp-fleet-');
});

afterAll(async () => {
  for (const tag of tagsMade.reverse()) await client?.removeImage(tag, { force: true }).catch(() => {});
  await registry?.stop();
});

const ok = (r: RunResult, what: string): RunResult => {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.stderr}`);
  return r;
};

describe('the fleet workflow: CI creates and pushes, the device runs update', () => {
  it('create --push between registry references; update loads app:2 by the patch; app:3 (no patch) by a pull', async () => {
    const { buildDockerArchive } = await import('../fixtures/images.js');
    const host = client.host;
    const repo = `${registry.host}/fleet-${randomBytes(4).toString('hex')}/app`;
    // Three versions: a shared base layer, an app layer of ~300 KB of text that changes by a few bytes each time.
    const base = [{ path: 'etc', type: 'directory' as const }, { path: 'etc/nonce', data: randomBytes(16).toString('hex') }];
    const text = randomBytes(150_000).toString('hex');
    const ids: Record<string, string> = {};
    for (const n of ['1', '2', '3']) {
      const archive = await buildDockerArchive({ layers: [base, [{ path: 'app/data.txt', data: `${text.slice(0, 2000 * Number(n))}release ${n}${text.slice(2000 * Number(n) + 9)}` }]], tags: [`${repo}:${n}`] });
      const files = await untar(archive);
      const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Config: string }>;
      ids[n] = sha256(files.get(entry!.Config)!);
      const tar = join(dir, `v${n}.tar`);
      writeFileSync(tar, archive);
      // CI: build (here: load) and push as dockerd does, gzip layers and all.
      dockerCli(host, ['load', '-q', '-i', tar]);
      tagsMade.push(`${repo}:${n}`);
      dockerCli(host, ['push', `${repo}:${n}`]);
    }
    // The device holds app:1 only.
    await client.removeImage(`${repo}:2`, { force: true });
    await client.removeImage(`${repo}:3`, { force: true });

    // CI: the patch between the two registry references, pushed next to app:2. No daemon involved.
    const patch = join(dir, 'app-1-2.patch');
    const noDaemon = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
    const created = ok(run(['create', '--from-registry', `${repo}:1`, `${repo}:2`, patch, '--push'], { env: noDaemon }), 'create --push');
    const reference = created.stdout.trim();
    expect(reference).toMatch(new RegExp(`^${repo.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    const patchSize = statSync(patch).size;

    // Device: --dry-run names the patch and its bytes, changes nothing.
    const env = { DOCKER_HOST: host };
    const before = dockerCli(host, ['images', '-q', '--no-trunc', repo]);
    const dry = JSON.parse(ok(run(['update', `${repo}:2`, '--dry-run', '--json'], { env }), 'update --dry-run').stdout) as { action: string; bytes: number };
    expect(dry).toMatchObject({ action: 'patch', bytes: patchSize });
    expect(dockerCli(host, ['images', '-q', '--no-trunc', repo])).toBe(before);

    // Device: update by the patch.
    const updated = ok(run(['update', `${repo}:2`], { env }), 'update');
    expect(updated.stderr).toContain(`by patch ${reference}, fetched ${patchSize} bytes`);
    expect((await client.inspectImage(`${repo}:2`)).Id).toBe(ids['2']);

    // app:3 has no patch: the daemon pulls it.
    const pulled = ok(run(['update', `${repo}:3`], { env }), 'update (pull)');
    expect(pulled.stderr).toMatch(/no patch to .*; pulling through the daemon/);
    expect((await client.inspectImage(`${repo}:3`)).Id).toBe(ids['3']);
  });
});
