/**
 * Planning one changed layer: which bytes of the new layer tar are copied
 * from the old image unchanged, which are rebuilt by bsdiff, and from which
 * old bytes (the reference) each diff window starts.
 *
 * The new layer is walked entry by entry (header + data + padding):
 *  - a file whose data equals its old twin's becomes a COPY of the old data
 *    (and its header too when that is unchanged: runs of unchanged files
 *    merge into one COPY);
 *  - anything else becomes DIFF bytes, and the twin's old header + data join
 *    the window's reference, so every suffix sort stays the size of what
 *    changed, not of the image.
 * The twin of a path is its current version in the old image (whatever
 * layer holds it), else a file of the same basename or stem with a similar
 * size (renamed or versioned paths). Files larger than a window are cut into
 * window-sized chunks, each referencing the matching stretch of the twin.
 *
 * A changed x86-64 or AArch64 ELF file with an ELF twin of the same
 * machine has its executable sections marked as code ranges of the windows
 * it lands in (core/code-filter.ts): the diff then sees absolute branch
 * targets on both sides (nginx pair's changed ELF files: -6.9% patch bytes).
 *
 * Memory: the plan (a few numbers per entry); comparing data reads 1 MiB of
 * each side at a time; an ELF file's section headers are read whole (at
 * most 4 MiB, typically a few KiB).
 */
import type { FileLocation, ImageFileMap, LayerEntry, LayerIndex } from '../image/layer-index.js';
import { paddingSize } from '../image/tar-header.js';
import type { ByteSource } from '../image/source.js';
import type { OldRange } from '../format/image/window.js';
import { ELF_HEAD_BYTES, elfCodeRanges, elfHead, type CodeFilters, type CodeRange } from '../core/index.js';

/** A piece of a planned window: DIFF bytes at newOffset of the new layer, or a COPY of old bytes. */
export type PlannedPiece = { copy: false; newOffset: number; length: number } | ({ copy: true } & OldRange);

export interface PlannedWindow {
  refs: OldRange[];
  pieces: PlannedPiece[];
  /** Bytes made by DIFF pieces. */
  diffBytes: number;
  refBytes: number;
  /** Machine code in the reference and the DIFF bytes, in window coordinates; absent when none. */
  code?: CodeFilters;
  /**
   * Set for a gzip file diffed through its exact form: then `refs` is the
   * old twin's data and `pieces` the new file's data, one each.
   */
  gzip?: { name: string };
}

export interface PlanContext {
  fileMap: ImageFileMap;
  /** Blob index (in the patch header) of an old layer, by diff_id. */
  blobOf(diffId: string): number;
  /** The uncompressed bytes of an old layer, by diff_id. */
  oldLayer(diffId: string): ByteSource;
  windowSize: number;
  /**
   * Whether a changed file may go through the gzip path: both sides' data
   * (gzip streams, within MIN_GZIP..windowSize bytes) decode and re-encode
   * exactly. Absent: never.
   */
  exactGzip?: (oldData: Uint8Array, newData: Uint8Array) => boolean;
  /** Called after each entry with the bytes of the new layer planned so far. */
  onProgress?: (done: number) => void;
}

const COMPARE_CHUNK = 1 << 20;
/** Smaller gzip files are diffed as bytes: a GZIP frame's fixed cost (~60 B) would eat the gain. */
export const MIN_GZIP = 1024;
const GZIP_MAGIC = [0x1f, 0x8b, 0x08];

/** End of an entry's data padding: where the next entry's header starts. */
const entryEnd = (e: LayerEntry): number => e.dataOffset + e.size + paddingSize(e.size);

class WindowBuilder {
  windows: PlannedWindow[] = [];
  #w: PlannedWindow = WindowBuilder.#empty();
  #refKeys = new Set<string>();

  constructor(readonly windowSize: number) {}

