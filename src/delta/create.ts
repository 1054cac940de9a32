/**
 * createPatch: old image archive + new image archive -> patch stream.
 *
 * 1. Open both archives; index every old layer (old-index.ts).
 * 2. For each new layer: the old image has it -> REUSE; otherwise index it,
 *    plan its windows against the old files (plan.ts).
 *    A changed gzip file with a gzip twin, both re-encoding exactly from
 *    their decoded form, is diffed decoded (a GZIP frame, diff-job.ts).
 *    A changed gzip layer blob that Go's compress/gzip model (the core's
 *    goGzipParams) rebuilds byte for byte, its tar at most
 *    MAX_GO_GZIP_TEXT, is planned as its tar; the record keeps the level
 *    and member header (goGzip). Any other compressed layer is carried as
 *    stored (a LITERAL entry).
 * 3. Write the header (what apply will need of the old image), then one
 *    record per outer entry of the new archive, in its order; changed
 *    layers' windows are diffed on worker threads, written in order.
 *
 * Create trusts the old archive's layers (it never hashes them): apply
 * checks every old layer it reads against its diff_id, and the CLI applies
 * each new patch to the old image before writing it. A reused layer is
 * never read at all.
 *
 * Memory: the indexes and plans (a few hundred bytes per file), plus per
 * window in flight its reference and new bytes, plus each core diffing
 * windows (diff-budget.ts: about 7x reference + 4x window, and a worker
 * thread's own ~12 MiB). As many windows run at once as
 * CreateOptions.diffMemory holds (default 64 MiB): on the nginx pair one at
 * a time, ~114 MB in all for the CLI (most of it Node itself).
 */
import { ErrorCode, PatcherError, naming } from '../errors.js';
import { openImageArchive, storedCompressionName, type ImageArchive } from '../image/archive.js';
import { hashBytes, hashStream, type HasherFactory } from '../image/hash.js';
import type { ByteSource } from '../image/source.js';
import { FORMAT_VERSION, FrameType, encodeFrame, encodeMagic } from '../format/image/frames.js';
import { EntryCodec, LayoutDigest, LiteralCodec, encodeHeader, encodeJson, pack, toHex, type EndRecord, type EntryRecord, type ImageIdentity, type PatchHeader } from '../format/image/container.js';
import type { Piece } from '../format/image/window.js';
import { MAX_GO_GZIP_TEXT, goGzipName, type GoGzipRecord } from '../format/image/records.js';
import { memorySource } from '../image/source.js';
import { loadCore, type DiffCore, type ExactBudget } from '../core/index.js';
import { gzipEntryLimits } from '../format/image/gzip-entry.js';
import { createRunner } from './runner.node.js';
import { DEFAULT_DIFF_MEMORY, diffCores } from './diff-budget.js';
import type { DiffRunner } from './diff-job.js';
import { gather, layerSource } from '../image/layer-source.js';
import { indexChecked, mergeRanges, readOldImage, storedTwin, type IndexedOldImage } from './old-index.js';
import { paddingSize } from '../image/tar-header.js';
import { planLayer, type PlannedWindow } from './plan.js';
import { progressReporter, type Report } from './progress.js';
import type { ByteSink, CreateOptions, EntrySummary, GzipSummary, PatchSummary } from './types.js';

import { DEFAULT_WINDOW_SIZE, MAX_LITERAL_CHUNK, MAX_WINDOW_SIZE, MIN_WINDOW_SIZE } from '../format/image/limits.js';
export { DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE, MIN_WINDOW_SIZE };

type LayerPlan =
  | { kind: 'reuse'; blob: number; diffId: string; sha256: string; size: number }
  | { kind: 'delta'; diffId: string; size: number; source: ByteSource; windows: PlannedWindow[]; goGzip?: { record: GoGzipRecord; sha256: string } };

