/**
 * The patch container's framing: a magic, then frames read strictly front to
 * back (no seeking, so apply can read a pipe).
 *
 *   file  = "DPATCH" 0x00 version(1 byte)  frame*
 *   frame = type(1) length(u32 LE) payload(length) crc32(u32 LE, over type, length, payload)
 *
 * A frame is checked whole before any of it is used, and its declared length
 * is checked against MAX_FRAME before anything is allocated for it.
 * Memory: the reader holds one frame (at most MAX_FRAME) plus one input chunk.
 */
import { ErrorCode, PatcherError, badPatch } from '../../errors.js';
import { crc32 } from '../crc32.js';

export const PATCH_MAGIC = new Uint8Array([0x44, 0x50, 0x41, 0x54, 0x43, 0x48, 0x00]); // "DPATCH\0"
/**
 * Version 2: the header names both identities of each image (config digest,
 * manifest digest); GZIP frames carry a .gz file inside a changed layer
 * rebuilt through its exact form (gzip-entry.ts); entry records with
 * `goGzip` rebuild a gzip layer blob by re-compressing its tar (records.ts).
 * Version 3: WINDOW frames carry code ranges (window.ts): machine code of
 * ELF files diffed with absolute branch targets (core/code-filter.ts); a
 * GZIP frame's structure may also be diffed against zlib's parse of the
 * new text (its `model`, gzip-entry.ts).
 * A reader refuses every other version.
 */
export const FORMAT_VERSION = 3;
/** Largest frame a reader accepts: a window's compressed sections stay far below. */
export const MAX_FRAME = 256 * 1024 * 1024;

export const FrameType = {
  Header: 1,
  Entry: 2,
  Literal: 3,
  Window: 4,
  End: 5,
  Gzip: 6,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const FRAME_NAMES: Record<number, string> = { 1: 'header', 2: 'entry', 3: 'literal', 4: 'window', 5: 'end', 6: 'gzip' };

export interface Frame {
  type: FrameType;
  payload: Uint8Array;
  /** Bytes the frame took in the file (framing included). */
  size: number;
}

/** Encode one frame. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 9);
  const view = new DataView(out.buffer);
  out[0] = type;
  view.setUint32(1, payload.length, true);
  out.set(payload, 5);
  view.setUint32(payload.length + 5, crc32(out.subarray(0, payload.length + 5)), true);
  return out;
}

export function encodeMagic(): Uint8Array {
  const out = new Uint8Array(PATCH_MAGIC.length + 1);
  out.set(PATCH_MAGIC);
  out[PATCH_MAGIC.length] = FORMAT_VERSION;
  return out;
}

/** A read's first buffer; it doubles as bytes arrive, up to the count asked for. */
const FIRST_READ = 1024 * 1024;

/** Pulls exact byte counts out of an async chunk stream. */
export class ByteReader {
  readonly #it: AsyncIterator<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #at = 0;
  /** Bytes consumed so far. */
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Uint8Array> {
    const have = this.#chunk.length - this.#at;
    if (have >= n) {
      const out = this.#chunk.subarray(this.#at, this.#at + n);
      this.#at += n;
      this.offset += n;
      return out;
    }
    // Sized by what arrives, not by what was asked: a frame that claims
    // 256 MiB and then ends costs only the bytes actually sent.
    let out = new Uint8Array(Math.min(n, FIRST_READ));
    let filled = 0;
    while (filled < n) {
      if (this.#at >= this.#chunk.length) {
        const next = await this.#it.next();
        if (next.done) break;
        this.#chunk = next.value;
        this.#at = 0;
        continue;
      }
      const take = Math.min(n - filled, this.#chunk.length - this.#at);
      if (filled + take > out.length) {
        const grown = new Uint8Array(Math.min(n, Math.max(filled + take, out.length * 2)));
        grown.set(out.subarray(0, filled));
        out = grown;
      }
      out.set(this.#chunk.subarray(this.#at, this.#at + take), filled);
      this.#at += take;
      filled += take;
    }
    this.offset += filled;
    return filled === n ? out : out.subarray(0, filled);
  }

  /** Stop the underlying stream (e.g. after an error). */
  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

/** Reads and checks the magic, then yields verified frames. */
export class FrameReader {
  readonly #input: ByteReader;
  #count = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#input = new ByteReader(source);
  }

  get offset(): number {
    return this.#input.offset;
  }

  async readMagic(): Promise<void> {
    const head = await this.#input.read(PATCH_MAGIC.length + 1);
    if (head.length < PATCH_MAGIC.length || !PATCH_MAGIC.every((b, i) => head[i] === b)) {
      throw new PatcherError(ErrorCode.BadPatch, 'not a docker-patcher image patch (bad magic)');
    }
    if (head.length < PATCH_MAGIC.length + 1) throw badPatch('truncated after the magic');
    if (head[PATCH_MAGIC.length] !== FORMAT_VERSION) {
      throw new PatcherError(ErrorCode.BadPatch, `unsupported patch format version ${head[PATCH_MAGIC.length]}; this docker-patcher reads version ${FORMAT_VERSION}`);
    }
  }

  /** The next frame, verified; null at a clean end of stream. */
  async next(): Promise<Frame | null> {
    const index = this.#count++;
    const head = await this.#input.read(5);
    if (head.length === 0) return null;
    if (head.length < 5) throw badPatch(`truncated in frame ${index}`);
    const type = head[0];
    const length = new DataView(head.buffer, head.byteOffset, 5).getUint32(1, true);
    if (!FRAME_NAMES[type]) throw badPatch(`frame ${index} has unknown type ${type}`);
    if (length > MAX_FRAME) throw badPatch(`frame ${index} claims ${length} bytes (limit ${MAX_FRAME})`);
    const rest = await this.#input.read(length + 4);
    if (rest.length < length + 4) throw badPatch(`truncated in frame ${index} (${FRAME_NAMES[type]})`);
    const stored = new DataView(rest.buffer, rest.byteOffset + length, 4).getUint32(0, true);
    if (crc32(rest.subarray(0, length), crc32(head)) !== stored) {
      throw badPatch(`frame ${index} (${FRAME_NAMES[type]}) checksum mismatch`);
    }
    return { type: type as FrameType, payload: rest.subarray(0, length), size: length + 9 };
  }

  async close(): Promise<void> {
    await this.#input.close();
  }
}

export function frameName(type: number): string {
  return FRAME_NAMES[type] ?? `type ${type}`;
}
