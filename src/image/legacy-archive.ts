/**
 * A classic `docker save` archive (manifest.json + config + uncompressed
 * layer tars: the form dockerd 20.10 saves after a pull, which every engine
 * loads and whose image ID is the config digest) presented as a ByteSource
 * without being written: tar headers and JSON in memory, each layer's bytes
 * read from the source given for it (an inflated layer on disk, shared by
 * every archive that has it).
 *
 * Layout: `<diff_id hex>/` and `<diff_id hex>/layer.tar` per distinct layer
 * (a layer listed twice is stored once and named twice in manifest.json),
 * `<config hex>.json`, `manifest.json`; entries dated at the config's
 * `created`, owned by root, ending in two zero blocks as Go's archive/tar does.
 *
 * Memory: the headers and JSON (a few KB per layer) plus the config.
 */

import { concatSources, type SourcePart } from './concat-source.js';
import { memorySource, type ByteSource } from './source.js';
import { BLOCK, encodeEntryHeader, paddingSize } from './tar-header.js';

export interface LegacyLayer {
  /** sha256 of the uncompressed tar, as the config's rootfs.diff_ids lists it. */
  diffId: string;
  /** The uncompressed tar. */
  source: ByteSource;
}

export interface LegacyImage {
  config: Uint8Array;
  /** 'sha256:<hex>' of `config`. */
  configDigest: string;
  /** RepoTags (e.g. the registry reference the image was read by). */
  tags: string[];
  layers: LegacyLayer[];
}

const encoder = new TextEncoder();
const hexOf = (digest: string): string => digest.slice(digest.indexOf(':') + 1);

/** Seconds since the epoch of the config's `created`, else 0. */
function createdOf(config: Uint8Array): number {
  try {
    const created = (JSON.parse(new TextDecoder().decode(config)) as { created?: unknown }).created;
    const ms = typeof created === 'string' ? Date.parse(created) : NaN;
    return Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  } catch {
    return 0;
  }
}

/** The archive as one source; close() does not close the layer sources (they may be shared). */
export function legacyArchiveSource(image: LegacyImage): ByteSource {
  const mtime = createdOf(image.config);
  const parts: SourcePart[] = [];
  const header = (name: string, typeflag: '0' | '5', size: number): void => {
    const mode = typeflag === '5' ? 0o755 : 0o644;
    parts.push({ source: memorySource(encodeEntryHeader({ name, typeflag, size, mode, mtime, uname: 'root', gname: 'root' })) });
  };
  const padding = (size: number): void => {
    if (paddingSize(size)) parts.push({ source: memorySource(new Uint8Array(paddingSize(size))) });
  };
  const file = (name: string, data: Uint8Array): void => {
    header(name, '0', data.length);
    parts.push({ source: memorySource(data) });
    padding(data.length);
  };
  const stored = new Set<string>();
  for (const layer of image.layers) {
    const hex = hexOf(layer.diffId);
    if (stored.has(hex)) continue;
    stored.add(hex);
    header(`${hex}/`, '5', 0);
    header(`${hex}/layer.tar`, '0', layer.source.size);
    parts.push({ source: layer.source });
    padding(layer.source.size);
  }
  const configName = `${hexOf(image.configDigest)}.json`;
  file(configName, image.config);
  const manifest = [{ Config: configName, RepoTags: image.tags.length ? image.tags : null, Layers: image.layers.map((l) => `${hexOf(l.diffId)}/layer.tar`) }];
  file('manifest.json', encoder.encode(JSON.stringify(manifest)));
  parts.push({ source: memorySource(new Uint8Array(2 * BLOCK)) });
  return concatSources(parts);
}
