/**
 * `update REF` on a device, the deciding half: what the registry says REF
 * is (manifest digest M, config digest C), which images of REF's
 * repository the daemon holds, and so whether the device is up to date,
 * can take a patch from one of its images to C (the smallest one the
 * registry lists for M whose annotations say old = a local image, new = C,
 * and a format version this build reads), or must pull. Also the pull
 * itself through the daemon, and what a pull would fetch.
 *
 * Applying the chosen patch is apply's work (src/device/load.ts); the CLI
 * joins the two.
 *
 * Identities: the classic store and podman name an image by its config
 * digest; the containerd store by its manifest digest, whose config digest
 * is read from the image's save stream (src/docker/identity.ts) unless the
 * ID is M itself.
 *
 * Errors: as the registry client (REGISTRY, NOT_FOUND, DIGEST_MISMATCH)
 * and the Docker client (DOCKER); a pull the daemon reports failed is
 * REGISTRY (the daemon could not get it from the registry).
 * Memory: manifests and configs (each at most 4 MiB); one save chunk.
 */
import type { DockerClient } from '../docker/client.js';
import { configDigestOf, usesContainerdStore } from '../docker/identity.js';
import { ErrorCode, PatcherError } from '../errors.js';
import { FORMAT_VERSION } from '../format/image/frames.js';
import { Annotation, findPatches, resolvePatch } from '../registry/artifact.js';
import type { Credentials } from '../registry/auth.js';
import type { Descriptor, RegistryClient } from '../registry/client.js';
import { diffIdsOf, resolveImage, type Platform, type RegistryImage } from '../registry/image.js';
import { apiHost, parseReference, repositoryName, type Reference } from '../registry/reference.js';

export interface LocalImage {
  /** The ID the daemon uses. */
  id: string;
  /** Its config digest (= id outside the containerd store). */
  configDigest: string;
  tags: string[];
}

export interface ChosenPatch {
  /** `registry/repo@sha256:…` of the patch manifest. */
  reference: string;
  blob: Descriptor;
  from: LocalImage;
}

export interface UpdatePlan {
  image: RegistryImage;
  /** C: the new image's config digest. */
  configDigest: string;
  /** The images of REF's repository in the daemon. */
  local: LocalImage[];
  action: 'up-to-date' | 'patch' | 'pull';
  /** up-to-date: the local image that is C. */
  current?: LocalImage;
  patch?: ChosenPatch;
  /** pull: why no patch serves. */
  reason?: string;
}

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

