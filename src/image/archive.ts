/**
 * Detect and parse an image archive held in a ByteSource: a legacy
 * `docker save` (manifest.json + <id>/layer.tar), a Docker >= 25 save (OCI
 * layout plus manifest.json), or an OCI archive (oci-layout + index.json ->
 * manifest blob -> config + layers, layers possibly gzip or zstd). openLayer
 * streams a layer's uncompressed tar.
 *
 * Memory: the outer index (one TarEntryInfo with its header bytes per outer
 * entry, a few KB per layer), the config and the JSON manifests (each capped
 * at 16 MiB). openLayer holds one source chunk plus what inflating one 16 KiB
 * piece yields (at most ~16 MiB, typically ~64 KiB); for zstd, the
 * decoder also keeps the frame's window (8 MiB at zstd -19; zstd.ts refuses
 * more than 128 MiB).
 */

import { Gunzip } from 'fflate';
import { badImage, ErrorCode, PatcherError } from '../errors.js';
import { hashBytes, hashStream, sha256Hex, type HasherFactory } from './hash.js';
import type { ByteSource } from './source.js';
import { indexTar, type TarEnd, type TarEntryInfo } from './tar.js';
import { ZstdDecoder } from './zstd.js';

export type ArchiveKind = 'docker-legacy' | 'docker-oci' | 'oci-archive';

/**
 * How a layer is stored. Only 'gzip' blobs may be re-compressed by create
 * (Go's model); 'zstd' ones are read (indexed as old layers, checked
 * against their diff_id) but carried as stored when they change.
 */
export type LayerCompression = 'none' | 'gzip' | 'zstd';

export interface LayerRef {
  /** Name of the outer entry holding the layer (after following symlinks). */
  entryName: string;
  /** The outer entry itself (offsets of the stored layer bytes). */
  entry: TarEntryInfo;
  /** sha256 of the uncompressed layer tar, from the config's rootfs.diff_ids. */
  diffId: string;
  compression: LayerCompression;
  /** Size of the stored (possibly compressed) bytes. */
  storedSize: number;
  /**
   * sha256 of the stored bytes, as the layout names it (blob name, OCI
   * descriptor, or the diff_id for an uncompressed legacy layer). Undefined
   * when only hashing can tell: use layerStoredDigest().
   */
  storedDigest: string | undefined;
}

export interface ImageArchive {
  kind: ArchiveKind;
  /** 'sha256:<hex>' of the config bytes. */
  imageId: string;
  /**
   * 'sha256:<hex>' of the manifest blob index.json points to (an OCI
   * layout with one image): the containerd store's image ID and a
   * registry's digest. Undefined for a legacy archive (it has no manifest).
   */
  manifestDigest?: string;
  config: Uint8Array;
  tags: string[];
  layers: LayerRef[];
  /** Every outer entry in archive order, with offsets. */
  entries: TarEntryInfo[];
  /** End-of-archive blocks of the outer tar. */
  end: TarEnd;
}

export interface OpenArchiveOptions {
  hasher: HasherFactory;
  /** Which image when the archive holds several: a tag or an image ID. Default: the first. */
  image?: string;
  /** Follow index.json even when manifest.json is there too (a Docker >= 25 save holds both). */
  ociIndex?: boolean;
}

const MAX_JSON = 16 * 1024 * 1024;
const INFLATE_PIECE = 16 * 1024;
const MAX_LINK_HOPS = 8;

/** Normalized outer entry name: no leading './' or '/'. */
const normalize = (name: string) => name.replace(/^(\.\/|\/)+/, '');

interface Ctx {
  src: ByteSource;
  byName: Map<string, TarEntryInfo>;
  opts: OpenArchiveOptions;
}

/** The entry called `name`, following symlinks and hard links inside the archive. */
function lookup(ctx: Ctx, name: string, what: string): TarEntryInfo {
  let current = normalize(name);
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    const entry = ctx.byName.get(current);
    if (!entry) throw badImage(`bad image archive: ${what} ${name} is missing`);
    if (entry.type === 'file') return entry;
    if (entry.type === 'symlink') {
      const parts = current.split('/').slice(0, -1);
      for (const p of entry.linkname.split('/')) p === '..' ? parts.pop() : p && p !== '.' && parts.push(p);
      current = parts.join('/');
    } else if (entry.type === 'link') current = normalize(entry.linkname);
    else throw badImage(`bad image archive: ${what} ${name} is not a file`);
  }
  throw badImage(`bad image archive: ${what} ${name} is a symlink loop`);
}

