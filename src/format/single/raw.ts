/**
 * docker-patcher's single-file patch format ("raw"): one bsdiff delta with
 * the promises needed to apply it safely. Read front to back, all little-endian:
 *
 *   0   5  "DPRAW"
 *   5   1  version (1)
 *   6   2  flags: bit 0 = a fourth section holds code ranges; any other
 *          bit is refused as a newer format
 *   8   8  old size            16  8  new size
 *   24  8  diff size (sum of add lengths; extra size = new size - diff size)
 *   32  32 sha256(old)         64  32 sha256(new)
 *   96  4  crc32 of bytes 0..96
 *   100    three sections: ctrl (columns, ctrl.ts), diff (zero runs,
 *          zeroruns.ts), extra (plain bytes). Each section is
 *            0 1 method: 0 stored, 1 deflate (RFC 1951, fflate one-shot)
 *            1 8 encoded length (before compression)
 *            9 8 stored length
 *            17 4 crc32 of bytes 0..17 and the stored bytes
 *            21   stored bytes
 *          With flag bit 0, a fourth section (same framing): code ranges
 *          of OLD, then of NEW (format/code-ranges.ts). The delta then
 *          turns filtered OLD into filtered NEW (core/code-filter.ts: ELF
 *          files' branch targets made absolute); the patcher filters OLD
 *          and restores the output. Patches of non-ELF files keep flags 0,
 *          so they read as before.
 *
 * Every size is checked against the patch's own length and deflate's
 * maximum expansion (1032:1) before anything is allocated; every section's
 * crc32 is checked before it is inflated. Memory to decode: the patch, plus
 * the delta (about new size + 12 bytes per control triple), plus one
 * section's encoded form at a time.
 */
import { deflateSync, inflateSync } from 'fflate';
import { badPatch, PatcherError, ErrorCode } from '../../errors.js';
import type { Delta } from '../../core/index.js';
import { crc32, sha256 } from './checksum.js';
import { checkDelta, compactCtrl, decodeCtrl, encodeCtrl } from '../ctrl.js';
import { decodeZeroRuns, encodeZeroRuns } from '../zeroruns.js';
import { DEFAULT_MAX_SIZE } from './classic.js';
import type { CodeFilters } from '../../core/index.js';
import { getCodeRanges, putCodeRanges } from '../code-ranges.js';
import { VarintReader, VarintWriter } from '../varint.js';

export const RAW_MAGIC = 'DPRAW';
export const RAW_VERSION = 1;
const HEADER_SIZE = 100;
const SECTION_HEADER_SIZE = 21;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 1;
const FLAG_CODE = 1;
/** Deflate cannot expand more than 1032:1 (258-byte matches in ~2 bits). */
const MAX_INFLATE_RATIO = 1032;

export interface RawPatch {
  oldSize: number;
  newSize: number;
  oldSha256: Uint8Array;
  newSha256: Uint8Array;
  delta: Delta;
  /** Code ranges of OLD and NEW the delta was made with (flag bit 0); absent: plain bytes. */
  code?: CodeFilters;
}

export interface RawEncodeOptions {
  /** Deflate level 0-9 for each section (default 9: patches are made once, applied many times). */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  /** Code ranges of old and new the delta was made with (DiffOptions.code); stored in the patch. */
  code?: CodeFilters;
  /** sha256 of old / new if the caller has them already (saves a pass each). */
  oldSha256?: Uint8Array;
  newSha256?: Uint8Array;
}

export interface RawDecodeOptions {
  /** Largest old or new size accepted, in bytes (default 2 GiB). */
  maxSize?: number;
}

/** True when `bytes` starts with the raw format's magic (any version). */
export function isRawPatch(bytes: Uint8Array): boolean {
  return bytes.length >= 5 && String.fromCharCode(...bytes.subarray(0, 5)) === RAW_MAGIC;
}

/** Encode `delta` (which turns `old` into `neu`) as a raw patch. */
export function encodeRawPatch(old: Uint8Array, neu: Uint8Array, delta: Delta, options: RawEncodeOptions = {}): Uint8Array {
  return encodeRawPatchOf(
    { oldSize: old.length, newSize: neu.length, oldSha256: options.oldSha256 ?? sha256(old), newSha256: options.newSha256 ?? sha256(neu) },
    delta,
    options,
  );
}