/**
 * A changed gzip layer blob that Go's compress/gzip model rebuilds byte for
 * byte: the tar inside (which the windows rebuild) and the parameters. Null
 * when the model does not reproduce it or it is over the limits (it is then
 * carried as stored).
 */
async function goGzipLayer(src: ByteSource, archive: ImageArchive, i: number, core: DiffCore, hasher: HasherFactory): Promise<{ text: Uint8Array; record: GoGzipRecord; sha256: string } | null> {
  const layer = archive.layers[i];
  if (layer.compression !== 'gzip' || layer.storedSize > MAX_GO_GZIP_TEXT) return null;
  const stored = await src.read(layer.entry.dataOffset, layer.storedSize);
  const budget = { maxOutput: MAX_GO_GZIP_TEXT, maxStructure: Math.min(0x7fffffff, 8 * stored.length + 65536) };
  const match = core.goGzipParams(stored, budget);
  if (!match) return null;
  const record = { level: match.params.level, header: toHex(match.params.header), textSize: match.text.length };
  return { text: match.text, record, sha256: hashBytes(hasher, stored) };
}

export function checkWindowSize(size: number): number {
  if (!Number.isSafeInteger(size) || size < MIN_WINDOW_SIZE || size > MAX_WINDOW_SIZE) {
    throw new PatcherError(ErrorCode.Usage, `window size must be between ${MIN_WINDOW_SIZE} and ${MAX_WINDOW_SIZE} bytes, got ${size}`);
  }
  return size;
}

export function checkDiffMemory(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new PatcherError(ErrorCode.Usage, `diff memory must be a whole number of bytes, got ${bytes}`);
  return bytes;
}

/** Decode budget for a gzip file of `size` bytes: inside what apply accepts (gzipEntryLimits). */
export function gzipBudget(windowSize: number, size: number): ExactBudget {
  const limits = gzipEntryLimits(windowSize);
  return { maxOutput: limits.maxText, maxStructure: Math.min(limits.maxStructure, 2 * size + 4096) };
}

/** plan.ts's exactGzip: both streams decode within the budget and re-encode to their own bytes. */
function exactGzipCheck(core: DiffCore, windowSize: number): (oldData: Uint8Array, newData: Uint8Array) => boolean {
  const exact = (b: Uint8Array) => core.exactForm(b, 'gzip', gzipBudget(windowSize, b.length)) !== null;
  return (oldData, newData) => exact(newData) && exact(oldData);
}

async function planNewLayers(oldSrc: ByteSource, src: ByteSource, archive: ImageArchive, old: IndexedOldImage, windowSize: number, hasher: HasherFactory, report: Report): Promise<Map<number, LayerPlan>> {
  const plans = new Map<number, LayerPlan>();
  let exactGzip: ((oldData: Uint8Array, newData: Uint8Array) => boolean) | undefined;
  for (let i = 0; i < archive.layers.length; i++) {
    const layer = archive.layers[i];
    const blob = layer.compression === 'none' ? old.blobIndex.get(layer.diffId) : await storedTwin(oldSrc, old, src, archive, i, hasher);
    if (blob !== undefined) {
      old.blobs[blob].whole = true;
      plans.set(layer.entry.headerOffset, { kind: 'reuse', blob, diffId: layer.diffId, sha256: old.blobs[blob].stored ?? layer.diffId, size: old.blobs[blob].size });
      continue;
    }
    // A changed compressed layer is carried as it is stored (a LITERAL
    // entry) unless Go's gzip model rebuilds it exactly from the tar inside.
    const detail = `new layer ${i + 1}/${archive.layers.length}`;
    report('plan', 0, layer.storedSize, detail);
    const core = await loadCore();
    const go = layer.compression === 'none' ? null : await goGzipLayer(src, archive, i, core, hasher);
    if (layer.compression !== 'none' && !go) continue;
    exactGzip ??= exactGzipCheck(core, windowSize);
    const source = go ? memorySource(go.text) : await layerSource(src, archive, i, hasher);
    const index = await indexChecked(source, layer.diffId, `new image layer ${i + 1}`, hasher);
    const windows = await planLayer(index, source, {
      fileMap: old.fileMap,
      blobOf: (diffId) => old.blobIndex.get(diffId)!,
      oldLayer: (diffId) => old.sources[old.blobIndex.get(diffId)!],
      windowSize,
      exactGzip,
      onProgress: (done) => report('plan', done, source.size, detail),
    });
    for (const w of windows) {
      for (const r of w.refs) old.blobs[r.blob].ranges.push([r.offset, r.length]);
      for (const p of w.pieces) if (p.copy) old.blobs[p.blob].ranges.push([p.offset, p.length]);
    }
    const goGzip = go ? { record: go.record, sha256: go.sha256 } : undefined;
    plans.set(layer.entry.headerOffset, { kind: 'delta', diffId: layer.diffId, size: source.size, source, windows, ...(goGzip ? { goGzip } : {}) });
  }
  // Whole blobs keep their window ranges too: apply with omitReused skips reading a whole blob by itself.
  for (const b of old.blobs) b.ranges = mergeRanges(b.ranges);
  return plans;
}