async function readEntry(ctx: Ctx, entry: TarEntryInfo, what: string): Promise<Uint8Array> {
  if (entry.size > MAX_JSON) throw badImage(`bad image archive: ${what} is ${entry.size} bytes`);
  return ctx.src.read(entry.dataOffset, entry.size);
}

async function readJson(ctx: Ctx, name: string, what: string): Promise<any> {
  const bytes = await readEntry(ctx, lookup(ctx, name, what), what);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw badImage(`bad image archive: ${what} is not valid JSON`);
  }
}

/** Read a blob named by digest from blobs/<alg>/<hex> and check its sha256. */
async function readBlob(ctx: Ctx, digest: unknown, what: string): Promise<Uint8Array> {
  const hex = typeof digest === 'string' ? sha256Hex(digest) : null;
  if (!hex) throw badImage(`bad image archive: ${what} has an unsupported digest ${String(digest)}`);
  const bytes = await readEntry(ctx, lookup(ctx, `blobs/sha256/${hex}`, what), what);
  if (hashBytes(ctx.opts.hasher, bytes) !== digest) throw badImage(`bad image archive: ${what} does not match its digest ${digest}`);
  return bytes;
}

/** Compression of a stored layer: from the media type, else by its first bytes. */
async function compressionOf(ctx: Ctx, entry: TarEntryInfo, mediaType?: string): Promise<LayerCompression> {
  if (mediaType?.endsWith('+gzip') || mediaType?.endsWith('.gzip')) return 'gzip';
  if (mediaType?.endsWith('+zstd') || mediaType?.endsWith('.zstd')) return 'zstd';
  return compressionByMagic(await ctx.src.read(entry.dataOffset, Math.min(4, entry.size)));
}

/** gzip (1F 8B) or a zstd frame (28 B5 2F FD) by a blob's first bytes, else 'none'. */
export function compressionByMagic(magic: Uint8Array): LayerCompression {
  if (magic[0] === 0x1f && magic[1] === 0x8b) return 'gzip';
  if (magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * How create's summary and inspect name a changed layer carried as stored
 * (a LITERAL entry), by its first bytes: 'gzip' or 'zstd'; undefined for an
 * uncompressed one. Inspect sees only the patch, so both go by the bytes.
 */
export function storedCompressionName(first: Uint8Array): string | undefined {
  const compression = compressionByMagic(first.subarray(0, 4));
  return compression === 'none' ? undefined : compression;
}

/** diff_ids from the config, checked against the number of layers. */
function diffIdsOf(config: Uint8Array, count: number): string[] {
  let json: any;
  try {
    json = JSON.parse(new TextDecoder().decode(config));
  } catch {
    throw badImage('bad image archive: image config is not valid JSON');
  }
  const ids = json?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || ids.some((d) => typeof d !== 'string' || !sha256Hex(d))) {
    throw badImage('bad image archive: image config has no valid rootfs.diff_ids');
  }
  if (ids.length !== count) throw badImage(`bad image archive: config lists ${ids.length} diff_ids for ${count} layers`);
  return ids;
}

/** Pick one item by tag or image ID, default the first. */
function pick<T>(items: T[], opts: OpenArchiveOptions, matches: (item: T, want: string) => boolean, what: string): T {
  if (items.length === 0) throw badImage(`bad image archive: ${what} lists no image`);
  if (!opts.image) return items[0];
  const found = items.find((item) => matches(item, opts.image!));
  if (!found) throw new PatcherError(ErrorCode.NotFound, `image ${opts.image} is not in the archive`);
  return found;
}

/** manifest.json (legacy and Docker >= 25 saves). */
async function fromDockerManifest(ctx: Ctx, kind: ArchiveKind): Promise<Omit<ImageArchive, 'entries' | 'end'>> {
  const manifest = await readJson(ctx, 'manifest.json', 'manifest.json');
  if (!Array.isArray(manifest)) throw badImage('bad image archive: manifest.json is not a list');
  const item = pick(manifest, ctx.opts, (m, want) => m?.RepoTags?.includes(want) || String(m?.Config).includes(want.replace(/^sha256:/, '')), 'manifest.json');
  if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers)) throw badImage('bad image archive: manifest.json entry lacks Config or Layers');
  const config = await readEntry(ctx, lookup(ctx, item.Config, 'config'), 'config');
  const imageId = hashBytes(ctx.opts.hasher, config);
  const named = /([0-9a-f]{64})(\.json)?$/.exec(item.Config);
  if (named && `sha256:${named[1]}` !== imageId) throw badImage(`bad image archive: config ${item.Config} does not match its digest`);
  const diffIds = diffIdsOf(config, item.Layers.length);
  const layers: LayerRef[] = [];
  for (const [i, name] of item.Layers.entries()) {
    const entry = lookup(ctx, String(name), 'layer');
    const compression = await compressionOf(ctx, entry);
    const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(entry.name);
    const storedDigest = blob ? `sha256:${blob[1]}` : compression === 'none' ? diffIds[i] : undefined;
    layers.push({ entryName: entry.name, entry, diffId: diffIds[i], compression, storedSize: entry.size, storedDigest });
  }
  const tags = Array.isArray(item.RepoTags) ? item.RepoTags.map(String) : [];
  return { kind, imageId, config, tags, layers };
}

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const tagOf = (d: any): string | undefined =>
  d?.annotations?.['io.containerd.image.name'] ?? d?.annotations?.['org.opencontainers.image.ref.name'];

