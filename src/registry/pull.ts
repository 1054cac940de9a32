/**
 * Images read straight from a registry, no daemon: the manifest (Docker v2
 * or OCI; from an index or manifest list, the one for the wanted platform),
 * the config blob, and each layer blob, every one checked against its
 * digest as it streams (client.blob). Layers are inflated (gzip) or taken
 * as they are (uncompressed) into files named by their diff_id, and each
 * file's sha256 is checked against the config's rootfs.diff_ids: a layer
 * that several images (OLD and NEW) list is fetched and stored once.
 * legacyArchiveSource (src/image/legacy-archive.ts) then presents the
 * image as a classic `docker save` archive over those files.
 *
 * Errors, one line each: NOT_FOUND for an unknown repository, tag or
 * platform (naming the platforms there are), BAD_IMAGE for a manifest or
 * config that is not an image or a layer compressed other than gzip,
 * DIGEST_MISMATCH for a blob or an inflated layer that does not match.
 *
 * Memory: manifests and the config whole (capped); layers stream, one
 * chunk at a time through zlib's gunzip, hashed on the way to disk.
 */

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { badImage, ErrorCode, PatcherError } from '../errors.js';
import { fileError } from '../io/fs-errors.js';
import { MAX_MANIFEST_SIZE, MediaType, type RegistryClient } from './client.js';
import { formatReference, repositoryName, type Reference } from './reference.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** `os/arch[/variant]`, e.g. linux/arm64 or linux/arm/v7. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p))) {
    throw new PatcherError(ErrorCode.Usage, `--platform '${text}': expected os/arch[/variant], e.g. linux/arm64 or linux/arm/v7`);
  }
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** linux and this machine's architecture in OCI's names (x64 -> amd64, arm -> arm/v7). */
export function hostPlatform(arch: string = process.arch): Platform {
  const names: Record<string, Platform> = {
    x64: { os: 'linux', architecture: 'amd64' },
    arm64: { os: 'linux', architecture: 'arm64' },
    arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
    ia32: { os: 'linux', architecture: '386' },
  };
  return names[arch] ?? { os: 'linux', architecture: arch };
}

export const formatPlatform = (p: Partial<Platform>): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** Whether an index entry's platform is `want` (arm64 without a variant is v8). */
function platformMatches(have: Partial<Platform> | undefined, want: Platform): boolean {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return false;
  if (!want.variant) return true;
  const variant = have.variant ?? (have.architecture === 'arm64' ? 'v8' : undefined);
  return variant === want.variant;
}

export interface RemoteLayer {
  /** The blob's digest, size and media type, from the manifest. */
  digest: string;
  size: number;
  mediaType: string;
  compression: 'gzip' | 'none';
  /** sha256 of the uncompressed tar, from the config. */
  diffId: string;
}

export interface RemoteImage {
  ref: Reference;
  /** The image's manifest digest (for an index: the platform's manifest). */
  manifestDigest: string;
  /** The index's digest when the reference named an index or manifest list. */
  indexDigest?: string;
  config: Uint8Array;
  configDigest: string;
  layers: RemoteLayer[];
}

