/**
 * Where `create` reads OLD and NEW from: an archive on disk, the daemon
 * (saved into the temp dir), or a registry (manifests and blobs over the
 * registry API, no daemon: src/registry/pull.ts, presented as a classic
 * `docker save` archive by src/image/legacy-archive.ts). With
 * --from-registry both are registry references; otherwise a reference
 * whose first component names a registry host is read from the daemon
 * when one answers and has it, else from its registry. Layers OLD and NEW
 * share are downloaded once and stored once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, PatcherError } from '../errors.js';
import { fileSource } from '../image/source.node.js';
import type { ByteSource } from '../image/source.js';
import type { Platform } from '../registry/pull.js';
import type { Reference } from '../registry/reference.js';
import type { CliContext } from './context.js';
import { classifyImageArg, dockerClient, namesRegistryHost, type DaemonOptions } from './inputs.js';
import { formatBytes } from './progress.js';
import type { RegistryCliOptions } from './registry-options.js';
import type { RegistryClient } from '../registry/client.js';

/** Registry clients by host, made on first use (see registryClients). */
export type Clients = () => Promise<(registry: string) => RegistryClient>;

export interface CreateInputOptions extends DaemonOptions, RegistryCliOptions {
  fromRegistry?: boolean;
  platform?: string;
}

export type InputKind = { kind: 'archive'; path: string } | { kind: 'daemon'; ref: string } | { kind: 'registry'; ref: string };

export interface CreateInputs {
  old: ByteSource;
  neu: ByteSource;
  /** NEW's manifest digest in its registry, when NEW was read from one. */
  newRegistry?: { ref: Reference; manifestDigest: string };
  /** Close every source (the layer files too). */
  close(): Promise<void>;
}

/**
 * Decide where `arg` is read from. A daemon that is not there, or does not
 * have the image, sends a registry-shaped reference to its registry; the
 * choice is said on stderr.
 */
export async function locateInput(ctx: CliContext, arg: string, label: string, options: CreateInputOptions): Promise<InputKind> {
  if (options.fromRegistry) return { kind: 'registry', ref: arg };
  const input = classifyImageArg(arg, label);
  if (input.kind === 'archive' || !namesRegistryHost(input.ref)) return input;
  try {
    const client = await dockerClient(options);
    await client.inspectImage(input.ref);
  } catch (err) {
    if (!(err instanceof PatcherError) || (err.code !== ErrorCode.Docker && err.code !== ErrorCode.NotFound)) throw err;
    const why = err.code === ErrorCode.NotFound ? 'not in the daemon' : err.message;
    ctx.info(`${label} ${arg}: ${why}; reading it from its registry`);
    return { kind: 'registry', ref: arg };
  }
  ctx.info(`${label} ${arg}: from the daemon`);
  return input;
}

