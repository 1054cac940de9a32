/**
 * Build real image archives in memory from a small spec: layer tars written
 * with the project's own tar writer (tar-header.ts: Go-style ustar headers,
 * PAX for long names), then wrapped as a legacy `docker save` archive (as
 * Docker 20.10 writes it), a Docker >= 25 OCI-layout save, or an OCI archive
 * (optionally gzip layers). Deterministic: same spec, same bytes. Used by the
 * tests and by `docker-patcher demo`.
 *
 * Memory: everything is in memory: every layer tar (and its gzip) plus the
 * final archive, about 2-3x the image size. Meant for small demo images.
 */

import { concatBytes } from '../format/bytes.js';
import { gzipSync } from 'fflate';
import { hashBytes, type HasherFactory } from './hash.js';
import { encodeEntryHeader, paddingSize } from './tar-header.js';

export interface FileSpec {
  /** Path inside the layer, without a leading '/' (e.g. 'app/bin/run.sh'; '.wh.x' for whiteouts). */
  path: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  data?: Uint8Array | string;
  /** Symlink target, or the path a hard link points to (in the same layer). */
  linkname?: string;
  mode?: number;
  /** Seconds since the epoch; default SPEC_MTIME. */
  mtime?: number;
}

export interface ImageSpec {
  layers: FileSpec[][];
  /** Merged over a default config; rootfs is always computed. */
  config?: Record<string, unknown>;
  tags?: string[];
}

export interface BuildOptions {
  hasher: HasherFactory;
}

/** Default entry mtime: 2024-01-01T00:00:00Z. */
export const SPEC_MTIME = 1704067200;

const enc = new TextEncoder();
const bytesOf = (d: Uint8Array | string | undefined) => (typeof d === 'string' ? enc.encode(d) : d ?? new Uint8Array(0));
const hexOf = (digest: string) => digest.slice('sha256:'.length);

const TYPEFLAGS = { file: '0', link: '1', symlink: '2', directory: '5' } as const;

/** One layer tar (a PAX header in front of names ustar cannot hold). */
export async function buildLayerTar(files: FileSpec[]): Promise<Uint8Array> {
  return writeTar(
    files.map((f) => {
      const type = f.type ?? 'file';
      return {
        name: type === 'directory' && !f.path.endsWith('/') ? f.path + '/' : f.path,
        typeflag: TYPEFLAGS[type],
        data: type === 'file' ? bytesOf(f.data) : undefined,
        linkname: f.linkname,
        mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644),
        mtime: f.mtime ?? SPEC_MTIME,
      };
    }),
  );
}

/** An entry of a tar written here (outer archives and layers). */
interface OuterEntry {
  name: string;
  typeflag: '0' | '1' | '2' | '5';
  data?: Uint8Array;
  linkname?: string;
  mode?: number;
  mtime: number;
  uname?: string;
}

/** Outer archives: uname/gname root, as Docker writes them. */
function writeOuterTar(entries: OuterEntry[]): Uint8Array {
  return writeTar(entries.map((e) => ({ ...e, uname: 'root', mode: e.mode ?? (e.typeflag === '5' ? 0o755 : e.typeflag === '2' ? 0o777 : 0o644) })));
}

/** Write a tar as Go's archive/tar does (two zero blocks at the end). */
function writeTar(entries: OuterEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    const header = encodeEntryHeader({
      name: e.name,
      typeflag: e.typeflag,
      size: data.length,
      mode: e.mode,
      mtime: e.mtime,
      uname: e.uname,
      gname: e.uname,
      linkname: e.linkname,
    });
    parts.push(header, data, new Uint8Array(paddingSize(data.length)));
  }
  parts.push(new Uint8Array(1024));
  return concatBytes(parts);
}

/** A built image: its layer tars, diff_ids and config bytes. */
interface BuiltImage {
  layers: Uint8Array[];
  diffIds: string[];
  config: Uint8Array;
  configDigest: string;
  created: number;
  tags: string[];
}

async function buildImage(spec: ImageSpec, opts: BuildOptions): Promise<BuiltImage> {
  const layers = await Promise.all(spec.layers.map(buildLayerTar));
  const diffIds = layers.map((l) => hashBytes(opts.hasher, l));
  const base = {
    architecture: 'amd64',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
    created: new Date(SPEC_MTIME * 1000).toISOString(),
    history: spec.layers.map((_, i) => ({ created: new Date(SPEC_MTIME * 1000).toISOString(), created_by: `layer ${i}` })),
    os: 'linux',
  };
  const json = { ...base, ...spec.config, rootfs: { type: 'layers', diff_ids: diffIds } };
  const config = enc.encode(JSON.stringify(json));
  const created = Math.floor(Date.parse(String(json.created)) / 1000) || 0;
  return { layers, diffIds, config, configDigest: hashBytes(opts.hasher, config), created, tags: spec.tags ?? [] };
}

