/**
 * Readers for the bsdiff patch formats users already have. Both convert to
 * our Delta; neither carries a digest, so only sizes can be checked.
 *
 * BSDIFF40 (Colin Percival's bsdiff 4.x, Debian's `bsdiff`, gabstv/go-bsdiff):
 *   0  8  "BSDIFF40"
 *   8  8  length of the bzip2 ctrl block     (offtin: 64-bit sign-magnitude LE)
 *   16 8  length of the bzip2 diff block
 *   24 8  new size
 *   32    bzip2(ctrl: 24-byte triples) bzip2(diff) bzip2(extra)
 *
 * ENDSLEY/BSDIFF43 (mendsley/bsdiff's example main, icedream/go-bsdiff):
 *   0  16 "ENDSLEY/BSDIFF43"
 *   16 8  new size: offtin in mendsley's tool, big-endian uint64 in
 *         icedream/go-bsdiff (the library the original docker-patcher used)
 *   24    one bzip2 stream of per triple: ctrl (24 bytes), diff, extra
 *
 * Memory: output-sized buffers grow with the data actually decoded (about
 * newSize in total) plus 12 bytes per control triple while parsing.
 */
import { badPatch } from '../../errors.js';
import type { Delta } from '../../core/index.js';
import { bunzip2, GrowBuffer, type ByteSink } from './bzip2.js';

export type ClassicFormat = 'bsdiff40' | 'bsdiff43';

export interface ClassicPatch {
  format: ClassicFormat;
  /** For bsdiff43: which encoding of the size field was found. */
  sizeEncoding?: 'offtin' | 'big-endian';
  newSize: number;
  delta: Delta;
}

export interface ClassicLimits {
  /** Largest output accepted, in bytes (default 2 GiB: one WASM heap must hold old + new). */
  maxSize?: number;
}

export const DEFAULT_MAX_SIZE = 2 ** 31;
const INT32_MAX = 0x7fffffff;
const MAGIC_40 = 'BSDIFF40';
const MAGIC_43 = 'ENDSLEY/BSDIFF43';

const ascii = (bytes: Uint8Array, start: number, end: number): string =>
  String.fromCharCode(...bytes.subarray(start, Math.min(end, bytes.length)));

/** Which classic format `bytes` starts with, if any. */
export function detectClassicFormat(bytes: Uint8Array): ClassicFormat | undefined {
  if (ascii(bytes, 0, 16) === MAGIC_43) return 'bsdiff43';
  if (ascii(bytes, 0, 8) === MAGIC_40) return 'bsdiff40';
  return undefined;
}

