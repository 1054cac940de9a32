/**
 * A patch as an OCI artifact: the patch file as one blob, the empty config,
 * an image manifest with artifactType PATCH_ARTIFACT_TYPE, annotations that
 * name the old and new images, and `subject` = the new image's manifest
 * when that manifest is in the same repository. Findable through the
 * referrers API, or, where the registry has none (docker-registry 2.8), the
 * distribution spec's fallback tag `sha256-<subject hex>`, an index listing
 * the referrers. The manifest holds nothing that changes between pushes of
 * the same patch (no timestamps), so a second push stores nothing new.
 */
import { ErrorCode, PatcherError } from '../errors.js';
import type { PatchHeader } from '../format/image/container.js';
import { MediaType, parseIndex, RegistryClient, sha256Of, type Descriptor } from './client.js';
import { parseReference, repositoryName, type Reference } from './reference.js';

/** The artifact type of a docker-patcher image patch (this manifest layout, version 1). */
export const PATCH_ARTIFACT_TYPE = 'application/vnd.docker-patcher.patch.v1';
/** The media type of the patch blob: the docker-patcher patch file, as `create` writes it. */
export const PATCH_BLOB_TYPE = 'application/vnd.docker-patcher.patch.v1.file';

/** The OCI empty descriptor's bytes: `{}`. */
const EMPTY_CONFIG = Buffer.from('{}');

export const Annotation = {
  oldConfig: 'io.docker-patcher.old.config-digest',
  oldManifest: 'io.docker-patcher.old.manifest-digest',
  newConfig: 'io.docker-patcher.new.config-digest',
  newManifest: 'io.docker-patcher.new.manifest-digest',
  newTags: 'io.docker-patcher.new.tags',
  formatVersion: 'io.docker-patcher.format-version',
} as const;

/**
 * The annotations for a patch, from its header: config digests and tags
 * always; manifest digests when the header carries them (optional fields
 * `old.manifestDigest` / `new.manifestDigest`). The one place that maps
 * header fields to annotation keys.
 */
export function patchAnnotations(header: PatchHeader): Record<string, string> {
  const oldImage = header.old as PatchHeader['old'] & { manifestDigest?: unknown };
  const newImage = header.new as PatchHeader['new'] & { manifestDigest?: unknown };
  const out: Record<string, string> = {
    [Annotation.oldConfig]: header.old.imageId,
    [Annotation.newConfig]: header.new.imageId,
    [Annotation.formatVersion]: String(header.formatVersion),
  };
  if (typeof oldImage.manifestDigest === 'string') out[Annotation.oldManifest] = oldImage.manifestDigest;
  if (typeof newImage.manifestDigest === 'string') out[Annotation.newManifest] = newImage.manifestDigest;
  if (header.new.tags.length) out[Annotation.newTags] = header.new.tags.join(',');
  return out;
}

export interface PushResult {
  /** `registry/repo@sha256:…` of the patch manifest. */
  reference: string;
  manifestDigest: string;
  blobDigest: string;
  /** Bytes sent for blobs (0 when the registry had them). */
  uploaded: number;
  /** The new image's manifest the patch refers to, if in the repository. */
  subject?: string;
  /** How it is findable from the subject: the referrers API, the fallback tag, or not at all. */
  findable: 'referrers' | 'fallback-tag' | 'digest-only';
}

export interface PatchBlob {
  digest: string;
  size: number;
  open(): AsyncIterable<Uint8Array>;
}

export interface PushOptions {
  /** Upload in requests of this many bytes (default: one request). */
  chunkSize?: number;
  /**
   * The new image's manifest digest when the caller knows it (create read
   * NEW from this registry): tried first as the subject, before the
   * header's manifest digest and tags.
   */
  subject?: string;
}

/** Push the patch blob and its manifest to `repo` (a repository reference; no tag or digest). */
export async function pushPatch(client: RegistryClient, repo: Reference, header: PatchHeader, patch: PatchBlob, opts: PushOptions = {}): Promise<PushResult> {
  const name = repo.repository;
  await client.ping();
  let uploaded = 0;
  if (await client.pushBlob(name, patch.digest, patch.size, patch.open, opts)) uploaded += patch.size;
  const emptyDigest = sha256Of(EMPTY_CONFIG);
  if (await client.pushBlob(name, emptyDigest, EMPTY_CONFIG.length, oneChunk(EMPTY_CONFIG))) uploaded += EMPTY_CONFIG.length;
  const annotations = patchAnnotations(header);
  const subject = await findSubject(client, repo, header, opts.subject);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: PATCH_ARTIFACT_TYPE,
    config: { mediaType: MediaType.OciEmpty, digest: emptyDigest, size: EMPTY_CONFIG.length },
    layers: [{ mediaType: PATCH_BLOB_TYPE, digest: patch.digest, size: patch.size }],
    ...(subject ? { subject } : {}),
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = sha256Of(bytes);
  const { subjectIndexed } = await client.putManifest(name, digest, MediaType.OciManifest, bytes);
  let findable: PushResult['findable'] = 'digest-only';
  if (subject) {
    findable = 'referrers';
    if (!subjectIndexed) {
      await addToFallbackTag(client, name, subject.digest, { mediaType: MediaType.OciManifest, digest, size: bytes.length, artifactType: PATCH_ARTIFACT_TYPE, annotations });
      findable = 'fallback-tag';
    }
  }
  return { reference: `${repositoryName(repo)}@${digest}`, manifestDigest: digest, blobDigest: patch.digest, uploaded, subject: subject?.digest, findable };
}