/** The daemon's platform (GET /version: Os, Arch), as an index names platforms. */
export async function daemonPlatform(docker: DockerClient): Promise<Platform> {
  const version = await docker.systemVersion();
  const os = typeof version.Os === 'string' && version.Os ? version.Os : 'linux';
  const architecture = typeof version.Arch === 'string' && version.Arch ? version.Arch : 'amd64';
  return { os, architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

/** The same registry and repository as `ref`, for a name the daemon lists (`<none>` and the like are not). */
function sameRepository(name: string, ref: Reference): boolean {
  try {
    const other = parseReference(name);
    return other.registry === ref.registry && other.repository === ref.repository;
  } catch {
    return false;
  }
}

/** The daemon's images named in `ref`'s repository (by tag or digest), with their config digests. */
export async function localImages(docker: DockerClient, ref: Reference, image: RegistryImage, configDigest: string): Promise<LocalImage[]> {
  const containerd = await usesContainerdStore(docker);
  const out: LocalImage[] = [];
  for (const summary of await docker.listImages()) {
    const names = [...summary.RepoTags, ...summary.RepoDigests].filter((name) => sameRepository(name, ref));
    if (!names.length) continue;
    let config = summary.Id;
    if (containerd) {
      config = summary.Id === image.manifestDigest ? configDigest : ((await configDigestOf(docker, summary.Id).catch(() => undefined)) ?? summary.Id);
    }
    out.push({ id: summary.Id, configDigest: config, tags: summary.RepoTags.filter((name) => sameRepository(name, ref)) });
  }
  return out;
}

/**
 * The new image when the daemon holds it under names of other
 * repositories only: by its config digest (the classic store's and podman's
 * ID) or its manifest digest (the containerd store's, for a pulled image).
 */
async function heldUnderOtherNames(docker: DockerClient, image: RegistryImage, configDigest: string): Promise<LocalImage | undefined> {
  for (const [ref, isIt] of [
    [configDigest, (id: string) => id === configDigest],
    [image.manifestDigest, (id: string) => id === image.manifestDigest],
  ] as const) {
    const info = await docker.inspectImage(ref).catch((err: unknown) => {
      if (err instanceof PatcherError && err.code === ErrorCode.NotFound) return undefined;
      throw err;
    });
    if (info && isIt(info.Id)) return { id: info.Id, configDigest, tags: info.RepoTags };
  }
  return undefined;
}

/** Decide: up to date, a patch, or a pull. */
export async function planUpdate(registry: RegistryClient, docker: DockerClient, ref: Reference): Promise<UpdatePlan> {
  const image = await resolveImage(registry, ref, await daemonPlatform(docker));
  const configDigest = image.config.digest;
  const local = await localImages(docker, ref, image, configDigest);
  const base = { image, configDigest, local };
  const current = local.find((l) => l.configDigest === configDigest || l.id === image.manifestDigest) ?? (await heldUnderOtherNames(docker, image, configDigest));
  if (current) return { ...base, action: 'up-to-date', current };
  if (!local.length) return { ...base, action: 'pull', reason: `no image of ${repositoryName(ref)} in the daemon: a first install is a pull` };
  const { patch, reason } = await choosePatch(registry, ref, image, configDigest, local);
  return patch ? { ...base, action: 'patch', patch } : { ...base, action: 'pull', reason };
}

/** The smallest usable patch to C from a local image, or why there is none. */
async function choosePatch(registry: RegistryClient, ref: Reference, image: RegistryImage, configDigest: string, local: LocalImage[]): Promise<{ patch?: ChosenPatch; reason?: string }> {
  const listed = await findPatches(registry, ref.repository, image.manifestDigest);
  const where = repositoryName(ref);
  if (!listed.length) return { reason: `no patch to ${short(configDigest)} (manifest ${short(image.manifestDigest)}) in ${where}` };
  const toNew = listed.filter((d) => d.annotations?.[Annotation.newConfig] === configDigest);
  const readable = toNew.filter((d) => d.annotations?.[Annotation.formatVersion] === String(FORMAT_VERSION));
  if (toNew.length && !readable.length) {
    const versions = [...new Set(toNew.map((d) => d.annotations?.[Annotation.formatVersion] ?? 'unknown'))].join(', ');
    return { reason: `the patches to ${short(configDigest)} in ${where} are of format version ${versions}; this docker-patcher reads version ${FORMAT_VERSION}` };
  }
  const usable: Array<{ descriptor: Descriptor; from: LocalImage }> = [];
  for (const descriptor of readable) {
    const oldConfig = descriptor.annotations?.[Annotation.oldConfig];
    const oldManifest = descriptor.annotations?.[Annotation.oldManifest];
    const from = local.find((l) => l.configDigest === oldConfig || (oldManifest !== undefined && l.id === oldManifest));
    if (from) usable.push({ descriptor, from });
  }
  if (!usable.length) {
    const ids = local.map((l) => short(l.configDigest)).join(', ');
    return { reason: `${readable.length} patch${readable.length === 1 ? '' : 'es'} to ${short(configDigest)} in ${where}, none from the local image${local.length === 1 ? '' : 's'} (${ids})` };
  }
  let best: ChosenPatch | undefined;
  for (const { descriptor, from } of usable) {
    const { blob } = await resolvePatch(registry, { ...ref, tag: undefined, digest: descriptor.digest });
    if (!best || blob.size < best.blob.size) best = { reference: `${repositoryName(ref)}@${descriptor.digest}`, blob, from };
  }
  return { patch: best };
}

/**
 * What a pull would fetch: the sizes of the manifest's layers whose
 * diff_ids no image in the daemon has, plus the config. (A daemon that
 * holds a layer under another blob, or lacks a blob whose layer it has
 * unpacked, may fetch a little differently; this is what it needs.)
 */
export async function pullBytes(registry: RegistryClient, docker: DockerClient, ref: Reference, image: RegistryImage): Promise<{ bytes: number; layers: number; missing: number }> {
  const diffIds = await diffIdsOf(registry, ref.repository, image.config);
  if (diffIds.length !== image.layers.length) {
    throw new PatcherError(ErrorCode.Registry, `image config ${image.config.digest} names ${diffIds.length} layers, its manifest ${image.layers.length}`);
  }
  const held = new Set<string>();
  for (const summary of await docker.listImages()) {
    const info = await docker.inspectImage(summary.Id).catch(() => undefined);
    for (const layer of info?.RootFS.Layers ?? []) held.add(layer);
  }
  let bytes = image.config.size;
  let missing = 0;
  image.layers.forEach((layer, i) => {
    if (held.has(diffIds[i]!)) return;
    bytes += layer.size;
    missing++;
  });
  return { bytes, layers: image.layers.length, missing };
}

/** The libpod API version when the daemon is podman's service (its /version lists a "Podman Engine" component), else undefined. */
async function podmanApiVersion(docker: DockerClient): Promise<string | undefined> {
  const components = (await docker.systemVersion()).Components;
  const podman = Array.isArray(components) ? components.find((c: { Name?: unknown }) => /podman/i.test(String(c?.Name ?? ''))) : undefined;
  if (!podman) return undefined;
  const version = String((podman as { Details?: { APIVersion?: unknown } }).Details?.APIVersion ?? (podman as { Version?: unknown }).Version ?? '');
  return /^\d+\.\d+(\.\d+)?$/.test(version) ? version : '4.0.0';
}

/** The X-Registry-Auth value for `registry` (URL-safe base64 of the JSON the daemon reads). */
export function registryAuthHeader(credentials: Credentials, registry: string): string {
  const json = JSON.stringify({ username: credentials.username, password: credentials.password, serveraddress: apiHost(registry) });
  return Buffer.from(json).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * The daemon pulls the image by its manifest digest (so it gets exactly
 * M, whatever the tag says by then); then its config is checked to be C
 * and only then is it tagged. Returns the ID the daemon uses.
 */
export async function pullThroughDaemon(docker: DockerClient, ref: Reference, plan: UpdatePlan, opts: { tag?: string; credentials?: Credentials; unverifiedTransport?: boolean }): Promise<string> {
  const name = repositoryName(ref);
  const registryAuth = opts.credentials ? registryAuthHeader(opts.credentials, ref.registry) : undefined;
  // Podman asks even a loopback registry over https unless told (dockerd allows http there itself):
  // where we reached the registry over plain http or unchecked TLS, so may podman.
  const podmanTlsVerifyOff = opts.unverifiedTransport ? await podmanApiVersion(docker) : undefined;
  try {
    await docker.pullImage(name, plan.image.manifestDigest, { registryAuth, podmanTlsVerifyOff });
  } catch (err) {
    if (err instanceof PatcherError && err.code === ErrorCode.Docker && /pull failed/.test(err.message)) {
      throw new PatcherError(ErrorCode.Registry, `the daemon could not pull ${name}@${plan.image.manifestDigest}: ${err.message.replace(/^docker: pull failed: /, '')}`, { cause: err });
    }
    throw err;
  }
  const pulled = await docker.inspectImage(`${name}@${plan.image.manifestDigest}`);
  const containerd = await usesContainerdStore(docker);
  const config = !containerd ? pulled.Id : pulled.Id === plan.image.manifestDigest ? plan.configDigest : await configDigestOf(docker, pulled.Id);
  if (config !== plan.configDigest) {
    throw new PatcherError(ErrorCode.DigestMismatch, `the daemon pulled ${name}@${plan.image.manifestDigest} as ${pulled.Id}, not config ${plan.configDigest}`);
  }
  if (opts.tag) await docker.tagImage(pulled.Id, opts.tag);
  return pulled.Id;
}