/**
 * Outer entries of the layers the new image shares with the old one at the
 * same stack positions, as the same blobs (a daemon holding the old image
 * has exactly those; a containerd store by the same digests):
 * in the legacy layout the layer's whole directory, else the blob itself.
 */
function sharedPrefixEntries(old: ImageArchive, neu: ImageArchive): (name: string) => boolean {
  const names = new Set<string>();
  const dirs: string[] = [];
  for (let i = 0; i < neu.layers.length && i < old.layers.length; i++) {
    const layer = neu.layers[i];
    // A compressed layer is the same blob only under the same stored digest (the name a containerd store holds it by).
    const sameBlob = layer.compression === 'none' || (layer.storedDigest !== undefined && layer.storedDigest === old.layers[i].storedDigest);
    if (layer.diffId !== old.layers[i].diffId || !sameBlob) break;
    names.add(layer.entry.name);
    if (neu.kind === 'docker-legacy' && layer.entry.name.endsWith('/layer.tar')) dirs.push(layer.entry.name.slice(0, -'layer.tar'.length));
  }
  return (name) => names.has(name) || dirs.some((d) => name === d || name.startsWith(d));
}

/** Both identities of an archive's image, as the header records them (no manifest digest for a legacy archive). */
function identity(archive: ImageArchive): ImageIdentity {
  return archive.manifestDigest ? { imageId: archive.imageId, manifestDigest: archive.manifestDigest } : { imageId: archive.imageId };
}