const GZIP_LAYERS = new Set([
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
const PLAIN_LAYERS = new Set(['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.nondistributable.v1.tar', 'application/vnd.docker.image.rootfs.diff.tar']);
const INDEX_TYPES: string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
const IMAGE_TYPES: string[] = [MediaType.OciManifest, MediaType.DockerManifest];
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function parseJson(bytes: Uint8Array, what: string): any {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw badImage(`${what} is not JSON`);
  }
}

/** The manifest's media type: the answer's Content-Type when it is one we know, else the JSON's mediaType field. */
function manifestType(contentType: string, json: any): string {
  if (INDEX_TYPES.includes(contentType) || IMAGE_TYPES.includes(contentType)) return contentType;
  return String(json?.mediaType ?? contentType);
}

/** Read a small blob whole (the config), checked against its digest. */
async function smallBlob(client: RegistryClient, repository: string, digest: string, size: number, what: string): Promise<Uint8Array> {
  if (!DIGEST.test(digest) || !Number.isSafeInteger(size) || size < 0 || size > MAX_MANIFEST_SIZE * 4) throw badImage(`${what}: unusable descriptor (${digest}, ${size} bytes)`);
  const chunks: Uint8Array[] = [];
  for await (const chunk of client.blob(repository, digest, size)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The manifest `ref` names, the platform's one from an index, with its config. */
export async function resolveRemoteImage(client: RegistryClient, ref: Reference, platform: Platform): Promise<RemoteImage> {
  const name = formatReference(ref);
  const repository = ref.repository;
  await client.ping();
  let manifest = await client.getManifest(repository, ref.digest ?? ref.tag ?? 'latest');
  if (!manifest) throw new PatcherError(ErrorCode.NotFound, `${name}: no such image in ${repositoryName(ref)}`);
  let json = parseJson(manifest.bytes, `manifest of ${name}`);
  let indexDigest: string | undefined;
  if (INDEX_TYPES.includes(manifestType(manifest.mediaType, json)) || (Array.isArray(json?.manifests) && !json?.config)) {
    indexDigest = manifest.digest;
    const entries: any[] = Array.isArray(json?.manifests) ? json.manifests : [];
    const images = entries.filter((d) => d?.platform && DIGEST.test(String(d?.digest)) && d.platform.os !== 'unknown');
    const chosen = images.find((d) => platformMatches(d.platform, platform));
    if (!chosen) {
      const present = images.map((d) => formatPlatform(d.platform)).join(', ') || 'none';
      throw new PatcherError(ErrorCode.NotFound, `${name} has no image for ${formatPlatform(platform)} (it has: ${present}); pick one with --platform`);
    }
    manifest = await client.getManifest(repository, String(chosen.digest));
    if (!manifest) throw new PatcherError(ErrorCode.NotFound, `${name}: the ${formatPlatform(platform)} manifest ${String(chosen.digest)} is not in ${repositoryName(ref)}`);
    json = parseJson(manifest.bytes, `manifest of ${name} for ${formatPlatform(platform)}`);
  }
  const type = manifestType(manifest.mediaType, json);
  if (!IMAGE_TYPES.includes(type) || !json?.config || !Array.isArray(json.layers)) {
    throw badImage(`${name} is not an image (manifest type ${type || 'unknown'}; Docker v2 and OCI image manifests are read)`);
  }
  const configDigest = String(json.config.digest);
  const config = await smallBlob(client, repository, configDigest, Number(json.config.size), `config of ${name}`);
  const diffIds = parseJson(config, `config of ${name}`)?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== json.layers.length || diffIds.some((d) => !DIGEST.test(String(d)))) {
    throw badImage(`config of ${name} lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids for ${json.layers.length} layers`);
  }
  const layers = (json.layers as any[]).map((d, i): RemoteLayer => {
    const mediaType = String(d?.mediaType ?? '');
    const compression = GZIP_LAYERS.has(mediaType) ? 'gzip' : PLAIN_LAYERS.has(mediaType) ? 'none' : undefined;
    if (!compression) throw badImage(`${name}: layer ${i + 1} is ${mediaType || 'of no media type'}, unsupported (gzip and uncompressed layers are read)`);
    if (!DIGEST.test(String(d.digest)) || !Number.isSafeInteger(d.size) || d.size < 0) throw badImage(`${name}: layer ${i + 1} has an unusable descriptor`);
    return { digest: d.digest, size: d.size, mediaType, compression, diffId: String(diffIds[i]) };
  });
  return { ref, manifestDigest: manifest.digest, ...(indexDigest ? { indexDigest } : {}), config, configDigest, layers };
}

export interface FetchProgress {
  phase(name: string, total?: number): void;
  update(done: number): void;
}

export interface FetchResult {
  /** Path of each inflated layer, by diff_id. */
  files: Map<string, string>;
  /** Blob bytes downloaded (each distinct layer once). */
  downloaded: number;
  /** Layers listed by more than one image (or twice), fetched once. */
  shared: number;
}

/** Fetch every distinct layer of `images` into `dir`, inflated, each checked against its diff_id. */
export async function fetchLayers(images: Array<{ image: RemoteImage; client: RegistryClient; label: string }>, dir: string, progress?: FetchProgress): Promise<FetchResult> {
  const files = new Map<string, string>();
  const wanted = images.flatMap(({ image, client, label }) => image.layers.map((layer, i) => ({ image, client, label, layer, i })));
  const distinct = wanted.filter((w, k) => wanted.findIndex((v) => v.layer.diffId === w.layer.diffId) === k);
  for (const [k, { image, client, label, layer, i }] of distinct.entries()) {
    const path = join(dir, `${layer.diffId.slice('sha256:'.length)}.tar`);
    progress?.phase(`downloading layer ${k + 1}/${distinct.length} (${label} layer ${i + 1}, ${layer.digest.slice(7, 19)})`, layer.size);
    let done = 0;
    await fetchLayer(client, image, layer, i, path, (n) => progress?.update((done += n)));
    files.set(layer.diffId, path);
  }
  return { files, downloaded: distinct.reduce((sum, d) => sum + d.layer.size, 0), shared: wanted.length - distinct.length };
}

/** One layer: blob (verified) -> gunzip when gzip -> sha256 checked against the diff_id -> `path`. */
async function fetchLayer(client: RegistryClient, image: RemoteImage, layer: RemoteLayer, index: number, path: string, onBytes: (n: number) => void): Promise<void> {
  const name = formatReference(image.ref);
  const blob = client.blob(image.ref.repository, layer.digest, layer.size);
  const counted = Readable.from(
    (async function* () {
      for await (const chunk of blob) {
        onBytes(chunk.length);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const stages: NodeJS.ReadWriteStream[] = layer.compression === 'gzip' ? [createGunzip(), hashing] : [hashing];
  try {
    await pipeline(counted, ...(stages as [NodeJS.ReadWriteStream]), createWriteStream(path));
  } catch (err) {
    if (err instanceof PatcherError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_')) throw badImage(`${name}: layer ${index + 1} (${layer.digest}) is not valid gzip: ${(err as Error).message}`);
    throw fileError('write', path, err);
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== layer.diffId) {
    throw new PatcherError(ErrorCode.DigestMismatch, `${name}: layer ${index + 1} (${layer.digest}) inflates to ${actual}, the config's diff_id is ${layer.diffId}`);
  }
}
