/**
 * applyPatch: old image + patch stream -> the new image archive, streamed
 * to a sink in order.
 *
 * The patch is read strictly front to back, and every record's fields are
 * checked before use (format/image/records.ts). Before any work: the header's new
 * image ID is checked against what the caller expects, and the old image's
 * ID against the one the patch was made from. Every entry's data is
 * sha256-checked as it is rebuilt, and nothing is written past the archive
 * size the header promises. Before the last bytes (the trailer) go out, the
 * rebuilt layout is tied to the new image ID itself (new-image.ts): config
 * digest, every layer's diff_id. The caller (CLI) writes to a temporary name
 * and renames only once this resolves.
 *
 * A GZIP frame rebuilds a gzip file inside a layer: the old twin's bytes
 * are decoded to their exact form, its text and structure patched, and the
 * result re-encoded and checked against the file's own sha256.
 *
 * An entry with a goGzip record is a gzip layer blob: as its windows
 * rebuild the tar, Go's gzip model (a core of its own) compresses it
 * piece by piece and the blob streams out; the tar is checked against the
 * diff_id and the blob against its sha256 before the blob's last bytes go
 * out. Neither is held whole: the model keeps Go's window, hash chains and
 * pending block (about 1.3 MiB). An old layer it reads that is stored gzip
 * is inflated once, to a temp file on Node (ApplyOptions.spool), else into
 * memory.
 *
 * Memory: one window at a time: its reference (the old bytes it names,
 * about the window size), its inflated delta (at most the window size), one
 * 256 KiB output chunk (a window holding machine code: its whole output,
 * at most the window's DIFF bytes), and the WASM core's copy of the
 * reference and delta.
 * A GZIP frame: old and new file (each at most the window size), both
 * texts (at most 4x) and structures (at most 2x), once in JS and once in
 * the core: about 2 x 7 window sizes at the very worst.
 */
import { loadCore, type DiffCore } from '../core/index.js';
import { ErrorCode, PatcherError, badPatch } from '../errors.js';
import type { Hasher } from '../image/hash.js';
import { paddingSize } from '../image/tar-header.js';
import type { ByteSource } from '../image/source.js';
import { FrameReader, FrameType, frameName, type Frame } from '../format/image/frames.js';
import { EntryCodec, LayoutDigest, LiteralCodec, decodeEnd, fromHex, readHeader, describeIdentity, type EntryRecord, type ImageIdentity, type OldBlob, type PatchHeader } from '../format/image/container.js';
import { decodeWindow } from '../format/image/window.js';
import { decodeGzipHead, decodeGzipStructure, decodeGzipText, gzipEntryLimits } from '../format/image/gzip-entry.js';
import { concatBytes } from '../format/bytes.js';
import { VarintReader } from '../format/varint.js';
import { gatherInto, streamReused } from '../image/layer-source.js';
import { MAX_WINDOW_SIZE } from '../format/image/limits.js';
import { NewImageCheck } from './new-image.js';
import { openOldImage, type OldImage, type OldImageInput } from './old-image.js';
import { progressReporter, type Report } from './progress.js';
import type { ApplyOptions, ApplyResult, ByteSink } from './types.js';

/** Output chunk of bspatch: small, since apply's memory budget is tight. */
const OUT_CHUNK = 256 * 1024;

/**
 * Fewest hex digits of an image ID that NEW may give: docker's short IDs.
 * NEW is what the rebuilt config is checked against, so it is a trust
 * anchor: a forger needs a config whose sha256 starts with these digits,
 * 2^48 tries at 12 (2^16 at 4, an instant). Give the full ID for the most.
 */
export const MIN_ID_PREFIX = 12;

const bareId = (id: string): string => id.toLowerCase().replace(/^sha256:/, '');

/** Does `expected` (full ID, bare hex, or a prefix of at least MIN_ID_PREFIX digits) name `imageId`? */
export function sameImageId(expected: string, imageId: string): boolean {
  const want = bareId(expected);
  return want.length >= MIN_ID_PREFIX && /^[0-9a-f]+$/.test(want) && bareId(imageId).startsWith(want);
}

