/**
 * On dockerd 26's containerd store, an image pulled from a registry and
 * rebuilt by a patch keeps the registry's manifest digest: the patch
 * rebuilds every blob and the manifest byte for byte, so `docker images
 * --digests`, RepoDigests and `docker run repo@sha256:...` work on the
 * device without a pull.
 *
 *   v1, v2 (unique layers) pushed to the local registry, pulled into dockerd 26
 *   the build machine: save both (OCI layout, blobs as the store holds them), create
 *   the device: rmi v2; apply repo:v1 <short v2 digest> p.patch -t repo:v2
 *
 * Two kinds of layers. Uncompressed: pushed from dockerd 26, which pushes
 * the plain blobs a legacy load left it (and keeps the images: its pull is
 * then a no-op). Gzip: pushed from dockerd 20.10,
 * which gzips each layer with Go's compress/gzip: the changed gzip layer is
 * a delta (its tar diffed inside, re-compressed by the Go model) and the
 * blob, so the manifest digest, comes back byte for byte.
 * Needs dockerd 26, dockerd 20.10 and the registry: failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerClient } from '../../src/docker/index.js';
import { saveImageToFile } from '../../src/docker/save.js';
import { REGISTRY, requireClassic, requireDockerd26, requireRegistry } from './daemons.js';
import { chunked, dockerCli, ensureBuilt, legacyArchive, removeQuietly, rootfsTar, type Run, runPatcher, sha256, tarOf, uniqueRepo } from './helpers.js';

const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

let d26: DockerClient;
let classic: DockerClient;
let tmp = '';
const cleanup: Array<[DockerClient, string]> = [];

const docker = (host: string, args: string[]): string => dockerCli(host, args);

const patcher = (args: string[]): Run => runPatcher(args, tmp, { DOCKER_HOST: d26.host });

/** The manifest the registry holds for `repo:tag`, and its digest. */
async function registryDigest(repo: string, tag: string): Promise<string> {
  const res = await fetch(`http://${REGISTRY}/v2/${repo.slice(REGISTRY.length + 1)}/manifests/${tag}`, { headers: { Accept: MANIFEST_V2 } });
  expect(res.status).toBe(200);
  return `sha256:${sha256(Buffer.from(await res.arrayBuffer()))}`;
}

beforeAll(async () => {
  d26 = await requireDockerd26();
  classic = await requireClassic();
  await requireRegistry();
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-registry-digest-'));
});

afterAll(async () => {
  for (const [client, ref] of cleanup.reverse()) await removeQuietly(client, [ref]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe.each([
  { layers: 'uncompressed', pushFrom: () => d26 },
  { layers: 'gzip', pushFrom: () => classic },
])('dockerd 26 + registry, $layers layers', ({ layers: kind, pushFrom }) => {
  it('the applied image keeps the registry digest: docker images --digests, RepoDigests, docker run repo@sha256 without a pull', async () => {
    const repo = `${REGISTRY}/${uniqueRepo(`digest-${kind}`)}/app`;
    // A nonce in the bottom layer: the store must not hold these layers already (docs/engines.md, pitfall).
    const base = await rootfsTar([{ name: 'etc/dp-nonce', data: randomBytes(16).toString('hex') }]);
    // Unique app layers too: a layer an earlier run left unpacked changes what the store fetches and saves.
    const nonce = randomBytes(16).toString('hex');
    const app = (build: string) => tarOf([{ name: 'app/BUILD', data: `build ${build}\n${nonce.repeat(256)}\n` }]);
    const pusher = pushFrom();
    const digests: Record<string, string> = {};
    for (const version of ['1', '2']) {
      const ref = `${repo}:v${version}`;
      const image = await legacyArchive([base, await app(version)], ref);
      cleanup.push([pusher, ref]);
      await pusher.loadImage(chunked(image.archive));
      docker(pusher.host, ['push', '-q', ref]);
      digests[version] = await registryDigest(repo, `v${version}`);
    }
    // The device and the build machine pull (here the same daemon). For the
    // uncompressed case dockerd 26 pushed them itself and keeps them: removed
    // and pulled again, containerd would skip fetching the blobs of layers it
    // still has unpacked and the save would lack them (docs/engines.md, pitfall).
    for (const version of ['1', '2']) {
      const ref = `${repo}:v${version}`;
      docker(d26.host, ['pull', '-q', ref]);
      cleanup.push([d26, ref]);
      expect((await d26.inspectImage(ref)).Id).toBe(digests[version]);
      await saveImageToFile(d26, ref, path.join(tmp, `${kind}-v${version}.tar`));
    }
    const created = patcher(['create', path.join(tmp, `${kind}-v1.tar`), path.join(tmp, `${kind}-v2.tar`), `${kind}.patch`, '--json']);
    expect(created.status, created.stderr).toBe(0);
    const summary = JSON.parse(created.stdout);
    expect(summary.newManifestDigest).toBe(digests['2']);
    const changed = summary.entries.filter((e: { diffId?: string; kind: string }) => e.diffId && e.kind !== 'reuse');
    expect(changed.map((e: { kind: string }) => e.kind)).toEqual(['delta']);

    docker(d26.host, ['rmi', `${repo}:v2`]);
    const short = digests['2'].slice(7, 19);
    const applied = patcher(['apply', `${repo}:v1`, short, `${kind}.patch`, '-t', `${repo}:v2`, '--json']);
    expect(applied.status, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout).loadedId).toBe(digests['2']);

    const info = await d26.inspectImage(`${repo}:v2`);
    expect(info.Id).toBe(digests['2']);
    expect(info.RepoDigests).toContain(`${repo}@${digests['2']}`);
    expect(docker(d26.host, ['images', '--digests', '--format', '{{.Digest}}', `${repo}:v2`])).toBe(digests['2']);
    const out = docker(d26.host, ['run', '--rm', '--pull', 'never', '--network', 'none', '--entrypoint', '/bin/busybox', `${repo}@${digests['2']}`, 'head', '-1', '/app/BUILD']);
    expect(out).toBe('build 2');
  }, 300_000);
});