/** index.json -> (nested index ->) manifest -> config + layers. */
async function fromOciIndex(ctx: Ctx): Promise<Omit<ImageArchive, 'entries' | 'end'>> {
  const index = await readJson(ctx, 'index.json', 'index.json');
  const manifests: any[] = Array.isArray(index?.manifests) ? index.manifests : [];
  let descriptor = pick(manifests, ctx.opts, (d, want) => tagOf(d) === want || d?.digest === want, 'index.json');
  const tags = manifests.filter((d) => d?.digest === descriptor.digest).map(tagOf).filter((t): t is string => !!t);
  let manifest: any;
  for (let depth = 0; ; depth++) {
    const bytes = await readBlob(ctx, descriptor?.digest, 'manifest');
    manifest = JSON.parse(new TextDecoder().decode(bytes));
    if (!INDEX_TYPES.includes(manifest?.mediaType) || depth > 2) break;
    descriptor = manifest.manifests?.[0]; // nested index: the first platform
  }
  if (!manifest?.config || !Array.isArray(manifest.layers)) throw badImage('bad image archive: OCI manifest lacks config or layers');
  const config = await readBlob(ctx, manifest.config.digest, 'config');
  const diffIds = diffIdsOf(config, manifest.layers.length);
  const layers: LayerRef[] = [];
  for (const [i, d] of manifest.layers.entries()) {
    const hex = sha256Hex(String(d?.digest));
    if (!hex) throw badImage(`bad image archive: layer ${i} has an unsupported digest`);
    const entry = lookup(ctx, `blobs/sha256/${hex}`, 'layer');
    const compression = await compressionOf(ctx, entry, d.mediaType);
    layers.push({ entryName: entry.name, entry, diffId: diffIds[i], compression, storedSize: entry.size, storedDigest: d.digest });
  }
  return { kind: 'oci-archive', imageId: hashBytes(ctx.opts.hasher, config), config, tags, layers };
}

/** Parse an image archive. Throws badImage when it is not one. */
export async function openImageArchive(src: ByteSource, opts: OpenArchiveOptions): Promise<ImageArchive> {
  const { entries, end } = await indexTar(src);
  const byName = new Map(entries.map((e) => [normalize(e.name), e]));
  const ctx: Ctx = { src, byName, opts };
  const has = (name: string) => byName.has(name);
  let image;
  if (opts.ociIndex && has('index.json') && has('oci-layout')) image = await fromOciIndex(ctx);
  else if (has('manifest.json')) image = await fromDockerManifest(ctx, has('index.json') && has('oci-layout') ? 'docker-oci' : 'docker-legacy');
  else if (has('index.json') && has('oci-layout')) image = await fromOciIndex(ctx);
  else {
    const names = entries.slice(0, 5).map((e) => e.name).join(', ');
    throw badImage(`not a docker save or OCI archive: found ${names || 'no entries'}${entries.length > 5 ? ', ...' : ''}`);
  }
  const manifestDigest = has('index.json') && has('oci-layout') ? await indexDigest(ctx, image.imageId) : undefined;
  return { ...image, ...(manifestDigest ? { manifestDigest } : {}), entries, end };
}

