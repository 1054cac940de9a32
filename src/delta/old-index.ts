/**
 * The old image as create sees it: every layer indexed (paths -> offsets)
 * for finding each new file's old twin, and the list of old blobs the patch
 * header will name, with the sources their bytes come from.
 *
 * Memory: one small record per file of the old image; layer bytes stay in
 * the archive (a gzip layer is inflated into memory: see layers.ts).
 */
import { badImage } from '../errors.js';
import { layerStoredDigest, openImageArchive, type ImageArchive } from '../image/archive.js';
import type { HasherFactory } from '../image/hash.js';
import { ImageFileMap, indexLayer, indexLayerSource, type LayerIndex } from '../image/layer-index.js';
import type { ByteSource } from '../image/source.js';
import type { OldBlob } from '../format/image/container.js';
import { layerSource, sliceSource } from '../image/layer-source.js';
import type { Report } from './progress.js';

export interface IndexedOldImage {
  archive: ImageArchive;
  blobs: OldBlob[];
  blobIndex: Map<string, number>;
  sources: ByteSource[];
  fileMap: ImageFileMap;
}

export async function indexChecked(source: ByteSource, diffId: string, what: string, hasher: HasherFactory): Promise<LayerIndex> {
  const index = await indexLayer(source.stream(), { hasher });
  if (index.diffId !== diffId) throw badImage(`${what}: layer content is ${index.diffId}, but the image config says ${diffId}`);
  return index;
}

/**
 * A compressed new layer can only be rebuilt byte for byte from identical
 * stored bytes: the old layer stored with the same digest, added as a blob
 * of its stored bytes. Undefined when the old image has none.
 */
export async function storedTwin(oldSrc: ByteSource, old: IndexedOldImage, newSrc: ByteSource, neu: ImageArchive, i: number, hasher: HasherFactory): Promise<number | undefined> {
  const digest = await layerStoredDigest(newSrc, neu, i, hasher);
  for (let j = 0; j < old.archive.layers.length; j++) {
    const layer = old.archive.layers[j];
    if (layer.storedSize !== neu.layers[i].storedSize || (await layerStoredDigest(oldSrc, old.archive, j, hasher)) !== digest) continue;
    const key = `stored:${digest}`;
    if (!old.blobIndex.has(key)) {
      old.blobIndex.set(key, old.blobs.length);
      old.blobs.push({ diffId: layer.diffId, stored: digest, size: layer.storedSize, whole: false, ranges: [] });
      old.sources.push(sliceSource(oldSrc, layer.entry.dataOffset, layer.storedSize));
    }
    return old.blobIndex.get(key);
  }
  return undefined;
}

export async function readOldImage(src: ByteSource, hasher: HasherFactory, report: Report): Promise<IndexedOldImage> {
  const archive = await openImageArchive(src, { hasher });
  const blobs: OldBlob[] = [];
  const blobIndex = new Map<string, number>();
  const sources: ByteSource[] = [];
  const indexes: Array<{ diffId: string; index: LayerIndex }> = [];
  const total = archive.layers.reduce((n, l) => n + l.storedSize, 0);
  let done = 0;
  for (let i = 0; i < archive.layers.length; i++) {
    const layer = archive.layers[i];
    report('index', done, total, `old layer ${i + 1}/${archive.layers.length}`);
    const source = await layerSource(src, archive, i, hasher);
    const index = await indexLayerSource(source);
    indexes.push({ diffId: layer.diffId, index });
    if (!blobIndex.has(layer.diffId)) {
      blobIndex.set(layer.diffId, blobs.length);
      blobs.push({ diffId: layer.diffId, size: source.size, whole: false, ranges: [] });
      sources.push(source);
    }
    done += layer.storedSize;
  }
  return { archive, blobs, blobIndex, sources, fileMap: new ImageFileMap(indexes) };
}

/** Sort and merge overlapping or touching [offset, length] ranges. */
export function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [offset, length] of sorted) {
    const last = out.at(-1);
    if (last && offset <= last[0] + last[1]) last[1] = Math.max(last[1], offset + length - last[0]);
    else out.push([offset, length]);
  }
  return out;
}