/** Create a patch that turns the old image into the new one; bytes go to `sink` in order. */
export async function createPatch(oldSrc: ByteSource, newSrc: ByteSource, sink: ByteSink, options: CreateOptions): Promise<PatchSummary> {
  const windowSize = checkWindowSize(options.windowSize ?? DEFAULT_WINDOW_SIZE);
  const { hasher } = options;
  const report = progressReporter(options.onProgress);
  const old = await naming('old image', () => readOldImage(oldSrc, hasher, report));
  const neu = await naming('new image', () => openImageArchive(newSrc, { hasher }));
  const plans = await planNewLayers(oldSrc, newSrc, neu, old, windowSize, hasher, report);
  const header: PatchHeader = {
    tool: 'docker-patcher',
    formatVersion: FORMAT_VERSION,
    old: { ...identity(old.archive), blobs: old.blobs },
    new: {
      ...identity(neu),
      tags: neu.tags,
      kind: neu.kind,
      archiveSize: newSrc.size,
      entries: neu.entries.length,
      layers: neu.layers.map((l) => ({ diffId: l.diffId, size: l.storedSize })),
    },
    windowSize,
  };
  const skippable = sharedPrefixEntries(old.archive, neu);
  const layerIds = new Map(neu.layers.map((l) => [l.entry.headerOffset, l.diffId]));
  // A layer reused outside the shared prefix is written even by apply with
  // omitReused: list it as a range so that apply still reads it.
  for (const layer of neu.layers) {
    const plan = plans.get(layer.entry.headerOffset);
    if (plan?.kind === 'reuse' && !skippable(layer.entry.name)) old.blobs[plan.blob].ranges = [[0, plan.size]];
  }
  let written = 0;
  const emit = async (bytes: Uint8Array) => {
    written += bytes.length;
    await sink(bytes);
  };
  await emit(encodeMagic());
  await emit(encodeFrame(FrameType.Header, encodeHeader(header)));

  const windows = [...plans.values()].flatMap((p) => (p.kind === 'delta' ? p.windows : []));
  const workers = diffCores(windows, Math.max(1, options.workers ?? 2), checkDiffMemory(options.diffMemory ?? DEFAULT_DIFF_MEMORY));
  const runner = await createRunner(workers);
  const layout = new LayoutDigest(hasher);
  const entries: EntrySummary[] = [];
  const codec = new EntryCodec();
  const literals = new LiteralCodec();
  const totalDiff = [...plans.values()].reduce((n, p) => n + (p.kind === 'delta' ? p.size : 0), 0);
  const diffProgress = { done: 0, total: totalDiff };
  const summaryGzip = new Map<number, GzipSummary[]>();
  try {
    for (const entry of neu.entries) {
      const before = written;
      let carried: string | undefined;
      const plan = plans.get(entry.headerOffset);
      const record: EntryRecord = { name: entry.name, kind: 'none', size: entry.size, sha256: '' };
      if (entry.padding) record.padding = toHex(entry.padding);
      if (skippable(entry.name)) record.partialSkip = true;
      if (plan?.kind === 'reuse') {
        Object.assign(record, { kind: 'reuse', sha256: plan.sha256, blob: plan.blob, diffId: plan.diffId });
        await emit(encodeFrame(FrameType.Entry, codec.encode(record, entry.header)));
      } else if (plan?.kind === 'delta') {
        Object.assign(record, { kind: 'delta', sha256: plan.goGzip?.sha256 ?? plan.diffId, diffId: plan.diffId }, plan.goGzip ? { goGzip: plan.goGzip.record } : {});
        await emit(encodeFrame(FrameType.Entry, codec.encode(record, entry.header)));
        const gzip: GzipSummary[] = [];
        await writeWindows({ plan, old, runner, workers, hasher, windowSize, emit }, (n) => {
          diffProgress.done += n;
          report('diff', diffProgress.done, diffProgress.total, entry.name);
        }, gzip);
        if (gzip.length) summaryGzip.set(entry.headerOffset, gzip);
      } else if (entry.size > 0) {
        record.kind = 'literal';
        record.diffId = layerIds.get(entry.headerOffset); // a compressed layer carried as stored
        record.sha256 = await hashStream(hasher, newSrc.stream(entry.dataOffset, entry.size));
        await emit(encodeFrame(FrameType.Entry, codec.encode(record, entry.header)));
        for (let at = 0; at < entry.size; at += MAX_LITERAL_CHUNK) {
          const n = Math.min(MAX_LITERAL_CHUNK, entry.size - at);
          const data = await newSrc.read(entry.dataOffset + at, n);
          if (at === 0 && record.diffId) carried = storedCompressionName(data);
          await emit(encodeFrame(FrameType.Literal, literals.encode(data)));
        }
      } else {
        record.sha256 = hashBytes(hasher, new Uint8Array(0));
        await emit(encodeFrame(FrameType.Entry, codec.encode(record, entry.header)));
      }
      layout.entry(entry.header, record.sha256, entry.padding ?? new Uint8Array(paddingSize(entry.size)));
      const gzipFiles = summaryGzip.get(entry.headerOffset);
      entries.push({ name: entry.name, kind: record.kind, size: entry.size, patchBytes: written - before, diffId: record.diffId, ...(gzipFiles ? { gzip: gzipFiles } : {}), ...(record.goGzip ? { compressed: goGzipName(record.goGzip) } : carried ? { compressed: carried } : {}) });
    }
    const end: EndRecord = { trailer: toHex(pack(neu.end.trailer)), trailerSize: neu.end.trailer.length, layoutSha256: layout.end(neu.end.trailer) };
    await emit(encodeFrame(FrameType.End, encodeJson(end)));
  } finally {
    await runner.close();
  }
  return {
    formatVersion: FORMAT_VERSION,
    oldImageId: old.archive.imageId,
    newImageId: neu.imageId,
    ...(old.archive.manifestDigest ? { oldManifestDigest: old.archive.manifestDigest } : {}),
    ...(neu.manifestDigest ? { newManifestDigest: neu.manifestDigest } : {}),
    newTags: neu.tags,
    newArchiveSize: newSrc.size,
    patchSize: written,
    windowSize,
    entries,
  };
}

