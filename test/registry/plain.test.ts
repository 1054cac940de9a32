/**
 * push and apply --from-registry against a real docker-registry 2.8 on
 * loopback over plain http (no auth): round trip byte for byte, idempotent
 * push (monolithic and chunked), subject + fallback tag when the new image
 * is in the repository, and the failures (unknown repository, registry
 * down, a blob that does not match its digest) as one line, non-zero,
 * nothing written.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPatches, fallbackTag, PATCH_ARTIFACT_TYPE, Annotation } from '../../src/registry/artifact.js';
import { RegistryClient } from '../../src/registry/client.js';
import { ensureBuilt } from '../cli/helpers.js';
import { expectOneLineError, freePort, makePatchPair, pushImage, run, startRegistry, storeListing, type PatchPair, type TestRegistry } from './helpers.js';

let registry: TestRegistry;
let pair: PatchPair;

beforeAll(async () => {
  ensureBuilt();
  registry = await startRegistry();
  pair = await makePatchPair('dp-test/app:2');
});

afterAll(async () => {
  await registry?.stop();
});

const pushed = (r: ReturnType<typeof run>): string => {
  if (r.status !== 0) throw new Error(`push failed: ${r.stderr}`);
  return r.stdout.trim();
};

describe('push and apply --from-registry (plain http, loopback)', () => {
  it('round-trips: apply streams the patch from the registry and writes the new archive byte for byte', () => {
    const ref = pushed(run(['push', pair.patch, `${registry.host}/dp/app`]));
    expect(ref).toMatch(new RegExp(`^${registry.host}/dp/app@sha256:[0-9a-f]{64}$`));
    const out = join(pair.dir, 'out.tar');
    const r = run(['apply', '-q', pair.oldTar, pair.newId, '--from-registry', ref, '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(out).equals(Buffer.from(pair.newArchive))).toBe(true);
    // verify takes the same reference.
    expect(run(['verify', '-q', pair.oldTar, '--from-registry', ref, pair.newId]).status).toBe(0);
  });

  it('is idempotent: a second push uploads nothing, stores nothing and prints the same reference', () => {
    const first = pushed(run(['push', pair.patch, `${registry.host}/dp/idem`]));
    const before = storeListing(registry.dir);
    const again = run(['push', pair.patch, `${registry.host}/dp/idem`]);
    expect(pushed(again)).toBe(first);
    expect(again.stderr).toMatch(/already there, nothing uploaded/);
    expect(storeListing(registry.dir)).toEqual(before);
  });

  it('uploads in chunks (PATCH requests) to the same digest', () => {
    const chunked = pushed(run(['push', '--chunk-size', '1K', pair.backPatch, `${registry.host}/dp/chunked`]));
    const mono = pushed(run(['push', pair.backPatch, `${registry.host}/dp/mono2`]));
    expect(chunked.split('@')[1]).toBe(mono.split('@')[1]);
  });

  it('points subject at the new image when it is in the repository, findable through the fallback tag', async () => {
    const tagged = await makePatchPair(`${registry.host}/dp/withimage:2`);
    const client = new RegistryClient(registry.host);
    const imageDigest = await pushImage(client, 'dp/withimage', '2', tagged.newArchive);
    const r = run(['push', '--json', tagged.patch, `${registry.host}/dp/withimage`]);
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as { manifestDigest: string; subject: string; findable: string };
    expect(result.subject).toBe(imageDigest);
    expect(result.findable).toBe('fallback-tag'); // docker-registry 2.8 has no referrers API
    const found = await findPatches(client, 'dp/withimage', imageDigest);
    expect(found.map((d) => d.digest)).toEqual([result.manifestDigest]);
    expect(found[0]!.artifactType).toBe(PATCH_ARTIFACT_TYPE);
    expect(found[0]!.annotations?.[Annotation.oldConfig]).toBe(tagged.oldId);
    expect(found[0]!.annotations?.[Annotation.newConfig]).toBe(tagged.newId);
    // Twice: still one entry under the fallback tag.
    expect(run(['push', tagged.patch, `${registry.host}/dp/withimage`]).status).toBe(0);
    const index = await client.getManifest('dp/withimage', fallbackTag(imageDigest));
    expect((JSON.parse(index!.bytes.toString()) as { manifests: unknown[] }).manifests).toHaveLength(1);
    // The manifest names the subject and the images.
    const manifest = JSON.parse((await client.getManifest('dp/withimage', result.manifestDigest))!.bytes.toString()) as {
      subject: { digest: string };
      annotations: Record<string, string>;
    };
    expect(manifest.subject.digest).toBe(imageDigest);
    expect(manifest.annotations[Annotation.newTags]).toBe(`${registry.host}/dp/withimage:2`);
  });

  it('refuses a reference that is not a patch, and a file that is not a patch', async () => {
    const tagged = await makePatchPair(`${registry.host}/dp/notpatch:2`);
    await pushImage(new RegistryClient(registry.host), 'dp/notpatch', '2', tagged.newArchive);
    const out = join(tagged.dir, 'out.tar');
    expectOneLineError(run(['apply', tagged.oldTar, tagged.newId, '--from-registry', `${registry.host}/dp/notpatch:2`, '-o', out]), 5, /is not a docker-patcher patch/);
    expect(existsSync(out)).toBe(false);
    expectOneLineError(run(['push', tagged.newTar, `${registry.host}/dp/notpatch`]), 5, /patch/);
  });

  it('an unknown repository: one line, exit 9, no output', () => {
    const out = join(pair.dir, 'unknown.tar');
    const r = run(['apply', pair.oldTar, pair.newId, '--from-registry', `${registry.host}/dp/nosuchrepo@sha256:${'0'.repeat(64)}`, '-o', out]);
    expectOneLineError(r, 9, /not found/);
    expect(existsSync(out)).toBe(false);
  });

  it('a registry that is down: one line, exit 11, no output, for apply and push', async () => {
    const port = await freePort();
    const out = join(pair.dir, 'down.tar');
    expectOneLineError(run(['apply', pair.oldTar, pair.newId, '--from-registry', `127.0.0.1:${port}/dp/app@sha256:${'0'.repeat(64)}`, '-o', out]), 11, /connection refused/);
    expect(existsSync(out)).toBe(false);
    expectOneLineError(run(['push', pair.patch, `127.0.0.1:${port}/dp/app`]), 11, /connection refused/);
  });

  it('usage: PATCH is a path unless --from-registry; registry options need it; REPO has no tag', () => {
    const ref = `${registry.host}/dp/app@sha256:${'0'.repeat(64)}`;
    expectOneLineError(run(['apply', pair.oldTar, pair.newId, ref, '-o', join(pair.dir, 'x.tar')]), 3, /cannot read/);
    expectOneLineError(run(['apply', pair.oldTar, pair.newId, pair.patch, '--ca-cert', pair.patch, '-o', join(pair.dir, 'x.tar')]), 2, /--from-registry/);
    expectOneLineError(run(['push', pair.patch, `${registry.host}/dp/app:v1`]), 2, /repository only/);
    expectOneLineError(run(['push', pair.patch, 'Not A Repo']), 2, /not an image reference/);
  });

  // Last: it corrupts a blob in the shared store.
  it('a patch blob that does not match its digest: one line, exit 7, nothing written', () => {
    const ref = pushed(run(['push', pair.backPatch, `${registry.host}/dp/corrupt`]));
    const manifest = JSON.parse(run(['push', '--json', pair.backPatch, `${registry.host}/dp/corrupt`]).stdout) as { blobDigest: string };
    const hex = manifest.blobDigest.slice('sha256:'.length);
    const data = join(registry.dir, 'store/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = readFileSync(data);
    bytes[bytes.length - 1] ^= 0xff; // in the last chunk: held back until the digest is checked
    writeFileSync(data, bytes);
    const out = join(pair.dir, 'corrupt.tar');
    expectOneLineError(run(['apply', pair.newTar, pair.oldId, '--from-registry', ref, '-o', out]), 7, /hashes to sha256:/);
    expect(existsSync(out)).toBe(false);
  });
});