  static #empty(): PlannedWindow {
    return { refs: [], pieces: [], diffBytes: 0, refBytes: 0 };
  }

  get full(): boolean {
    return this.#w.diffBytes >= this.windowSize || this.#w.refBytes >= this.windowSize * 1.5;
  }

  diff(newOffset: number, length: number, code?: readonly CodeRange[]): void {
    if (length <= 0) return;
    if (code) this.#code('target', this.#w.diffBytes, newOffset, length, code);
    const last = this.#w.pieces.at(-1);
    if (last && !last.copy && last.newOffset + last.length === newOffset) last.length += length;
    else this.#w.pieces.push({ copy: false, newOffset, length });
    this.#w.diffBytes += length;
  }

  copy(blob: number, offset: number, length: number): void {
    if (length <= 0) return;
    const last = this.#w.pieces.at(-1);
    if (last?.copy && last.blob === blob && last.offset + last.length === offset) last.length += length;
    else this.#w.pieces.push({ copy: true, blob, offset, length });
  }

  ref(blob: number, offset: number, length: number, code?: readonly CodeRange[]): void {
    const key = `${blob}:${offset}:${length}`;
    if (length <= 0 || this.#refKeys.has(key)) return;
    this.#refKeys.add(key);
    if (code) this.#code('reference', this.#w.refBytes, offset, length, code);
    const last = this.#w.refs.at(-1);
    if (last && last.blob === blob && last.offset + last.length === offset) last.length += length;
    else this.#w.refs.push({ blob, offset, length });
    this.#w.refBytes += length;
  }

  /**
   * Add the parts of `code` (ranges at layer offsets) inside [offset, offset
   * + length) to the window's `side`, which is `at` bytes long so far.
   */
  #code(side: keyof CodeFilters, at: number, offset: number, length: number, code: readonly CodeRange[]): void {
    for (const r of code) {
      const from = Math.max(r.start, offset);
      const to = Math.min(r.start + r.length, offset + length);
      if (to <= from) continue;
      this.#w.code ??= { reference: [], target: [] };
      this.#w.code[side].push({ start: at + from - offset, length: to - from, kind: r.kind, fileOffset: r.fileOffset + from - r.start });
    }
  }

  /** A gzip file diffed decoded: a window of its own. */
  gzip(name: string, old: OldRange, newOffset: number, length: number): void {
    this.close();
    this.windows.push({ refs: [old], pieces: [{ copy: false, newOffset, length }], diffBytes: length, refBytes: old.length, gzip: { name } });
  }

  close(): void {
    if (this.#w.pieces.length) this.windows.push(this.#w);
    this.#w = WindowBuilder.#empty();
    this.#refKeys.clear();
  }
}

/** The old entry to diff a new entry against, if any. */
export function twinOf(entry: LayerEntry, map: ImageFileMap): FileLocation | undefined {
  const same = entry.type === 'file' ? (map.resolve(entry.path) ?? map.get(entry.path)) : map.get(entry.path);
  if (same) return same;
  if (entry.type !== 'file' || entry.size < 64) return undefined;
  let best: FileLocation | undefined;
  for (const c of map.candidates(entry.path)) {
    const ratio = c.size / entry.size;
    if (ratio < 0.25 || ratio > 4) continue;
    if (!best || Math.abs(c.size - entry.size) < Math.abs(best.size - entry.size)) best = c;
  }
  return best;
}