/** 'repo/name:tag' -> ['repo/name', 'tag'] (':latest' when absent). */
function splitTag(tag: string): [string, string] {
  const colon = tag.lastIndexOf(':');
  return colon > tag.lastIndexOf('/') ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, 'latest'];
}

/** Legacy v1 layer IDs: chained from the parent; the top one also depends on the config. */
function v1Ids(img: BuiltImage, opts: BuildOptions): string[] {
  const ids: string[] = [];
  img.diffIds.forEach((diffId, i) => {
    const top = i === img.diffIds.length - 1 ? `\n${img.configDigest}` : '';
    ids.push(hexOf(hashBytes(opts.hasher, enc.encode(`${ids[i - 1] ?? ''}\n${diffId}${top}`))));
  });
  return ids;
}

function v1Json(id: string, parent: string | undefined, created: number): Uint8Array {
  const json = { id, ...(parent ? { parent } : {}), created: new Date(created * 1000).toISOString(), os: 'linux' };
  return enc.encode(JSON.stringify(json));
}

/**
 * A legacy `docker save` archive of one or more images, laid out as Docker
 * 20.10 writes it: `<id>/`, `<id>/VERSION`, `<id>/json`, `<id>/layer.tar`
 * (a symlink to the first copy when two layers share a diff_id),
 * `<config hex>.json`, `manifest.json`, `repositories`, in name order.
 */
export async function buildDockerArchive(specs: ImageSpec | ImageSpec[], opts: BuildOptions): Promise<Uint8Array> {
  const images = await Promise.all((Array.isArray(specs) ? specs : [specs]).map((s) => buildImage(s, opts)));
  const files = new Map<string, OuterEntry[]>();
  const savedAt = new Map<string, string>();
  const manifest: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const ids = v1Ids(img, opts);
    ids.forEach((id, i) => {
      if (files.has(id)) return;
      const mtime = img.created;
      const layer: OuterEntry = savedAt.has(img.diffIds[i])
        ? { name: `${id}/layer.tar`, typeflag: '2', linkname: `../${savedAt.get(img.diffIds[i])}/layer.tar`, mtime }
        : { name: `${id}/layer.tar`, typeflag: '0', data: img.layers[i], mtime };
      if (!savedAt.has(img.diffIds[i])) savedAt.set(img.diffIds[i], id);
      files.set(id, [
        { name: `${id}/`, typeflag: '5', mtime },
        { name: `${id}/VERSION`, typeflag: '0', data: enc.encode('1.0'), mtime },
        { name: `${id}/json`, typeflag: '0', data: v1Json(id, ids[i - 1], mtime), mtime },
        layer,
      ]);
    });
    const configName = `${hexOf(img.configDigest)}.json`;
    files.set(configName, [{ name: configName, typeflag: '0', data: img.config, mtime: img.created }]);
    manifest.push({ Config: configName, RepoTags: img.tags.length ? img.tags : null, Layers: ids.map((id) => `${id}/layer.tar`) });
    for (const tag of img.tags) {
      const [repo, t] = splitTag(tag);
      (repositories[repo] ??= {})[t] = ids[ids.length - 1];
    }
  }
  files.set('manifest.json', [{ name: 'manifest.json', typeflag: '0', data: enc.encode(JSON.stringify(manifest)), mtime: 0 }]);
  if (Object.keys(repositories).length) {
    files.set('repositories', [{ name: 'repositories', typeflag: '0', data: enc.encode(JSON.stringify(repositories)), mtime: 0 }]);
  }
  return writeOuterTar([...files.keys()].sort().flatMap((k) => files.get(k)!));
}

const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

interface StoredBlob {
  digest: string;
  bytes: Uint8Array;
}

