/**
 * One diff window of a layer, as stored in a WINDOW frame.
 *
 * A window rebuilds a run of the new layer from pieces, in order: DIFF
 * pieces take the next bytes bspatch makes from the reference (the old
 * ranges in `refs`, concatenated) and the delta; COPY pieces are old bytes
 * taken verbatim (unchanged files). Layout of the payload:
 *
 *   varint metaLength, meta (deflated varints: counts, refs, pieces,
 *     code ranges of the reference, code ranges of the DIFF output)
 *   3 sections (ctrl, diff as zero runs, extra): varint raw length,
 *     varint stored length, stored bytes (deflated unless that grew them)
 *
 * Layout numbers are wide varints (VarintWriter.wide: offsets in layers may
 * pass 4 GiB). Offsets in refs and copies are coded relative to the previous one's end,
 * so the usual case (old entries in the same order) costs a byte or two.
 *
 * Code ranges (format 3; core/code-filter.ts): where the reference and the
 * DIFF output hold machine code of an ELF file. The delta turns the
 * filtered reference into the filtered output; apply filters the reference
 * the same way and restores the output. Each range: kind, start (relative
 * to the previous range's end), length, file offset of its first byte.
 * Memory to decode: the payload plus the inflated sections (<= window size).
 */
import { deflateSync } from 'fflate';
import type { CodeFilters, Delta } from '../../core/index.js';
import { getCodeRanges, putCodeRanges } from '../code-ranges.js';
import { badPatch } from '../../errors.js';
import { inflateExact } from '../bytes.js';
import { checkDelta, decodeCtrl, encodeCtrl } from '../ctrl.js';
import { VarintReader, VarintWriter } from '../varint.js';
import { decodeZeroRuns, encodeZeroRuns } from '../zeroruns.js';

/** A range of an old blob (blob = index into the header's old blob list). */
export interface OldRange {
  blob: number;
  offset: number;
  length: number;
}

export type Piece = { copy: false; length: number } | ({ copy: true } & OldRange);

export interface WindowData {
  /** Old ranges whose concatenation is the bsdiff reference. */
  refs: OldRange[];
  pieces: Piece[];
  delta: Delta;
  /** Code to filter in the reference and the DIFF output; absent when there is none. */
  code?: CodeFilters;
}

/** Limits a reader enforces before allocating. */
export interface WindowLimits {
  /** Largest output of one window (its DIFF pieces). */
  maxDiffBytes: number;
  /** Largest reference. */
  maxRefBytes: number;
}

const zigzag = (v: number): number => (v < 0 ? -2 * v - 1 : 2 * v);
const unzigzag = (v: number): number => (v % 2 === 1 ? -(v + 1) / 2 : v / 2);

export function encodeWindow(w: WindowData, level = 9): Uint8Array {
  const meta = new VarintWriter(64 + 8 * (w.refs.length + w.pieces.length));
  meta.wide(w.refs.length);
  let end = 0;
  for (const r of w.refs) {
    meta.wide(r.blob);
    meta.wide(zigzag(r.offset - end));
    meta.wide(r.length);
    end = r.offset + r.length;
  }
  meta.wide(w.pieces.length);
  let copyEnd = 0;
  for (const p of w.pieces) {
    meta.wide(p.length * 2 + (p.copy ? 1 : 0));
    if (!p.copy) continue;
    meta.wide(p.blob);
    meta.wide(zigzag(p.offset - copyEnd));
    copyEnd = p.offset + p.length;
  }
  putCodeRanges(meta, w.code?.reference ?? []);
  putCodeRanges(meta, w.code?.target ?? []);
  const out = new VarintWriter(1024);
  putSection(out, meta.result(), level);
  putDelta(out, w.delta, level);
  return out.result().slice();
}

/** A delta's three sections (ctrl, diff as zero runs, extra), as a window stores them. */
export function putDelta(out: VarintWriter, delta: Delta, level: number): void {
  putSection(out, encodeCtrl(delta.ctrl), level);
  putSection(out, encodeZeroRuns(delta.diff), level);
  putSection(out, delta.extra, level);
}