/** Does `expected` name the image by either identity: its config digest or its manifest digest? */
export function namesImage(expected: string, image: ImageIdentity): boolean {
  return sameImageId(expected, image.imageId) || (image.manifestDigest !== undefined && sameImageId(expected, image.manifestDigest));
}

/** Two accounts of an image agree: same config digest, or same manifest digest (which pins the config). */
export function sameIdentity(a: { imageId: string; manifestDigest?: string }, b: ImageIdentity): boolean {
  const known = (d: string | undefined) => d !== undefined && (d === b.imageId || d === b.manifestDigest);
  return known(a.imageId) || known(a.manifestDigest);
}

/** Refuse a NEW that cannot name an image: not hex, or too short to mean anything. */
function checkExpectedId(expected: string): void {
  const want = bareId(expected);
  if (!/^[0-9a-f]{1,64}$/.test(want)) throw new PatcherError(ErrorCode.Usage, `NEW must be an image ID (hex digits, optionally after sha256:), not ${JSON.stringify(expected)}`);
  if (want.length < MIN_ID_PREFIX) {
    throw new PatcherError(ErrorCode.Usage, `NEW ${JSON.stringify(expected)} is too short to name an image: give at least ${MIN_ID_PREFIX} hex digits of its ID (docker's short ID), or all 64`);
  }
}


