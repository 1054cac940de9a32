/**
 * apply --from-registry into the real dockerd (DOCKER_HOST, .ci/dockerd.sh)
 * from a real docker-registry 2.8: the new image is loaded with its ID and
 * tag; a patch blob that does not match its digest loads nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerClient } from '../../src/docker/client.js';
import { loadArchive } from '../../src/docker/load.js';
import { ensureBuilt } from '../cli/helpers.js';
import { removeQuietly, requireDaemon, uniqueRepo } from '../docker/helpers.js';
import { expectOneLineError, makePatchPair, run, startRegistry, type TestRegistry } from './helpers.js';

let registry: TestRegistry;
let client: DockerClient;
const tags: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  client = await requireDaemon();
  registry = await startRegistry();
});

afterAll(async () => {
  if (client) await removeQuietly(client, tags);
  await registry?.stop();
});

describe('apply --from-registry into the daemon', () => {
  it('loads the new image with its ID and tag', async () => {
    const pair = await makePatchPair('dp-test/app:2');
    const oldTag = `${uniqueRepo('reg-old')}:1`;
    const newTag = `${uniqueRepo('reg-new')}:2`;
    tags.push(oldTag, newTag, pair.newId);
    await loadArchive(client, pair.oldTar, { expectedId: pair.oldId, tags: [oldTag] });
    const ref = run(['push', pair.patch, `${registry.host}/dp/device`]).stdout.trim();
    const r = run(['apply', '-q', oldTag, pair.newId, '--from-registry', ref, '-t', newTag]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect((await client.inspectImage(newTag)).Id).toBe(pair.newId);
  });

  it('a blob that does not match its digest: one line, exit 7, nothing loaded', async () => {
    const pair = await makePatchPair('dp-test/app:2');
    const oldTag = `${uniqueRepo('reg-old')}:1`;
    const newTag = `${uniqueRepo('reg-bad')}:2`;
    tags.push(oldTag, newTag);
    await loadArchive(client, pair.oldTar, { expectedId: pair.oldId, tags: [oldTag] });
    const pushed = JSON.parse(run(['push', '--json', pair.patch, `${registry.host}/dp/device-bad`]).stdout) as { reference: string; blobDigest: string };
    const hex = pushed.blobDigest.slice('sha256:'.length);
    const data = join(registry.dir, 'store/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = readFileSync(data);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(data, bytes);
    expectOneLineError(run(['apply', oldTag, pair.newId, '--from-registry', pushed.reference, '-t', newTag]), 7, /hashes to sha256:/);
    await expect(client.inspectImage(pair.newId)).rejects.toThrow();
    await expect(client.inspectImage(newTag)).rejects.toThrow();
  });
});