/**
 * The one digest index.json names, checked against its blob, if that blob
 * is a manifest of the image with config `imageId` (or an index: a
 * multi-platform image is known by the index's digest).
 */
async function indexDigest(ctx: Ctx, imageId: string): Promise<string | undefined> {
  const index = await readJson(ctx, 'index.json', 'index.json');
  const digests = new Set<unknown>(Array.isArray(index?.manifests) ? index.manifests.map((d: any) => d?.digest) : []);
  if (digests.size !== 1) return undefined;
  const digest = [...digests][0];
  const manifest = JSON.parse(new TextDecoder().decode(await readBlob(ctx, digest, 'manifest')));
  const ok = INDEX_TYPES.includes(manifest?.mediaType) || manifest?.config?.digest === imageId;
  return ok ? (digest as string) : undefined;
}

/** sha256 of a layer's stored bytes: from the layout, else computed once and cached. */
export async function layerStoredDigest(src: ByteSource, archive: ImageArchive, i: number, hasher: HasherFactory): Promise<string> {
  const layer = archive.layers[i];
  layer.storedDigest ??= await hashStream(hasher, src.stream(layer.entry.dataOffset, layer.storedSize));
  return layer.storedDigest;
}

export interface OpenLayerOptions {
  /** When given, the uncompressed bytes are hashed and checked against the diff_id at the end. */
  hasher?: HasherFactory;
  /** Read size from the source, in bytes. Default 256 KiB. */
  chunkSize?: number;
}

/** Stream layer `i` of `archive` as an uncompressed tar. */
export async function* openLayer(src: ByteSource, archive: ImageArchive, i: number, opts: OpenLayerOptions = {}): AsyncGenerator<Uint8Array> {
  const layer = archive.layers[i];
  if (!layer) throw new PatcherError(ErrorCode.NotFound, `layer ${i} is not in the image (it has ${archive.layers.length})`);
  const stored = src.stream(layer.entry.dataOffset, layer.storedSize, opts.chunkSize);
  const chunks = layer.compression === 'gzip' ? gunzip(stored, layer.entryName) : layer.compression === 'zstd' ? unzstd(stored, layer.entryName) : stored;
  const hasher = opts.hasher?.();
  for await (const chunk of chunks) {
    hasher?.update(chunk);
    yield chunk;
  }
  const digest = hasher?.digest();
  if (digest && digest !== layer.diffId) {
    throw new PatcherError(ErrorCode.DigestMismatch, `layer ${layer.entryName}: content is ${digest}, config says ${layer.diffId}`);
  }
}

/** A push decoder (fflate's Gunzip, our ZstdDecoder): fed input, calls back with output. */
interface PushDecoder {
  push(chunk: Uint8Array, final: boolean): void;
}

/** Decode what `decoder` reads from `chunks`, 16 KiB of input at a time; a decoding error is one BAD_IMAGE line naming `kind`. */
async function* decode(chunks: AsyncIterable<Uint8Array>, what: string, kind: string, make: (ondata: (data: Uint8Array) => void) => PushDecoder): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const decoder = make((data) => out.push(data));
  const push = (piece: Uint8Array, final: boolean) => {
    try {
      decoder.push(piece, final);
    } catch (err) {
      throw badImage(`corrupt ${kind} layer ${what}: ${(err as Error).message}`);
    }
  };
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += INFLATE_PIECE) {
      push(chunk.subarray(at, at + INFLATE_PIECE), false);
      while (out.length) yield out.shift()!;
    }
  }
  push(new Uint8Array(0), true);
  while (out.length) yield out.shift()!;
}

/** Inflate gzip (one or more members) pulled from `chunks`. */
export const gunzip = (chunks: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> => decode(chunks, what, 'gzip', (ondata) => new Gunzip(ondata));

/** Decode zstd (one or more frames) pulled from `chunks`. */
export const unzstd = (chunks: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> => decode(chunks, what, 'zstd', (ondata) => new ZstdDecoder(ondata));