/** Write an OCI image layout (blobs/, index.json, oci-layout) plus any extra top-level files. */
function writeOciLayout(blobs: StoredBlob[], index: unknown, extra: OuterEntry[]): Uint8Array {
  const unique = new Map(blobs.map((b) => [hexOf(b.digest), b.bytes]));
  const entries: OuterEntry[] = [
    { name: 'blobs/', typeflag: '5', mtime: 0 },
    { name: 'blobs/sha256/', typeflag: '5', mtime: 0 },
    ...[...unique.keys()].sort().map((hex): OuterEntry => ({ name: `blobs/sha256/${hex}`, typeflag: '0', data: unique.get(hex), mtime: 0 })),
    { name: 'index.json', typeflag: '0', data: enc.encode(JSON.stringify(index)), mtime: 0 },
    { name: 'oci-layout', typeflag: '0', data: enc.encode('{"imageLayoutVersion":"1.0.0"}'), mtime: 0 },
    ...extra,
  ];
  return writeOuterTar(entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
}

/** The manifest blob and the blobs it names, for one image. */
function ociManifest(img: BuiltImage, stored: Uint8Array[], layerType: string, opts: BuildOptions) {
  const layerBlobs = stored.map((bytes) => ({ digest: hashBytes(opts.hasher, bytes), bytes }));
  const manifest = {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: { mediaType: MT.config, digest: img.configDigest, size: img.config.length },
    layers: layerBlobs.map((b) => ({ mediaType: layerType, digest: b.digest, size: b.bytes.length })),
  };
  const bytes = enc.encode(JSON.stringify(manifest));
  const manifestBlob = { digest: hashBytes(opts.hasher, bytes), bytes };
  const blobs = [{ digest: img.configDigest, bytes: img.config }, ...layerBlobs, manifestBlob];
  return { blobs, layerBlobs, manifestBlob };
}

/** A Docker >= 25 `docker save`: OCI layout plus manifest.json and repositories. */
export async function buildDockerOciArchive(spec: ImageSpec, opts: BuildOptions): Promise<Uint8Array> {
  const img = await buildImage(spec, opts);
  const { blobs, layerBlobs, manifestBlob } = ociManifest(img, img.layers, MT.layer, opts);
  const descriptor = (tag?: string) => ({
    mediaType: MT.manifest,
    digest: manifestBlob.digest,
    size: manifestBlob.bytes.length,
    ...(tag ? { annotations: { 'io.containerd.image.name': tag, 'org.opencontainers.image.ref.name': splitTag(tag)[1] } } : {}),
  });
  const index = { schemaVersion: 2, mediaType: MT.index, manifests: img.tags.length ? img.tags.map(descriptor) : [descriptor()] };
  const manifestJson = [{ Config: `blobs/sha256/${hexOf(img.configDigest)}`, RepoTags: img.tags, Layers: layerBlobs.map((b) => `blobs/sha256/${hexOf(b.digest)}`) }];
  const repositories: Record<string, Record<string, string>> = {};
  for (const tag of img.tags) (repositories[splitTag(tag)[0]] ??= {})[splitTag(tag)[1]] = hexOf(img.configDigest);
  const extra: OuterEntry[] = [{ name: 'manifest.json', typeflag: '0', data: enc.encode(JSON.stringify(manifestJson)), mtime: 0 }];
  if (img.tags.length) extra.push({ name: 'repositories', typeflag: '0', data: enc.encode(JSON.stringify(repositories)), mtime: 0 });
  return writeOciLayout(blobs, index, extra);
}

/** A layer compressor of the caller's (e.g. the zstd CLI in a test) and the media type its blobs get. */
export interface LayerCompressor {
  mediaType: string;
  encode(tar: Uint8Array): Uint8Array;
}

/** An OCI archive (as skopeo's oci-archive: writes): layout only, layers gzip when asked, or through `compress`. */
export async function buildOciArchive(spec: ImageSpec, opts: BuildOptions & { gzip: boolean; compress?: LayerCompressor }): Promise<Uint8Array> {
  const img = await buildImage(spec, opts);
  const compress = opts.compress ?? (opts.gzip ? { mediaType: MT.layerGzip, encode: (l: Uint8Array) => gzipSync(l, { level: 6, mtime: 0 }) } : undefined);
  const stored = compress ? img.layers.map((l) => compress.encode(l)) : img.layers;
  const { blobs, manifestBlob } = ociManifest(img, stored, compress?.mediaType ?? MT.layer, opts);
  const manifests = (img.tags.length ? img.tags : [undefined]).map((tag) => ({
    mediaType: MT.manifest,
    digest: manifestBlob.digest,
    size: manifestBlob.bytes.length,
    ...(tag ? { annotations: { 'org.opencontainers.image.ref.name': tag } } : {}),
  }));
  return writeOciLayout(blobs, { schemaVersion: 2, mediaType: MT.index, manifests }, []);
}
