/**
 * Where each file of an image lives. indexLayer streams one uncompressed
 * layer tar once and records each entry's path and offsets (the layer itself
 * is never held). ImageFileMap stacks layer indexes the way Docker applies
 * layers (later layers win; `.wh.NAME` deletes NAME, `.wh..wh..opq` empties
 * a directory; an entry that is not a directory replaces a lower subtree) to
 * answer "which layer holds the current version of this path, and where".
 *
 * Memory: per layer entry one small record (path + numbers, ~150 bytes);
 * ImageFileMap adds one map slot per visible path. Nginx-sized images
 * (~10k files) take a few MB.
 */

import { hashThrough, type HasherFactory } from './hash.js';
import { indexTar, readTar, type TarEntryInfo, type TarEntryType } from './tar.js';
import type { ByteSource } from './source.js';

export interface LayerEntry {
  /** Normalized: no leading './' or '/', no trailing '/'. */
  path: string;
  type: TarEntryType;
  /** Symlink target as stored; for hard links, the normalized target path. */
  linkname: string;
  headerOffset: number;
  headerSize: number;
  dataOffset: number;
  size: number;
}

export interface LayerIndex {
  entries: LayerEntry[];
  /** Total bytes of the layer tar. */
  size: number;
  /** 'sha256:<hex>' of the layer tar, when indexLayer was given a hasher. */
  diffId?: string;
}

/** Strip './' and '/' from the front and '/' from the end. */
export function normalizePath(path: string): string {
  let p = path;
  for (;;) {
    if (p.startsWith('./')) p = p.slice(2);
    else if (p.startsWith('/')) p = p.slice(1);
    else break;
  }
  while (p.endsWith('/')) p = p.slice(0, -1);
  return p === '.' ? '' : p;
}

function toLayerEntry(e: TarEntryInfo): LayerEntry {
  return {
    path: normalizePath(e.name),
    type: e.type,
    linkname: e.type === 'link' ? normalizePath(e.linkname) : e.linkname,
    headerOffset: e.headerOffset,
    headerSize: e.header.length,
    dataOffset: e.dataOffset,
    size: e.size,
  };
}

/** Index an uncompressed layer tar in one streaming pass. */
export async function indexLayer(tar: AsyncIterable<Uint8Array>, opts: { hasher?: HasherFactory } = {}): Promise<LayerIndex> {
  const hasher = opts.hasher?.();
  const reader = readTar(hasher ? hashThrough(hasher, tar) : tar);
  const entries: LayerEntry[] = [];
  for await (const e of reader) entries.push(toLayerEntry(e));
  const end = reader.end!;
  return { entries, size: end.offset + end.trailer.length, diffId: hasher?.digest() };
}

/**
 * Index an uncompressed layer held in a ByteSource, reading its headers and
 * seeking past the data: a 128 MB base layer costs a few thousand small
 * reads instead of a full pass. No diff_id (nothing is hashed).
 */
export async function indexLayerSource(source: ByteSource): Promise<LayerIndex> {
  const { entries, end } = await indexTar(source);
  return { entries: entries.map(toLayerEntry), size: end.offset + end.trailer.length };
}

/** One visible path of an image: the layer and the entry that provide it. */
export interface FileLocation extends LayerEntry {
  /** Position of the layer in the image (0 = bottom). */
  layer: number;
  diffId: string;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

const parentOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const baseOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);
/** A basename with its digit runs blanked, so 'libssl.so.3.0.17' and 'libssl.so.3.0.22' meet. */
const stemOf = (name: string) => name.replace(/[0-9]+/g, '#');

/** The union view of an image's layers. */
export class ImageFileMap {
  readonly #files = new Map<string, FileLocation>();
  #byBase?: Map<string, FileLocation[]>;
  #byStem?: Map<string, FileLocation[]>;

  /** `layers` bottom to top, each with its diff_id. */
  constructor(layers: Array<{ diffId: string; index: LayerIndex }>) {
    layers.forEach(({ diffId, index }, layer) => this.#apply(index, layer, diffId));
  }

  /** Apply one layer: delete what its whiteouts and replacements hide, then add its entries. */
  #apply(index: LayerIndex, layer: number, diffId: string): void {
    const removed = new Set<string>(); // paths whose lower subtree goes away
    const emptied = new Set<string>(); // directories whose lower children go away
    for (const e of index.entries) {
      const base = baseOf(e.path);
      if (base === OPAQUE) emptied.add(parentOf(e.path));
      else if (base.startsWith(WHITEOUT)) removed.add(joinPath(parentOf(e.path), base.slice(WHITEOUT.length)));
      else if (e.type !== 'directory') removed.add(e.path);
    }
    if (removed.size || emptied.size) {
      for (const path of [...this.#files.keys()]) if (hidden(path, removed, emptied)) this.#files.delete(path);
    }
    for (const e of index.entries) {
      if (baseOf(e.path).startsWith(WHITEOUT)) continue;
      this.#files.set(e.path, { ...e, layer, diffId });
    }
    this.#byBase = this.#byStem = undefined;
  }

  /** The current version of `path`, or undefined if the image does not have it. */
  get(path: string): FileLocation | undefined {
    return this.#files.get(normalizePath(path));
  }

  /** Like get(), but a hard link resolves to the entry that holds its data. */
  resolve(path: string): FileLocation | undefined {
    let loc = this.get(path);
    for (let hop = 0; loc?.type === 'link' && hop < 8; hop++) loc = this.#files.get(loc.linkname);
    return loc;
  }

  has(path: string): boolean {
    return this.#files.has(normalizePath(path));
  }

  get size(): number {
    return this.#files.size;
  }

  /** Every visible path with its location. */
  entries(): IterableIterator<[string, FileLocation]> {
    return this.#files.entries();
  }

  /** Regular files whose basename equals `name` (for renamed or moved paths). */
  byBasename(name: string): FileLocation[] {
    this.#byBase ??= this.#group(baseOf);
    return this.#byBase.get(baseOf(name)) ?? [];
  }

  /** Regular files whose basename differs from `name` only in its digits ('foo-1.2.so' ~ 'foo-1.3.so'). */
  byStem(name: string): FileLocation[] {
    this.#byStem ??= this.#group((p) => stemOf(baseOf(p)));
    return this.#byStem.get(stemOf(baseOf(name))) ?? [];
  }

  /** Candidates for a path with no twin: same basename first, then same stem. */
  candidates(path: string): FileLocation[] {
    const same = this.byBasename(path);
    return [...same, ...this.byStem(path).filter((c) => !same.includes(c))];
  }

  #group(keyOf: (path: string) => string): Map<string, FileLocation[]> {
    const groups = new Map<string, FileLocation[]>();
    for (const [path, loc] of this.#files) {
      if (loc.type !== 'file') continue;
      const key = keyOf(path);
      const list = groups.get(key);
      if (list) list.push(loc);
      else groups.set(key, [loc]);
    }
    return groups;
  }
}

function joinPath(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

/** True if `path` or an ancestor is in `removed`, or a proper ancestor is in `emptied`. */
function hidden(path: string, removed: Set<string>, emptied: Set<string>): boolean {
  if (removed.has(path)) return true;
  for (let p = path; p !== ''; ) {
    p = parentOf(p);
    if (removed.has(p) && p !== '') return true;
    if (emptied.has(p)) return true;
  }
  return false;
}