async function sameBytes(a: ByteSource, aOffset: number, b: ByteSource, bOffset: number, length: number): Promise<boolean> {
  for (let at = 0; at < length; at += COMPARE_CHUNK) {
    const n = Math.min(COMPARE_CHUNK, length - at);
    const [x, y] = await Promise.all([a.read(aOffset + at, n), b.read(bOffset + at, n)]);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}

/** Smaller ELF files are diffed as plain bytes (a few calls, not worth the ranges). */
export const MIN_ELF = 4096;

/** Code ranges of the ELF file whose data is at `offset` in `source`, at layer offsets; null when not x86-64/AArch64 ELF64. */
async function elfCode(source: ByteSource, offset: number, size: number): Promise<CodeRange[] | null> {
  if (size < MIN_ELF) return null;
  const head = elfHead(await source.read(offset, ELF_HEAD_BYTES), size);
  if (!head) return null;
  const ranges = elfCodeRanges(head, await source.read(offset + head.tableOffset, head.tableLength), size);
  return ranges.length ? ranges.map((r) => ({ ...r, start: offset + r.start })) : null;
}

/** Code ranges of a changed file and its twin when both are ELF files of one machine. */
async function codePair(e: LayerEntry, newLayer: ByteSource, twin: FileLocation, old: ByteSource): Promise<{ old: CodeRange[]; neu: CodeRange[] } | undefined> {
  if (e.type !== 'file' || twin.type !== 'file') return undefined;
  const neu = await elfCode(newLayer, e.dataOffset, e.size);
  const oldCode = neu && (await elfCode(old, twin.dataOffset, twin.size));
  if (!neu || !oldCode || neu[0].kind !== oldCode[0].kind) return undefined;
  return { old: oldCode, neu };
}

/** Does a changed file and its twin go the gzip path? Both gzip by content, sized for a window, exact. */
async function gzipPair(e: LayerEntry, newLayer: ByteSource, twin: FileLocation, old: ByteSource, ctx: PlanContext): Promise<boolean> {
  if (!ctx.exactGzip || e.type !== 'file' || twin.type !== 'file') return false;
  const fits = (n: number) => n >= MIN_GZIP && n <= ctx.windowSize;
  if (!fits(e.size) || !fits(twin.size)) return false;
  const [a, b] = await Promise.all([newLayer.read(e.dataOffset, 3), old.read(twin.dataOffset, 3)]);
  if (!GZIP_MAGIC.every((m, i) => a[i] === m && b[i] === m)) return false;
  const [newData, oldData] = await Promise.all([newLayer.read(e.dataOffset, e.size), old.read(twin.dataOffset, twin.size)]);
  return ctx.exactGzip(oldData, newData);
}

/** Plan the windows that rebuild a changed layer. */
export async function planLayer(newIndex: LayerIndex, newLayer: ByteSource, ctx: PlanContext): Promise<PlannedWindow[]> {
  const out = new WindowBuilder(ctx.windowSize);
  let pos = 0;
  for (const e of newIndex.entries) {
    const end = entryEnd(e);
    const twin = twinOf(e, ctx.fileMap);
    if (twin) {
      const blob = ctx.blobOf(twin.diffId);
      const old = ctx.oldLayer(twin.diffId);
      const twinEnd = entryEnd(twin);
      const sameData = e.type === 'file' && twin.type === 'file' && twin.size === e.size && e.size > 0 &&
        (await sameBytes(newLayer, e.dataOffset, old, twin.dataOffset, e.size));
      if (sameData) {
        const headerLength = e.dataOffset - e.headerOffset;
        const sameHeader = twin.dataOffset - twin.headerOffset === headerLength &&
          (await sameBytes(newLayer, e.headerOffset, old, twin.headerOffset, headerLength));
        if (sameHeader) {
          out.copy(blob, twin.headerOffset, end - e.headerOffset);
        } else {
          out.ref(blob, twin.headerOffset, twin.dataOffset - twin.headerOffset);
          out.diff(e.headerOffset, headerLength);
          out.copy(blob, twin.dataOffset, e.size);
          out.diff(e.dataOffset + e.size, end - e.dataOffset - e.size);
        }
      } else if (await gzipPair(e, newLayer, twin, old, ctx)) {
        out.ref(blob, twin.headerOffset, twin.dataOffset - twin.headerOffset);
        out.diff(e.headerOffset, e.dataOffset - e.headerOffset);
        out.gzip(e.path, { blob, offset: twin.dataOffset, length: twin.size }, e.dataOffset, e.size);
        out.diff(e.dataOffset + e.size, end - e.dataOffset - e.size);
      } else {
        const code = await codePair(e, newLayer, twin, old);
        addChanged(out, e.headerOffset, end, { blob, offset: twin.headerOffset, length: twinEnd - twin.headerOffset }, code);
      }
    } else {
      addChanged(out, e.headerOffset, end, undefined);
    }
    pos = end;
    ctx.onProgress?.(pos);
    if (out.full) out.close();
  }
  out.diff(pos, newIndex.size - pos); // end-of-archive blocks
  out.close();
  return out.windows;
}

/** New bytes [start, end) rebuilt by diff against `ref`, cut into window-sized chunks. */
function addChanged(out: WindowBuilder, start: number, end: number, ref: OldRange | undefined, code?: { old: CodeRange[]; neu: CodeRange[] }): void {
  const length = end - start;
  if (length <= out.windowSize) {
    if (ref) out.ref(ref.blob, ref.offset, ref.length, code?.old);
    out.diff(start, length, code?.neu);
    return;
  }
  // A big file: each chunk references the same relative stretch of the twin,
  // with a margin on both sides for content that moved.
  out.close();
  const chunk = out.windowSize;
  const margin = Math.max(chunk >> 2, 1 << 20);
  for (let at = 0; at < length; at += chunk) {
    const n = Math.min(chunk, length - at);
    if (ref) {
      const center = Math.floor((at * ref.length) / length);
      const from = Math.max(0, center - margin);
      const to = Math.min(ref.length, center + n + margin);
      out.ref(ref.blob, ref.offset + from, to - from, code?.old);
    }
    out.diff(start + at, n, code?.neu);
    out.close();
  }
}