/**
 * The new image's manifest in `repo`: by the digest the caller knows (when
 * its config is the new config digest), then the one the header names,
 * else by each of its tags in this repository, when that manifest's config
 * is the new config digest. Undefined when none is there.
 */
async function findSubject(client: RegistryClient, repo: Reference, header: PatchHeader, known?: string): Promise<Descriptor | undefined> {
  if (known) {
    const manifest = await client.getManifest(repo.repository, known).catch(notThere);
    if (manifest && configDigestOf(manifest.bytes) === header.new.imageId) {
      return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
    }
  }
  const named = patchAnnotations(header)[Annotation.newManifest];
  if (named) {
    const found = await client.headManifest(repo.repository, named).catch(notThere);
    if (found) return { mediaType: found.mediaType, digest: found.digest, size: found.size };
  }
  for (const tag of header.new.tags) {
    let ref: Reference;
    try {
      ref = parseReference(tag);
    } catch {
      continue;
    }
    if (ref.registry !== repo.registry || ref.repository !== repo.repository || !ref.tag) continue;
    const manifest = await client.getManifest(repo.repository, ref.tag).catch(notThere);
    if (manifest && configDigestOf(manifest.bytes) === header.new.imageId) {
      return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
    }
  }
  return undefined;
}

const oneChunk = (bytes: Uint8Array) => async function* (): AsyncGenerator<Uint8Array> {
  yield bytes;
};

/** An unknown repository while looking for the subject just means there is none. */
const notThere = (err: unknown): undefined => {
  if (err instanceof PatcherError && err.code === ErrorCode.NotFound) return undefined;
  throw err;
};

function configDigestOf(bytes: Buffer): string | undefined {
  try {
    const digest = (JSON.parse(bytes.toString('utf8')) as { config?: { digest?: unknown } }).config?.digest;
    return typeof digest === 'string' ? digest : undefined;
  } catch {
    return undefined;
  }
}

/** The fallback tag of the distribution spec for referrers of `digest`. */
export const fallbackTag = (digest: string): string => digest.replace(':', '-');

/** Add `entry` to the index at the fallback tag (made if missing); unchanged when it is listed already. */
async function addToFallbackTag(client: RegistryClient, repository: string, subject: string, entry: Descriptor): Promise<void> {
  const tag = fallbackTag(subject);
  const existing = await client.getManifest(repository, tag).catch(notThere);
  const manifests = existing ? parseIndex(existing.bytes, `fallback tag ${tag}`).manifests : [];
  if (manifests.some((d) => d.digest === entry.digest)) return;
  const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...manifests, entry] };
  await client.putManifest(repository, tag, MediaType.OciIndex, Buffer.from(JSON.stringify(index)));
}

/** The patches that refer to `subject` (referrers API, else the fallback tag), filtered to our artifact type. */
export async function findPatches(client: RegistryClient, repository: string, subject: string): Promise<Descriptor[]> {
  let list = await client.referrers(repository, subject);
  if (!list) {
    const index = await client.getManifest(repository, fallbackTag(subject)).catch(notThere);
    list = index ? parseIndex(index.bytes, `fallback tag ${fallbackTag(subject)}`).manifests : [];
  }
  return list.filter((d) => d.artifactType === PATCH_ARTIFACT_TYPE);
}

/** The patch blob's descriptor from the manifest `reference` names; a manifest of another kind is a one-line error. */
export async function resolvePatch(client: RegistryClient, ref: Reference): Promise<{ manifestDigest: string; blob: Descriptor }> {
  const reference = ref.digest ?? ref.tag ?? 'latest';
  const manifest = await client.getManifest(ref.repository, reference);
  if (!manifest) throw new PatcherError(ErrorCode.NotFound, `patch ${reference} not found in ${repositoryName(ref)}`);
  let json: { artifactType?: unknown; layers?: unknown };
  try {
    json = JSON.parse(manifest.bytes.toString('utf8')) as typeof json;
  } catch {
    throw new PatcherError(ErrorCode.Registry, `manifest ${reference} in ${repositoryName(ref)} is not JSON`);
  }
  const layers = Array.isArray(json.layers) ? (json.layers as Descriptor[]) : [];
  const blob = layers.length === 1 ? layers[0] : undefined;
  if (json.artifactType !== PATCH_ARTIFACT_TYPE || !blob || blob.mediaType !== PATCH_BLOB_TYPE || typeof blob.size !== 'number' || !/^sha256:[0-9a-f]{64}$/.test(String(blob.digest))) {
    throw new PatcherError(ErrorCode.BadPatch, `${repositoryName(ref)}@${manifest.digest} is not a docker-patcher patch (artifactType ${String(json.artifactType ?? 'none')})`);
  }
  return { manifestDigest: manifest.digest, blob };
}