/** Open OLD and NEW wherever they are; registry images are fetched together, shared layers once. */
export async function openInputs(ctx: CliContext, oldArg: string, newArg: string, options: CreateInputOptions, dir: string, clients: Clients): Promise<CreateInputs> {
  const kinds = [await locateInput(ctx, oldArg, 'OLD', options), await locateInput(ctx, newArg, 'NEW', options)] as const;
  const opened: ByteSource[] = [];
  const close = async (): Promise<void> => {
    for (const source of opened.splice(0)) await source.close?.();
  };
  try {
    const remote = await openRemote(ctx, kinds.map((k, i) => (k.kind === 'registry' ? { ref: k.ref, label: i ? 'NEW' : 'OLD' } : undefined)), options, dir, opened, clients);
    const sources: ByteSource[] = [];
    for (const [i, kind] of kinds.entries()) {
      const label = i ? 'NEW' : 'OLD';
      if (kind.kind === 'registry') sources.push(remote.archives[i]!);
      else if (kind.kind === 'archive') sources.push(await track(opened, fileSource(kind.path)));
      else sources.push(await track(opened, saveFromDaemon(ctx, kind.ref, label, options, dir)));
    }
    const newImage = remote.images[1];
    return { old: sources[0]!, neu: sources[1]!, ...(newImage ? { newRegistry: { ref: newImage.ref, manifestDigest: newImage.manifestDigest } } : {}), close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function track(opened: ByteSource[], source: Promise<ByteSource>): Promise<ByteSource> {
  const s = await source;
  opened.push(s);
  return s;
}

/** The daemon image saved into `dir`. */
async function saveFromDaemon(ctx: CliContext, ref: string, label: string, options: DaemonOptions, dir: string): Promise<ByteSource> {
  const path = join(dir, `${label.toLowerCase()}.tar`);
  const client = await dockerClient(options);
  const { saveImageToFile } = await import('../docker/save.js');
  ctx.progress.phase(`saving ${label} ${ref} from the daemon`);
  let saved = 0;
  await saveImageToFile(client, ref, path, (n) => ctx.progress.update((saved += n)));
  return fileSource(path);
}

/** RepoTags for an image read by `given`: the reference without its digest, `:latest` when it names no tag; none for a digest alone. */
export function tagsFor(given: string, ref: Reference): string[] {
  if (!ref.tag && ref.digest) return [];
  const name = given.split('@')[0]!;
  return [ref.tag && name.endsWith(`:${ref.tag}`) ? name : `${name}:${ref.tag ?? 'latest'}`];
}

type Wanted = { ref: string; label: string } | undefined;

/** Resolve, download (shared layers once) and present each wanted registry image as an archive source. */
async function openRemote(ctx: CliContext, wanted: Wanted[], options: CreateInputOptions, dir: string, opened: ByteSource[], clients: Clients) {
  const archives: Array<ByteSource | undefined> = [];
  const images: Array<import('../registry/pull.js').RemoteImage | undefined> = [];
  if (!wanted.some(Boolean)) return { archives, images };
  const { parseReference } = await import('../registry/reference.js');
  const { fetchLayers, hostPlatform, parsePlatform, resolveRemoteImage } = await import('../registry/pull.js');
  const { legacyArchiveSource } = await import('../image/legacy-archive.js');
  const platform: Platform = options.platform ? parsePlatform(options.platform) : hostPlatform();
  const refs = wanted.map((w) => w && parseReference(w.ref, { defaultTag: true }));
  const clientFor = await clients();
  const fetches = [];
  for (const [i, w] of wanted.entries()) {
    if (!w) continue;
    const client = clientFor(refs[i]!.registry);
    ctx.progress.phase(`reading ${w.label} ${w.ref} from the registry`);
    const image = await resolveRemoteImage(client, refs[i]!, platform);
    images[i] = image;
    fetches.push({ image, client, label: w.label });
  }
  const layerDir = join(dir, 'layers');
  mkdirSync(layerDir, { recursive: true });
  const fetched = await fetchLayers(fetches, layerDir, ctx.progress);
  const files = new Map<string, ByteSource>();
  for (const [diffId, path] of fetched.files) files.set(diffId, await track(opened, fileSource(path)));
  for (const [i, w] of wanted.entries()) {
    const image = images[i];
    if (!w || !image) continue;
    const layers = image.layers.map((l) => ({ diffId: l.diffId, source: files.get(l.diffId)! }));
    archives[i] = legacyArchiveSource({ config: image.config, configDigest: image.configDigest, tags: tagsFor(w.ref, refs[i]!), layers });
    const size = image.layers.reduce((sum, l) => sum + l.size, 0) + image.config.length;
    ctx.info(`${w.label} ${w.ref}: manifest ${image.manifestDigest}, ${image.layers.length} layers, ${formatBytes(size)} in the registry`);
  }
  const shared = fetched.shared ? `, ${fetched.shared} layer${fetched.shared > 1 ? 's' : ''} listed again fetched once` : '';
  ctx.info(`downloaded ${formatBytes(fetched.downloaded)} of layers (${fetched.files.size} distinct${shared})`);
  return { archives, images };
}