/** Read and check a delta that turns `refBytes` old bytes into `newBytes`. */
export function getDelta(input: VarintReader, what: string, refBytes: number, newBytes: number): Delta {
  const ctrl = decodeCtrl(getSection(input, `${what} control`, 15 * (newBytes + 1) + 5), newBytes + 1);
  const diffRaw = getSection(input, `${what} diff`, 2 * newBytes + 16);
  const extra = getSection(input, `${what} extra`, newBytes);
  const delta = { ctrl, diff: decodeZeroRuns(diffRaw, newBytes - extra.length), extra };
  checkDelta(delta, refBytes, newBytes);
  return delta;
}

export function putSection(out: VarintWriter, raw: Uint8Array, level: number): void {
  const packed = raw.length ? deflateSync(raw, { level: level as 9 }) : raw;
  const stored = packed.length < raw.length ? packed : raw;
  out.varint(raw.length);
  out.varint(stored.length);
  out.bytes(stored);
}

export function getSection(input: VarintReader, what: string, maxRaw: number): Uint8Array {
  const rawLength = input.varint();
  const storedLength = input.varint();
  if (rawLength > maxRaw) throw badPatch(`window ${what} claims ${rawLength} bytes (limit ${maxRaw})`);
  if (storedLength > input.remaining) throw badPatch(`window ${what} runs past its frame`);
  const stored = input.bytes.subarray(input.pos, input.pos + storedLength);
  input.pos += storedLength;
  if (storedLength === rawLength) return stored;
  return inflateExact(stored, rawLength, `window ${what}`);
}

/** Decode and check a window; `blobs` is the number of old blobs the header lists. */
export function decodeWindow(payload: Uint8Array, blobs: number, limits: WindowLimits): WindowData {
  const input = new VarintReader(payload, 'window');
  const meta = new VarintReader(getSection(input, 'layout', 64 * 1024 * 1024), 'window layout');
  const refs: OldRange[] = [];
  const refCount = meta.wide();
  if (refCount * 3 > meta.remaining) throw badPatch('window layout claims more references than it holds');
  let end = 0;
  let refBytes = 0;
  for (let i = 0; i < refCount; i++) {
    const r = { blob: meta.wide(), offset: end + unzigzag(meta.wide()), length: meta.wide() };
    if (r.blob >= blobs || r.offset < 0 || !Number.isSafeInteger(r.offset + r.length)) throw badPatch(`window reference ${i} is out of range`);
    refBytes += r.length;
    end = r.offset + r.length;
    refs.push(r);
  }
  if (refBytes > limits.maxRefBytes) throw badPatch(`window reference of ${refBytes} bytes exceeds ${limits.maxRefBytes}`);
  const pieceCount = meta.wide();
  if (pieceCount > meta.remaining) throw badPatch('window layout claims more pieces than it holds');
  const pieces: Piece[] = [];
  let copyEnd = 0;
  let diffBytes = 0;
  for (let i = 0; i < pieceCount; i++) {
    const tag = meta.wide();
    const length = Math.floor(tag / 2);
    if (tag % 2 === 0) {
      diffBytes += length;
      pieces.push({ copy: false, length });
      continue;
    }
    const blob = meta.wide();
    const offset = copyEnd + unzigzag(meta.wide());
    if (blob >= blobs || offset < 0 || !Number.isSafeInteger(offset + length)) throw badPatch(`window copy ${i} is out of range`);
    copyEnd = offset + length;
    pieces.push({ copy: true, blob, offset, length });
  }
  if (diffBytes > limits.maxDiffBytes) throw badPatch(`window makes ${diffBytes} bytes by diff (limit ${limits.maxDiffBytes})`);
  const code = { reference: getCodeRanges(meta, refBytes, 'window reference'), target: getCodeRanges(meta, diffBytes, 'window output') };
  meta.end();
  const delta = getDelta(input, 'window', refBytes, diffBytes);
  input.end();
  return { refs, pieces, delta, ...(code.reference.length || code.target.length ? { code } : {}) };
}
