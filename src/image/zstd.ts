/**
 * Zstandard decoding for layers stored zstd-compressed (read to index an old
 * layer and to check a layer's diff_id; never re-encoded). The decoding is
 * fzstd's; in front of it a walker over the frame and block headers (RFC
 * 8878, sections 3.1.1 and 3.1.1.2) refuses a frame whose window is over
 * MAX_ZSTD_WINDOW before fzstd allocates it (a frame header names its
 * window, and a hostile one may name 2 GiB), and bounds the decoding work:
 * fzstd moves its whole window once per block, so a stream of tiny blocks
 * under a big window (or a decompression bomb) would run for hours. The
 * work, window plus output per block, may be at most ZSTD_WORK_PER_BYTE
 * times the bytes read plus ZSTD_WORK_BASE.
 *
 * Memory: the frame's window (at most MAX_ZSTD_WINDOW; what the compressor
 * chose, about 2 MiB at zstd's default level) plus one block's
 * output (128 KiB) and the input piece pushed.
 */
import { Decompress } from 'fzstd';

/**
 * Largest window a zstd frame may name here, 128 MiB (window log 27): what
 * the zstd CLI itself decodes unless given --memory or --long=N; levels
 * 1-19 use 8 MiB or less. A frame near the limit decoded to wrong bytes
 * with fzstd 0.1.1 in our checks (`--long=27`): the diff_id check after
 * decoding is what catches that, as it catches any corrupt layer.
 */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/**
 * Decoding work allowed per compressed byte and up front (bytes moved:
 * a block's window plus its output). zstd -3 of a layer tar asks about
 * 50 per byte; a hostile 7 MB blob at the bound costs about 10 s of
 * memory moves, not hours. A layer of long zero runs under a big window may
 * need more and is then refused (one line), never decoded for hours.
 */
export const ZSTD_WORK_PER_BYTE = 16384;
export const ZSTD_WORK_BASE = 1024 * 1024 * 1024;
/** Largest block output (RFC 8878: Block_Maximum_Size). */
const MAX_BLOCK = 128 * 1024;

const ZSTD_MAGIC = 0xfd2fb528;
const isSkippable = (magic: number) => magic >>> 4 === 0x184d2a5;

/** What the walker reads next: a header of `need` bytes, or (skip) payload bytes it passes over. */
type State = 'magic' | 'skippable' | 'frame' | 'block' | 'checksum' | 'skip';
const HEADER_BYTES: Record<Exclude<State, 'skip'>, number> = { magic: 4, skippable: 4, frame: 1, block: 3, checksum: 4 };

/** Frame and block boundaries of a zstd stream pushed in pieces; throws on a bad header or an oversized window. */
class FrameWalker {
  #state: State = 'magic';
  #header: number[] = [];
  #need = HEADER_BYTES.magic;
  #skip = 0;
  /** Where a skip ends. */
  #then: Exclude<State, 'skip'> = 'magic';
  #checksum = false;
  #window = 0;
  #consumed = 0;
  #work = 0;

  /** Between frames (where the stream may end). */
  get atBoundary(): boolean {
    return this.#state === 'magic' && this.#header.length === 0;
  }

  push(chunk: Uint8Array): void {
    this.#consumed += chunk.length;
    for (let at = 0; at < chunk.length; ) {
      if (this.#state === 'skip') {
        const n = Math.min(this.#skip, chunk.length - at);
        [this.#skip, at] = [this.#skip - n, at + n];
        if (this.#skip === 0) this.#go(this.#then);
        continue;
      }
      this.#header.push(chunk[at++]);
      if (this.#header.length === this.#need) this.#read(this.#header);
    }
  }

  #go(state: Exclude<State, 'skip'>): void {
    [this.#state, this.#need, this.#header] = [state, HEADER_BYTES[state], []];
  }

  /** Pass over `n` bytes, then read `then`. */
  #skipThen(n: number, then: Exclude<State, 'skip'>): void {
    if (n === 0) return this.#go(then);
    [this.#state, this.#skip, this.#then, this.#header] = ['skip', n, then, []];
  }

  #read(h: number[]): void {
    const le = (from: number, n: number) => h.slice(from, from + n).reduceRight((v, b) => v * 256 + b, 0);
    switch (this.#state) {
      case 'magic': {
        const magic = le(0, 4) >>> 0;
        if (isSkippable(magic)) return this.#go('skippable');
        if (magic !== ZSTD_MAGIC) throw new Error('not a zstd frame');
        return this.#go('frame');
      }
      case 'skippable':
        return this.#skipThen(le(0, 4), 'magic');
      case 'frame':
        return this.#frameHeader(h, le);
      case 'block': {
        const v = le(0, 3);
        const [last, type, size] = [v & 1, (v >> 1) & 3, v >>> 3];
        if (type === 3) throw new Error('reserved zstd block type');
        this.#work += this.#window + (type === 2 ? Math.min(this.#window, MAX_BLOCK) : size);
        if (this.#work > ZSTD_WORK_PER_BYTE * this.#consumed + ZSTD_WORK_BASE) {
          throw new Error(`the stream asks for more decoding work than its ${this.#consumed} bytes allow (blocks under a ${this.#window}-byte window)`);
        }
        const then = !last ? 'block' : this.#checksum ? 'checksum' : 'magic';
        return this.#skipThen(type === 1 ? 1 : size, then);
      }
      default: // checksum
        return this.#go('magic');
    }
  }

  /** Frame header without its magic: descriptor (1), window descriptor, dictionary ID, content size. */
  #frameHeader(h: number[], le: (from: number, n: number) => number): void {
    const fhd = h[0];
    if (fhd & 8) throw new Error('zstd frame header has its reserved bit set');
    const single = (fhd >> 5) & 1;
    const sizeBytes = [single, 2, 4, 8][fhd >> 6];
    const length = 1 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + sizeBytes;
    if (h.length < length) return void (this.#need = length);
    let window: number;
    if (single) window = le(length - sizeBytes, sizeBytes) + (sizeBytes === 2 ? 256 : 0);
    else {
      const base = 2 ** (10 + (h[1] >> 3));
      window = base + (base / 8) * (h[1] & 7);
    }
    if (window > MAX_ZSTD_WINDOW) throw new Error(`a frame's window is ${window} bytes, over the ${MAX_ZSTD_WINDOW} read here`);
    this.#checksum = ((fhd >> 2) & 1) === 1;
    this.#window = window;
    this.#go('block');
  }
}

/** A streaming zstd decoder (one or more frames) with fflate's push/ondata shape. */
export class ZstdDecoder {
  readonly #walker = new FrameWalker();
  readonly #decoder: Decompress;

  constructor(ondata: (data: Uint8Array) => void) {
    this.#decoder = new Decompress((data) => data.length && ondata(data));
  }

  /** Decode `chunk`; `final` when it is the last. Throws on corrupt or unsupported data. */
  push(chunk: Uint8Array, final = false): void {
    this.#walker.push(chunk);
    if (final && !this.#walker.atBoundary) throw new Error('zstd data ends inside a frame');
    this.#decoder.push(chunk, final);
  }
}
