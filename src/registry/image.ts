/**
 * An image in a registry as a device needs it for `update`: the manifest a
 * reference names (for an index or manifest list, the one of the device's
 * platform), its config digest and size, its layers, and, read on demand,
 * the config's `rootfs.diff_ids` (what the daemon knows layers by).
 *
 * Errors: NOT_FOUND for an unknown repository or tag and for an index
 * without the device's platform (naming the platforms it has); REGISTRY for
 * a manifest that is not JSON or not an image manifest.
 * Memory: the manifest (at most 4 MiB) and the config blob (at most 4 MiB).
 */
import { ErrorCode, PatcherError } from '../errors.js';
import { MAX_MANIFEST_SIZE, MediaType, type Descriptor, type RegistryClient } from './client.js';
import { DIGEST, formatReference, type Reference } from './reference.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface RegistryImage {
  /** The image manifest's digest (the platform's, under an index). */
  manifestDigest: string;
  /** The index the reference named, when it named one. */
  indexDigest?: string;
  config: Descriptor;
  layers: Descriptor[];
}

const INDEX_TYPES: string[] = [MediaType.OciIndex, MediaType.DockerManifestList];

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new PatcherError(ErrorCode.Registry, `${what} is not a JSON object`);
}

const isDescriptor = (d: unknown): d is Descriptor => {
  const x = d as Descriptor | undefined;
  return !!x && typeof x.digest === 'string' && DIGEST.test(x.digest) && typeof x.size === 'number' && x.size >= 0;
};

const describePlatform = (p: Partial<Platform> | undefined): string => (p ? `${p.os ?? '?'}/${p.architecture ?? '?'}${p.variant ? `/${p.variant}` : ''}` : 'unknown');

/** The entry of an index for `platform`: os and architecture must match; a variant, when the daemon names one, breaks ties. */
function pickPlatform(manifests: Array<Descriptor & { platform?: Partial<Platform> }>, platform: Platform, what: string): Descriptor {
  const matching = manifests.filter((m) => m.platform?.os === platform.os && m.platform?.architecture === platform.architecture);
  const chosen = matching.find((m) => platform.variant && m.platform?.variant === platform.variant) ?? matching[0];
  if (chosen) return chosen;
  const present = manifests.map((m) => describePlatform(m.platform)).join(', ') || 'none';
  throw new PatcherError(ErrorCode.NotFound, `${what} has no image for ${describePlatform(platform)} (it has: ${present})`);
}

/** The image `ref` names in the registry, for `platform` when it names an index. */
export async function resolveImage(client: RegistryClient, ref: Reference, platform: Platform): Promise<RegistryImage> {
  const name = formatReference(ref);
  const reference = ref.digest ?? ref.tag ?? 'latest';
  let manifest = await client.getManifest(ref.repository, reference);
  if (!manifest) throw new PatcherError(ErrorCode.NotFound, `${name} not found in the registry`);
  let json = parseJson(manifest.bytes, `manifest of ${name}`);
  let indexDigest: string | undefined;
  const mediaType = manifest.mediaType || String(json.mediaType ?? '');
  if (INDEX_TYPES.includes(mediaType) || (Array.isArray(json.manifests) && !json.config)) {
    indexDigest = manifest.digest;
    const entries = (Array.isArray(json.manifests) ? json.manifests : []).filter(isDescriptor);
    const chosen = pickPlatform(entries, platform, name);
    manifest = await client.getManifest(ref.repository, chosen.digest);
    if (!manifest) throw new PatcherError(ErrorCode.NotFound, `${name}: manifest ${chosen.digest} for ${describePlatform(platform)} not found in the registry`);
    json = parseJson(manifest.bytes, `manifest ${chosen.digest} of ${name}`);
  }
  const layers = Array.isArray(json.layers) ? json.layers : [];
  if (!isDescriptor(json.config) || !layers.every(isDescriptor)) {
    throw new PatcherError(ErrorCode.Registry, `${name} (${manifest.digest}) is not an image manifest`);
  }
  return { manifestDigest: manifest.digest, indexDigest, config: json.config, layers: layers as Descriptor[] };
}

/** The config's `rootfs.diff_ids` (blob read whole, digest-checked), in layer order. */
export async function diffIdsOf(client: RegistryClient, repository: string, config: Descriptor): Promise<string[]> {
  if (config.size > MAX_MANIFEST_SIZE) throw new PatcherError(ErrorCode.Registry, `image config ${config.digest}: ${config.size} bytes, more than the ${MAX_MANIFEST_SIZE} accepted`);
  const chunks: Uint8Array[] = [];
  for await (const chunk of client.blob(repository, config.digest, config.size)) chunks.push(chunk);
  const json = parseJson(Buffer.concat(chunks), `image config ${config.digest}`);
  const ids = (json.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && DIGEST.test(id))) {
    throw new PatcherError(ErrorCode.Registry, `image config ${config.digest} has no rootfs.diff_ids`);
  }
  return ids as string[];
}