/** The same from sizes and digests alone, so a caller need not keep both inputs in memory. */
export function encodeRawPatchOf(
  inputs: { oldSize: number; newSize: number; oldSha256: Uint8Array; newSha256: Uint8Array },
  delta: Delta,
  options: RawEncodeOptions = {},
): Uint8Array {
  const ctrl = compactCtrl(delta.ctrl);
  checkDelta({ ...delta, ctrl }, inputs.oldSize, inputs.newSize);
  const level = options.level ?? 9;
  const code = options.code && (options.code.reference.length || options.code.target.length) ? options.code : undefined;
  const encoded = [encodeCtrl(ctrl), encodeZeroRuns(delta.diff), delta.extra];
  if (code) {
    const ranges = new VarintWriter(64);
    putCodeRanges(ranges, code.reference);
    putCodeRanges(ranges, code.target);
    encoded.push(ranges.result());
  }
  const sections = encoded.map((s) => packSection(s, level));

  const header = new Uint8Array(HEADER_SIZE);
  const view = new DataView(header.buffer);
  header.set(new TextEncoder().encode(RAW_MAGIC));
  header[5] = RAW_VERSION;
  view.setUint16(6, code ? FLAG_CODE : 0, true);
  view.setBigUint64(8, BigInt(inputs.oldSize), true);
  view.setBigUint64(16, BigInt(inputs.newSize), true);
  view.setBigUint64(24, BigInt(delta.diff.length), true);
  header.set(inputs.oldSha256, 32);
  header.set(inputs.newSha256, 64);
  view.setUint32(96, crc32(header.subarray(0, 96)), true);

  const out = new Uint8Array(HEADER_SIZE + sections.reduce((n, s) => n + s.length, 0));
  let at = 0;
  for (const part of [header, ...sections]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function packSection(encoded: Uint8Array, level: number): Uint8Array {
  const deflated = encoded.length > 0 ? deflateSync(encoded, { level: level as 9 }) : encoded;
  const useDeflate = deflated.length < encoded.length;
  const stored = useDeflate ? deflated : encoded;
  const out = new Uint8Array(SECTION_HEADER_SIZE + stored.length);
  const view = new DataView(out.buffer);
  out[0] = useDeflate ? METHOD_DEFLATE : METHOD_STORED;
  view.setBigUint64(1, BigInt(encoded.length), true);
  view.setBigUint64(9, BigInt(stored.length), true);
  out.set(stored, SECTION_HEADER_SIZE);
  view.setUint32(17, crc32(stored, crc32(out.subarray(0, 17))), true);
  return out;
}

/** Reads a u64 that must be a safe integer no larger than `max`. */
function readSize(view: DataView, at: number, max: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(max)) throw badPatch(`${what} ${value} exceeds the limit of ${max} bytes`);
  return Number(value);
}

/** Decode and verify a raw patch. Throws BAD_PATCH (one line) on any damage. */
export function decodeRawPatch(bytes: Uint8Array, options: RawDecodeOptions = {}): RawPatch {
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
  if (!isRawPatch(bytes)) throw badPatch('not a docker-patcher raw patch (bad magic)');
  if (bytes.length < HEADER_SIZE) throw badPatch(`header truncated (${bytes.length} of ${HEADER_SIZE} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(96, true) !== crc32(bytes.subarray(0, 96))) throw badPatch('header checksum mismatch');
  const flags = view.getUint16(6, true);
  if (bytes[5] !== RAW_VERSION || (flags & ~FLAG_CODE) !== 0) {
    throw new PatcherError(ErrorCode.BadPatch, `unsupported raw patch version ${bytes[5]}.${view.getUint16(6, true)}; upgrade docker-patcher`);
  }
  const oldSize = readSize(view, 8, maxSize, 'old size');
  const newSize = readSize(view, 16, maxSize, 'new size');
  const diffSize = readSize(view, 24, newSize, 'diff size');
  const oldSha256 = bytes.slice(32, 64);
  const newSha256 = bytes.slice(64, 96);

  const reader = { bytes, view, pos: HEADER_SIZE };
  // A triple produces at least one byte, except possibly a leading seek.
  const ctrl = decodeCtrl(readSection(reader, 'control section', 15 * (newSize + 1) + 5), newSize + 1);
  const diff = decodeZeroRuns(readSection(reader, 'diff section', diffSize * 2 + 10), diffSize);
  const extra = readSection(reader, 'extra section', newSize - diffSize);
  if (extra.length !== newSize - diffSize) throw badPatch(`extra section holds ${extra.length} bytes, expected ${newSize - diffSize}`);
  let code: CodeFilters | undefined;
  if (flags & FLAG_CODE) {
    // At most 65,280 sections a file, 4 varints of at most 8 bytes each: 4 MiB is ample.
    const input = new VarintReader(readSection(reader, 'code section', 1 << 22), 'code section');
    code = { reference: getCodeRanges(input, oldSize, 'OLD'), target: getCodeRanges(input, newSize, 'NEW') };
    input.end();
  }
  if (reader.pos !== bytes.length) throw badPatch(`${bytes.length - reader.pos} trailing bytes after the last section`);
  const delta = { ctrl, diff, extra };
  checkDelta(delta, oldSize, newSize);
  return { oldSize, newSize, oldSha256, newSha256, delta, ...(code ? { code } : {}) };
}

interface SectionReader {
  bytes: Uint8Array;
  view: DataView;
  pos: number;
}

/** Read, verify and (if deflated) inflate the next section; `maxEncoded` bounds its size. */
function readSection(r: SectionReader, what: string, maxEncoded: number): Uint8Array {
  const start = r.pos;
  if (r.bytes.length - start < SECTION_HEADER_SIZE) throw badPatch(`${what} header truncated`);
  const method = r.bytes[start];
  const storedLength = readSize(r.view, start + 9, r.bytes.length - start - SECTION_HEADER_SIZE, `${what} length`);
  const dataStart = start + SECTION_HEADER_SIZE;
  const stored = r.bytes.subarray(dataStart, dataStart + storedLength);
  const expected = r.view.getUint32(start + 17, true);
  if (crc32(stored, crc32(r.bytes.subarray(start, start + 17))) !== expected) throw badPatch(`${what} checksum mismatch`);
  r.pos = dataStart + storedLength;
  if (method !== METHOD_STORED && method !== METHOD_DEFLATE) throw badPatch(`${what} uses unknown method ${method}`);
  const ratio = method === METHOD_DEFLATE ? MAX_INFLATE_RATIO : 1;
  const encodedLength = readSize(r.view, start + 1, Math.min(maxEncoded, storedLength * ratio + 16), `${what} size`);
  if (method === METHOD_STORED) {
    if (encodedLength !== storedLength) throw badPatch(`${what} stored length mismatch`);
    return stored;
  }
  // One spare byte tells "exactly right" from "would have overflowed":
  // fflate silently stops writing at the end of a caller-provided buffer.
  const out = new Uint8Array(encodedLength + 1);
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(stored, { out });
  } catch (err) {
    throw badPatch(`${what} does not inflate (${err instanceof Error ? err.message : String(err)})`);
  }
  if (inflated.length !== encodedLength) throw badPatch(`${what} inflates to the wrong size`);
  return out.subarray(0, encodedLength);
}

/**
 * Refuse an OLD input that is not the one the patch was made from, before
 * any work is done (WRONG_IMAGE: the user picked the wrong file).
 */
export function checkRawOld(patch: RawPatch, old: Uint8Array, oldSha256 = sha256(old)): void {
  const same = old.length === patch.oldSize && oldSha256.every((b, i) => b === patch.oldSha256[i]);
  if (!same) {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').slice(0, 16);
    throw new PatcherError(
      ErrorCode.WrongImage,
      `OLD is not the file this patch was made from (expected ${patch.oldSize} bytes, sha256 ${hex(patch.oldSha256)}…; got ${old.length} bytes, sha256 ${hex(oldSha256)}…)`,
    );
  }
}