/** bsdiff's offtin: 64-bit sign-magnitude little-endian (may exceed 2^53: callers range-check). */
export function offtin(b: Uint8Array, at: number): number {
  const low = (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
  const high = (b[at + 4] | (b[at + 5] << 8) | (b[at + 6] << 16) | ((b[at + 7] & 0x7f) << 24)) >>> 0;
  const magnitude = high * 2 ** 32 + low;
  return b[at + 7] & 0x80 ? -magnitude : magnitude;
}

function bigEndianU64(b: Uint8Array, at: number): number {
  let v = 0;
  for (let i = 0; i < 8; i++) v = v * 256 + b[at + i];
  return v;
}

/** Decode a BSDIFF40 or ENDSLEY/BSDIFF43 patch; anything else is BAD_PATCH. */
export function decodeClassicPatch(bytes: Uint8Array, limits: ClassicLimits = {}): ClassicPatch {
  const maxSize = limits.maxSize ?? DEFAULT_MAX_SIZE;
  const format = detectClassicFormat(bytes);
  if (format === 'bsdiff40') return decodeBsdiff40(bytes, maxSize);
  if (format === 'bsdiff43') return decodeBsdiff43(bytes, maxSize);
  const shown = JSON.stringify(ascii(bytes, 0, 8)).slice(1, -1);
  throw badPatch(`unknown patch format (magic "${shown}"); expected docker-patcher raw, BSDIFF40 or ENDSLEY/BSDIFF43`);
}

/**
 * Parses a stream of 24-byte control records, checking each triple as it
 * arrives (bspatch's sanity checks) and stopping once `newSize` is covered.
 * With `body` set (BSDIFF43), the diff and extra bytes of each triple follow
 * its record in the same stream and are routed to `diff` / `extra`.
 */
class TripleParser implements ByteSink {
  readonly triples: number[] = [];
  newPos = 0;
  #record = new Uint8Array(24);
  #filled = 0;
  #addLeft = 0;
  #copyLeft = 0;
  #trailing = 0;
  constructor(
    readonly newSize: number,
    readonly body?: { diff: GrowBuffer; extra: GrowBuffer },
  ) {}

  writeByte(byte: number): void {
    if (this.#addLeft > 0) {
      this.#addLeft--;
      this.body!.diff.writeByte(byte);
    } else if (this.#copyLeft > 0) {
      this.#copyLeft--;
      this.body!.extra.writeByte(byte);
    } else if (this.newPos === this.newSize && this.#filled === 0) {
      // bspatch ignores data after the last triple; we accept a little of it.
      if (++this.#trailing > 1 << 16) throw badPatch('control data continues far past the end of the new file');
    } else {
      this.#record[this.#filled++] = byte;
      if (this.#filled === 24) this.#takeRecord();
    }
  }

  #takeRecord(): void {
    this.#filled = 0;
    const [add, copy, seek] = [offtin(this.#record, 0), offtin(this.#record, 8), offtin(this.#record, 16)];
    const index = this.triples.length / 3;
    // Sanity-check, as bspatch does: non-negative, in int32, never past newSize.
    if (add < 0 || copy < 0 || add > INT32_MAX || copy > INT32_MAX) {
      throw badPatch(`control triple ${index} has an invalid length`);
    }
    if (this.newPos + add + copy > this.newSize) {
      throw badPatch(`control triple ${index} writes past the declared new size ${this.newSize}`);
    }
    if (seek < -INT32_MAX || seek > INT32_MAX) throw badPatch(`control triple ${index} seeks out of range`);
    this.triples.push(add, copy, seek);
    this.newPos += add + copy;
    if (this.body) [this.#addLeft, this.#copyLeft] = [add, copy];
  }

  /** Throws unless the stream ended exactly after a complete triple covering newSize. */
  finish(what: string): void {
    if (this.#filled !== 0 || this.#addLeft !== 0 || this.#copyLeft !== 0 || this.newPos !== this.newSize) {
      throw badPatch(`${what} ends after ${this.newPos} of ${this.newSize} output bytes`);
    }
  }
}

function decodeBsdiff40(bytes: Uint8Array, maxSize: number): ClassicPatch {
  if (bytes.length < 32) throw badPatch(`BSDIFF40 header truncated (${bytes.length} of 32 bytes)`);
  const ctrlLen = offtin(bytes, 8);
  const diffLen = offtin(bytes, 16);
  const newSize = offtin(bytes, 24);
  if (ctrlLen < 0 || diffLen < 0 || 32 + ctrlLen + diffLen > bytes.length) {
    throw badPatch(`BSDIFF40 block lengths ${ctrlLen}/${diffLen} do not fit the ${bytes.length}-byte file`);
  }
  checkNewSize(newSize, maxSize);
  const ctrlEnd = 32 + ctrlLen;
  const diffEnd = ctrlEnd + diffLen;

  const parser = new TripleParser(newSize);
  bunzip2(bytes.subarray(32, ctrlEnd), parser, 'control block');
  parser.finish('control block');
  const ctrl = Int32Array.from(parser.triples);

  let addTotal = 0;
  for (let t = 0; t < ctrl.length; t += 3) addTotal += ctrl[t];
  const diff = new GrowBuffer(addTotal, 'diff block');
  bunzip2(bytes.subarray(ctrlEnd, diffEnd), diff, 'diff block');
  const extra = new GrowBuffer(newSize - addTotal, 'extra block');
  bunzip2(bytes.subarray(diffEnd), extra, 'extra block');
  if (diff.length !== addTotal || extra.length !== newSize - addTotal) {
    throw badPatch(`diff/extra blocks hold ${diff.length}/${extra.length} bytes, control says ${addTotal}/${newSize - addTotal}`);
  }
  return { format: 'bsdiff40', newSize, delta: { ctrl, diff: diff.result(), extra: extra.result() } };
}

function decodeBsdiff43(bytes: Uint8Array, maxSize: number): ClassicPatch {
  if (bytes.length < 24) throw badPatch(`ENDSLEY/BSDIFF43 header truncated (${bytes.length} of 24 bytes)`);
  // The size field is LE sign-magnitude (mendsley) or BE (icedream/go-bsdiff).
  // Real sizes leave the far end's bytes zero, so usually one reading is
  // plausible; if both are, the stream itself decides.
  const candidates: Array<['offtin' | 'big-endian', number]> = [
    ['offtin', offtin(bytes, 16)],
    ['big-endian', bigEndianU64(bytes, 16)],
  ];
  const plausible = candidates.filter(([, size], i) => size >= 0 && size <= maxSize && (i === 0 || size !== candidates[0][1]));
  if (plausible.length === 0) throw badPatch(`declared new size is negative or exceeds the limit of ${maxSize} bytes`);
  let firstError: unknown;
  for (const [sizeEncoding, newSize] of plausible) {
    try {
      return { format: 'bsdiff43', sizeEncoding, newSize, delta: decode43Stream(bytes.subarray(24), newSize) };
    } catch (err) {
      firstError ??= err;
    }
  }
  throw firstError;
}

function decode43Stream(stream: Uint8Array, newSize: number): Delta {
  const body = { diff: new GrowBuffer(newSize, 'patch stream'), extra: new GrowBuffer(newSize, 'patch stream') };
  const parser = new TripleParser(newSize, body);
  bunzip2(stream, parser, 'patch stream');
  parser.finish('patch stream');
  return { ctrl: Int32Array.from(parser.triples), diff: body.diff.result(), extra: body.extra.result() };
}

function checkNewSize(newSize: number, maxSize: number): void {
  if (newSize < 0) throw badPatch(`negative new size ${newSize}`);
  if (newSize > maxSize) {
    throw badPatch(`declared new size ${newSize} bytes exceeds the limit of ${maxSize} bytes`);
  }
}