/** What writing a changed layer's windows needs. */
interface WindowWriting {
  plan: Extract<LayerPlan, { kind: 'delta' }>;
  old: IndexedOldImage;
  runner: DiffRunner;
  workers: number;
  hasher: HasherFactory;
  windowSize: number;
  emit: (b: Uint8Array) => Promise<void>;
}

/** Diff a layer's windows, `workers` at a time (one more queued), and write them in order; gzip files are listed in `gzip`. */
async function writeWindows(ww: WindowWriting, advanced: (bytes: number) => void, gzip: GzipSummary[]): Promise<void> {
  const queue: Array<{ job: Promise<Uint8Array>; bytes: number; window: PlannedWindow }> = [];
  const flush = async () => {
    const head = queue.shift()!;
    const frame = encodeFrame(head.window.gzip ? FrameType.Gzip : FrameType.Window, await head.job);
    if (head.window.gzip) gzip.push({ name: head.window.gzip.name, size: head.bytes, patchBytes: frame.length });
    await ww.emit(frame);
    advanced(head.bytes);
  };
  for (const w of ww.plan.windows) {
    const job = submitWindow(w, ww);
    job.catch(() => {}); // awaited in order by flush; avoid an unhandled rejection meanwhile
    queue.push({ job, bytes: w.pieces.reduce((n, p) => n + p.length, 0), window: w });
    if (queue.length > ww.workers) await flush();
  }
  while (queue.length) await flush();
}

async function submitWindow(w: PlannedWindow, ww: WindowWriting): Promise<Uint8Array> {
  const { old, plan, runner } = ww;
  const source = plan.source;
  const reference = await gather(w.refs.map((r) => ({ source: old.sources[r.blob], offset: r.offset, length: r.length })));
  const target = await gather(w.pieces.flatMap((p) => (p.copy ? [] : [{ source, offset: p.newOffset, length: p.length }])));
  const pieces: Piece[] = w.pieces.map((p) => (p.copy ? { copy: true, blob: p.blob, offset: p.offset, length: p.length } : { copy: false, length: p.length }));
  const gzip = w.gzip && { name: w.gzip.name, sha256: digestBytes(hashBytes(ww.hasher, target)), budget: gzipBudget(ww.windowSize, Math.max(reference.length, target.length)), predictionCap: gzipEntryLimits(ww.windowSize).maxStructure };
  return runner.run({ refs: w.refs, pieces, reference, target, level: 9, ...(gzip ? { gzip } : {}), ...(w.code ? { code: w.code } : {}) });
}

/** 'sha256:<hex>' as 32 bytes. */
function digestBytes(digest: string): Uint8Array {
  const hex = digest.slice('sha256:'.length);
  return Uint8Array.from({ length: 32 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}