/** The sink, with each rebuilt entry's data hashed on the way, never past the promised archive size. */
class Output {
  written = 0;
  /** Offset in the new archive (skipped bytes count: they are still part of it). */
  position = 0;
  #entry: Hasher | undefined;
  constructor(readonly sink: ByteSink, readonly options: ApplyOptions, readonly report: Report, readonly total: number, readonly check: NewImageCheck) {}
  /** Hash the next entry's data (not for a reused layer: its old blob was checked when it was read). */
  beginEntry(header: Uint8Array, record: EntryRecord, reused: OldBlob | undefined): void {
    const room = this.total - this.position - header.length - paddingSize(record.size);
    if (record.size > room) throw badPatch(`entry ${record.name} of ${record.size} bytes runs past the ${this.total}-byte archive the header promises`);
    this.check.beginEntry(this.position, header, record, reused);
    this.#entry = reused ? undefined : this.options.hasher();
  }
  endEntry(record: EntryRecord, padding: Uint8Array): void {
    const digest = this.#entry?.digest() ?? record.sha256;
    this.#entry = undefined;
    if (digest !== record.sha256) {
      throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt ${record.name} does not match: ${digest}, patch promised ${record.sha256}`);
    }
    this.check.endEntry(digest, padding);
  }
  /** Data of the current entry (tar headers and padding go through `raw`). */
  async write(bytes: Uint8Array, skip = false): Promise<void> {
    this.#entry?.update(bytes);
    this.check.data(bytes);
    await this.raw(bytes, skip);
  }
  async raw(bytes: Uint8Array, skip = false): Promise<void> {
    if (this.position + bytes.length > this.total) throw badPatch(`writes past the ${this.total}-byte archive the header promises`);
    this.position += bytes.length;
    if (skip) return;
    this.written += bytes.length;
    await this.sink(bytes);
    this.report('rebuild', this.written, this.total);
  }
}

/** Rebuild the new image from `old` and `patch`; the archive goes to `sink`. */
export async function applyPatch(old: OldImageInput, patch: AsyncIterable<Uint8Array>, sink: ByteSink, options: ApplyOptions): Promise<ApplyResult> {
  const frames = new FrameReader(patch);
  if (options.expectNewId !== undefined) checkExpectedId(options.expectNewId);
  const header = await readHeader(frames);
  checkNewId(header, options.expectNewId);
  const omitReused = !!options.omitReused;
  const needed = header.old.blobs.filter((b) => b.ranges.length > 0 || (b.whole && !omitReused));
  const oldImage = await openOldImage(old, needed, options.hasher, header.old, options.spool);
  try {
    checkOldImage(header, oldImage);
    const report = progressReporter(options.onProgress);
    const blobs = await fetchBlobs(header, oldImage, needed, report);
    const check = new NewImageCheck(options.hasher, header.new, options.expectNewId);
    const out = new Output(sink, options, report, header.new.archiveSize, check);
    const core = await loadCore();
    await rebuildEntries({ frames, header, blobs, core, out, literals: new LiteralCodec(), copyBuffer: new Uint8Array(OUT_CHUNK) }, omitReused, new LayoutDigest(options.hasher));
    return { newImageId: header.new.imageId, tags: header.new.tags, bytesWritten: out.written, partial: !!options.omitReused, layersVerified: check.layersVerified };
  } finally {
    await oldImage.close?.();
    await frames.close();
  }
}

/** The header's new image must be the one the caller names, by either identity (NEW given as the patch's OLD: swapped). */
function checkNewId(header: PatchHeader, expected: string | undefined): void {
  if (expected === undefined || namesImage(expected, header.new)) return;
  if (namesImage(expected, header.old)) {
    throw new PatcherError(ErrorCode.WrongImage, `NEW ${expected} is the image this patch starts from, not the one it makes (${describeIdentity(header.new)}): OLD and NEW look swapped`);
  }
  throw new PatcherError(ErrorCode.WrongImage, `this patch makes ${describeIdentity(header.new)}, not ${expected}`);
}

/** The old image given must be the patch's old image, by either identity. */
function checkOldImage(header: PatchHeader, old: OldImage): void {
  const given = { imageId: old.imageId, manifestDigest: old.manifestDigest };
  if (sameIdentity(given, header.old)) return;
  const shown = old.manifestDigest && old.manifestDigest !== old.imageId ? `${old.imageId} (manifest ${old.manifestDigest})` : old.imageId;
  if (sameIdentity(given, header.new)) {
    throw new PatcherError(ErrorCode.WrongImage, `the old image given is ${shown}, the image this patch makes: OLD and NEW look swapped (the patch is for old image ${describeIdentity(header.old)})`);
  }
  throw new PatcherError(ErrorCode.WrongImage, `this patch is for old image ${describeIdentity(header.old)}, but the old image given is ${shown}`);
}

/** The old layers the patch reads, verified; undefined where not needed. */
async function fetchBlobs(header: PatchHeader, old: OldImage, needed: OldBlob[], report: Report): Promise<Array<ByteSource | undefined>> {
  const total = needed.reduce((n, b) => n + b.size, 0);
  let done = 0;
  const out: Array<ByteSource | undefined> = [];
  for (let i = 0; i < header.old.blobs.length; i++) {
    if (!needed.includes(header.old.blobs[i])) {
      out.push(undefined);
      continue;
    }
    report('read-old', done, total, header.old.blobs[i].diffId.slice(0, 19));
    out.push(await old.blob(header.old.blobs[i]));
    done += header.old.blobs[i].size;
  }
  report('read-old', total, total);
  return out;
}

/** Where a rebuilt stretch of an entry's data goes. */
type Write = (bytes: Uint8Array) => Promise<void>;

/** What rebuilding the entries needs, passed down as one. */
interface Rebuild {
  frames: FrameReader;
  header: PatchHeader;
  blobs: Array<ByteSource | undefined>;
  core: DiffCore;
  out: Output;
  literals: LiteralCodec;
  /** One buffer for every copy of old bytes: the sink has taken each chunk before the next read. */
  copyBuffer: Uint8Array;
}

function blobAt(blobs: Array<ByteSource | undefined>, i: number): ByteSource {
  const b = blobs[i];
  if (!b) throw badPatch(`refers to old layer ${i}, which its header did not ask for`);
  return b;
}

async function rebuildEntries(r: Rebuild, omitReused: boolean, layout: LayoutDigest): Promise<void> {
  const { frames, header, out } = r;
  let frame = await frames.next();
  let count = 0;
  const codec = new EntryCodec();
  while (frame && frame.type === FrameType.Entry) {
    const { record, header: tarHeader } = codec.decode(frame.payload);
    const skip = omitReused && record.partialSkip === true;
    const padding = record.padding !== undefined ? fromHex(record.padding, 'padding') : new Uint8Array(paddingSize(record.size));
    if (padding.length !== paddingSize(record.size)) throw badPatch(`entry ${record.name} has padding of the wrong length`);
    out.beginEntry(tarHeader, record, record.kind === 'reuse' ? reusedBlob(header, record) : undefined);
    await out.raw(tarHeader, skip);
    frame = await rebuildData(r, record, skip);
    out.endEntry(record, padding);
    await out.raw(padding, skip);
    layout.entry(tarHeader, record.sha256, padding);
    count++;
  }
  if (!frame) throw badPatch('truncated: the patch ends before its end record');
  if (frame.type !== FrameType.End) throw badPatch(`unexpected ${frameName(frame.type)} frame after entry ${count}`);
  if (count !== header.new.entries) throw badPatch(`holds ${count} entries, header says ${header.new.entries}`);
  const { end, trailer } = decodeEnd(frame.payload, header.new.archiveSize - out.position);
  if (out.position + trailer.length !== header.new.archiveSize) {
    throw badPatch(`rebuilds ${out.position + trailer.length} bytes, header promises ${header.new.archiveSize}`);
  }
  // Checked before the trailer goes out: a sink that sees the archive end has seen a checked one.
  const digest = layout.end(trailer);
  if (digest !== end.layoutSha256) throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt archive layout does not match: ${digest}, patch promised ${end.layoutSha256}`);
  if (await frames.next()) throw badPatch('data after the end record');
  await out.check.verify(trailer, header.new.archiveSize);
  await out.raw(trailer);
}

/** The old blob a reused entry names, which must be the blob it claims. */
function reusedBlob(header: PatchHeader, record: EntryRecord): OldBlob {
  const blob = header.old.blobs[record.blob ?? -1];
  // The old blob is checked against this digest when it is read, so the copy needs no hashing.
  if (!blob || blob.size !== record.size || (blob.stored ?? blob.diffId) !== record.sha256) throw badPatch(`entry ${record.name} reuses an unknown old layer`);
  return blob;
}

/** Write one entry's data; returns the first frame after it. */
async function rebuildData(r: Rebuild, record: EntryRecord, skip: boolean): Promise<Frame | null> {
  const { frames, header, blobs, out } = r;
  if (record.kind === 'reuse') {
    const blob = reusedBlob(header, record);
    if (skip) out.position += blob.size; // left out, but still part of the archive the header sizes
    else for await (const chunk of streamReused(blobAt(blobs, record.blob!), 0, blob.size, r.copyBuffer)) await out.write(chunk);
    return frames.next();
  }
  if (record.goGzip) return rebuildGoGzip(r, record, skip);
  return rebuildFrames(r, record, record.size, (bytes) => out.write(bytes, skip));
}

/** Rebuild `size` bytes of `record`'s data from the frames that follow it, in order, through `write`; returns the next frame. */
async function rebuildFrames(r: Rebuild, record: EntryRecord, size: number, write: Write): Promise<Frame | null> {
  let made = 0;
  let frame = await r.frames.next();
  const wanted = record.kind === 'literal' ? [FrameType.Literal] : record.kind === 'delta' ? [FrameType.Window, FrameType.Gzip] : [];
  while (frame && (wanted as number[]).includes(frame.type) && made < size) {
    if (frame.type === FrameType.Literal) {
      const data = r.literals.decode(frame.payload, size - made);
      await write(data);
      made += data.length;
    } else if (frame.type === FrameType.Gzip) {
      made += await writeGzip(r, frame.payload, size - made, write);
    } else {
      made += await writeWindow(r, frame.payload, size - made, write);
    }
    frame = await r.frames.next();
  }
  if (made !== size) throw badPatch(`entry ${record.name}: rebuilt ${made} of ${size} bytes`);
  return frame;
}

/**
 * A gzip layer blob rebuilt by re-compression: as the windows rebuild its
 * tar, Go's gzip model (a core of its own) compresses it and the blob
 * streams out, hashed on the way. The tar is checked against the diff_id
 * and the blob against its size and sha256 before its last bytes (the
 * final block and gzip trailer) go out: a sink that sees the entry end has
 * seen a checked one (and the CLI renames only a complete, checked archive).
 */
async function rebuildGoGzip(r: Rebuild, record: EntryRecord, skip: boolean): Promise<Frame | null> {
  const go = record.goGzip!;
  // A core of its own: the windows use r.core between its steps.
  const goCore = await loadCore();
  // The model's own failures (not the sink's) mean the patch's parameters are wrong.
  const failed = (err: unknown): unknown =>
    err instanceof PatcherError && (err.code === ErrorCode.Core || err.code === ErrorCode.Usage) ? badPatch(`entry ${record.name}: gzip re-compression failed (${err.message})`) : err;
  let stream;
  try {
    stream = goCore.goGzipStream({ level: go.level, header: fromHex(go.header, 'goGzip header') });
  } catch (err) {
    if (err instanceof PatcherError) throw badPatch(`entry ${record.name}: ${err.message}`);
    throw err;
  }
  const tarHash = r.out.options.hasher();
  const blobHash = r.out.options.hasher();
  r.out.check.compressedHere();
  let made = 0;
  // The model makes a few KiB per step: gathered into one OUT_CHUNK buffer,
  // the sink sees fewer, larger writes. The new-image check does not inflate
  // this blob again: it is told the digest of the tar it was made from.
  const batch = new Uint8Array(OUT_CHUNK);
  let held = 0;
  const flush = async (): Promise<void> => {
    if (held > 0) await r.out.write(batch.subarray(0, held), skip);
    held = 0;
  };
  const emit = async (bytes: Uint8Array): Promise<void> => {
    made += bytes.length;
    if (made > record.size) {
      throw new PatcherError(ErrorCode.DigestMismatch, `re-compressed ${record.name} does not match: it runs past the ${record.size} bytes the patch promised (level ${go.level})`);
    }
    blobHash.update(bytes);
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, batch.length - held);
      batch.set(bytes.subarray(at, at + n), held);
      held += n;
      at += n;
      if (held === batch.length) await flush();
    }
  };
  const frame = await rebuildFrames(r, record, go.textSize, async (bytes) => {
    tarHash.update(bytes);
    try {
      for (const compressed of stream.write(bytes)) await emit(compressed);
    } catch (err) {
      throw failed(err);
    }
  });
  const diffId = tarHash.digest();
  if (diffId !== record.diffId) throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt tar of ${record.name} has diff_id ${diffId}, patch promised ${record.diffId}`);
  r.out.check.inflatedDigest(diffId);
  let tail: Uint8Array;
  try {
    tail = stream.end();
  } catch (err) {
    throw failed(err);
  }
  made += tail.length;
  blobHash.update(tail);
  const sha256 = blobHash.digest();
  if (made !== record.size || sha256 !== record.sha256) {
    throw new PatcherError(ErrorCode.DigestMismatch, `re-compressed ${record.name} does not match: ${made} bytes ${sha256}, patch promised ${record.size} bytes ${record.sha256} (level ${go.level})`);
  }
  await flush();
  await r.out.write(tail, skip);
  return frame;
}

/** Rebuild one gzip file from its old twin's exact form and a GZIP frame; returns its size. */
async function writeGzip(r: Rebuild, payload: Uint8Array, room: number, write: Write): Promise<number> {
  const { header, blobs, core } = r;
  const input = new VarintReader(payload, 'gzip entry');
  const limits = gzipEntryLimits(header.windowSize);
  const head = decodeGzipHead(input, header.old.blobs.length, limits);
  const { old } = head;
  if (head.newSize > room) throw badPatch(`gzip entry ${head.name} runs past its layer`);
  if (old.offset + old.length > header.old.blobs[old.blob].size) {
    throw badPatch(`gzip entry ${head.name} reads old layer ${old.blob} at ${old.offset}+${old.length}, past its ${header.old.blobs[old.blob].size} bytes`);
  }
  const oldBytes = await blobAt(blobs, old.blob).read(old.offset, old.length);
  let oldForm;
  try {
    oldForm = core.gunzipExact(oldBytes, { maxOutput: limits.maxText, maxStructure: limits.maxStructure });
  } catch (err) {
    if (err instanceof PatcherError) throw badPatch(`gzip entry ${head.name}: the old file does not decode (${err.message})`);
    throw err;
  }
  // The text delta comes first: the structure's reference may need the new text.
  const textDelta = decodeGzipText(input, head, oldForm.text.length);
  const text = core.patch(oldForm.text, textDelta, head.textSize);
  const reference = head.model === 0 ? oldForm.structure : concatBytes([oldForm.structure, core.zlibPredict(text, head.model, limits.maxStructure)]);
  const structureDelta = decodeGzipStructure(input, head, reference.length);
  const structure = core.patch(reference, structureDelta, head.structureSize);
  const bytes = core.gzipExact({ text, structure }, head.newSize);
  const digest = r.out.options.hasher();
  digest.update(bytes);
  const want = `sha256:${Array.from(head.sha256, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  if (bytes.length !== head.newSize || digest.digest() !== want) {
    throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt gzip file ${head.name} does not match the digest its record promised`);
  }
  await write(bytes);
  return bytes.length;
}

async function writeWindow(r: Rebuild, payload: Uint8Array, room: number, write: Write): Promise<number> {
  const { header, blobs, core } = r;
  // Every inflate target is bounded by the window size (itself at most MAX_WINDOW_SIZE) and what the entry still holds.
  const w = decodeWindow(payload, header.old.blobs.length, { maxDiffBytes: Math.min(2 * header.windowSize + (1 << 20), room), maxRefBytes: 8 * header.windowSize + (1 << 20) });
  const size = w.pieces.reduce((n, p) => n + p.length, 0);
  if (size > room) throw badPatch('window runs past its entry');
  for (const r of [...w.refs, ...w.pieces]) {
    if ('blob' in r && r.offset + r.length > header.old.blobs[r.blob].size) {
      throw badPatch(`window reads old layer ${r.blob} at ${r.offset}+${r.length}, past its ${header.old.blobs[r.blob].size} bytes`);
    }
  }
  const diffBytes = w.delta.diff.length + w.delta.extra.length;
  // The old bytes are read straight into the core's memory, and the core
  // copies the delta in: nothing here keeps either after this.
  const refs = w.refs.map((ref) => ({ source: blobAt(blobs, ref.blob), offset: ref.offset, length: ref.length }));
  // A window with code ranges makes its output in one chunk (at most the window's DIFF bytes) to restore the code.
  const prepared = core.preparePatch(refs.reduce((n, ref) => n + ref.length, 0), w.delta, diffBytes, OUT_CHUNK, w.code);
  w.delta = { ctrl: new Int32Array(0), diff: new Uint8Array(0), extra: new Uint8Array(0) };
  await gatherInto(refs, prepared.reference);
  const made = prepared.start();
  let pending: Uint8Array = new Uint8Array(0);
  for (const p of w.pieces) {
    if (p.copy) {
      for await (const chunk of streamReused(blobAt(blobs, p.blob), p.offset, p.length, r.copyBuffer)) await write(chunk);
      continue;
    }
    for (let left = p.length; left > 0; ) {
      if (pending.length === 0) {
        const next = made.next();
        if (next.done) throw badPatch('window delta ends early');
        pending = next.value;
      }
      const n = Math.min(left, pending.length);
      await write(pending.subarray(0, n));
      pending = pending.subarray(n);
      left -= n;
    }
  }
  if (pending.length > 0 || !made.next().done) throw badPatch('window delta makes more bytes than its pieces take');
  return size;
}
