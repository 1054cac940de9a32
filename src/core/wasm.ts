/**
 * The one place that touches the WASM instance, its exports and its memory.
 *
 * Memory budget (bytes), for old size n and new size m:
 *   diff:  old n + SA 4n + new m + extra m + 256 KiB prefix table
 *          + 192 KiB of control chunk,
 *          plus SA-IS scratch: n/8 + 2 KiB, up to ~1.2n more when every
 *          LMS substring repeats (sais.ts), which the search's sampled
 *          keys (n/8) reuse after the sort   => 5.2n + 2m (at worst 6.4n + 2m)
 *          The diff bytes are written over new (see prepareDiff), and only
 *          the extra bytes made are touched: resident is about 5.2n + m.
 *   patch: old n + ctrl (12 per triple) + diff + extra + one output chunk
 *          (with output code ranges: the whole output m, filtered in place)
 *   code filter: in place, nothing more (filterCode: the buffer's size)
 *   inflateExact/gunzipExact of n compressed bytes: n + text + structure,
 *          where text <= maxOutput and structure <= maxStructure (the
 *          caller's budget; capacities start at max(4n, gzip ISIZE) and
 *          1.25n and double on demand, so at most 2x each part, never past
 *          the budget) + 70 KiB of static tables
 *   deflateExact/gzipExact: text t + structure s + output (<= 2t + 4s + 1 KiB)
 *   goDeflateExact/goGzipExact: text t + output (<= 1.125t + 1 KiB) + 900 KiB;
 *          goGzipParams: gunzipExact's, then text + the compressed bytes + 900 KiB
 *   zlibPredict of text t: t + cap + 256 KiB
 *   goDeflateStream/goGzipStream: 32 KiB of text in, 256 KiB of output,
 *          900 KiB of hash chains and tokens, a 96 KiB window: ~1.3 MiB
 *          whatever the text size
 * WASM memory never shrinks: a core's memory is the high-water mark of the
 * largest call it served. Make a new core (loadCore) to start small again.
 *
 * Not re-entrant: one diff or patch at a time per core. Workers each load
 * their own. (A little over 400 lines: every export of the core is wrapped
 * here, the one boundary, by design.)
 */
import type { Delta } from './delta.js';
import { compileCoreModule } from './load.node.js';
import { ErrorCode, PatcherError, badImage, badPatch } from '../errors.js';
import { checkCodeRanges, type CodeFilters, type CodeRange } from './code-filter.js';

export interface DiffCore {
  /** Suffix array of `text` (used by tests): SA[i] = start of the i-th smallest suffix. */
  suffixArray(text: Uint8Array): Int32Array;
  /**
   * bsdiff delta turning `old` into `neu`. With `views`, diff and extra are
   * views into the core's memory, valid until its next call: no second copy
   * of up to `neu.length` bytes (the single-file CLI on big inputs).
   */
  diff(old: Uint8Array, neu: Uint8Array, options?: DiffOptions): Delta;
  /**
   * diff() for inputs the caller reads straight into the core's memory:
   * fill `old` and `neu` (views into its memory, see PreparedDiff), then
   * run(). Big inputs are then held once, not twice. Nothing may use the
   * core in between.
   */
  prepareDiff(oldSize: number, newSize: number): PreparedDiff;
  /** Apply a delta; throws PatcherError (code BAD_PATCH) on a hostile or inconsistent delta. */
  patch(old: Uint8Array, delta: Delta, newSize: number): Uint8Array;
  /**
   * Same, yielding output in chunks of at most chunkSize bytes. Each chunk
   * is a view into the core's memory, valid until the next step: copy it to
   * keep it (apply writes each one out at once, so no copy is made).
   */
  patchChunks(old: Uint8Array, delta: Delta, newSize: number, chunkSize?: number): Generator<Uint8Array>;
  /**
   * patchChunks for a reference the caller reads straight into the core's
   * memory: returns that region (fill it, then call start()) so a window's
   * old bytes are never held twice. Nothing may use the core in between.
   */
  preparePatch(refLength: number, delta: Delta, newSize: number, chunkSize?: number, code?: CodeFilters): PreparedPatch;
  /**
   * Rewrite the code in `ranges` of `bytes` in place: branch targets made
   * absolute (encode) or relative again (codefilter.ts). Copies through the
   * core's memory; diff and preparePatch filter without the copies.
   */
  filterCode(bytes: Uint8Array, ranges: readonly CodeRange[], encode: boolean): void;
  /**
   * Decode a raw deflate stream (and any bytes after it) into its exact
   * form (layout: assembly/deflate.ts). Throws PatcherError BAD_IMAGE when
   * the stream is invalid or needs more than the budget.
   */
  inflateExact(bytes: Uint8Array, budget: ExactBudget): ExactForm;
  /** The bytes inflateExact decoded, rebuilt bit for bit. Throws BAD_PATCH on a malformed form. */
  deflateExact(form: ExactForm, sizeHint?: number): Uint8Array;
  /** inflateExact for gzip data: every member (header as found, trailer checked) and trailing bytes. */
  gunzipExact(bytes: Uint8Array, budget: ExactBudget): ExactForm;
  /** The bytes gunzipExact decoded, rebuilt bit for bit. Throws BAD_PATCH on a malformed form. */
  gzipExact(form: ExactForm, sizeHint?: number): Uint8Array;
  /**
   * The exact form of `bytes` when it is eligible: it decodes within the
   * budget and re-encodes to the identical bytes. Otherwise null (the
   * caller treats the bytes as opaque).
   */
  exactForm(bytes: Uint8Array, format: 'deflate' | 'gzip', budget: ExactBudget): ExactForm | null;
  /**
   * Raw deflate of `text` exactly as Go's compress/flate writes it at
   * `level` (-2..9; -1 = 6) in one stream closed with Close() and never
   * flushed (checked against Go 1.19, which dockerd 20.10 on Debian uses).
   */
  goDeflateExact(text: Uint8Array, params: GoFlateParams): Uint8Array;
  /** A gzip member as Go's compress/gzip writes it (header bytes from params, or Go's default header). */
  goGzipExact(text: Uint8Array, params: GoFlateParams): Uint8Array;
  /**
   * goDeflateExact fed its text in pieces: the same bytes, bit for bit,
   * holding only what Go's encoder holds (its 64 KiB window, hash chains,
   * the pending block), about 1.3 MiB of core memory whatever the text
   * size. Nothing else may use this core until end() returns.
   */
  goDeflateStream(params: GoFlateParams): GoDeflateStream;
  /** goGzipExact fed its text in pieces (as goDeflateStream; apply rebuilds a gzip layer blob so). */
  goGzipStream(params: GoFlateParams): GoDeflateStream;
  /**
   * The parameters under which goGzipExact rebuilds `bytes` byte for byte
   * (one gzip member, nothing after it), or null when none does (or the
   * stream is invalid or over the budget).
   */
  goGzipParams(bytes: Uint8Array, budget: ExactBudget): GoGzipMatch | null;
  /** Where the last comparison goGzipParams made (its last level) first differed, or -1. */
  goFirstDiff(): number;
  /**
   * zlib's LZ77 parse of `text` at `level` (1-9) in the structure stream's
   * token syntax, no block headers (assembly/lazyparse.ts): a prediction
   * to diff a zlib-made stream's structure against. At most `cap` bytes
   * (a longer prediction is cut there).
   */
  zlibPredict(text: Uint8Array, level: number, cap: number): Uint8Array;
  /** Current size of the WASM linear memory in bytes (it never shrinks: this is the peak). */
  memoryBytes(): number;
}

/** What Go's compressor needs besides the text. */
export interface GoFlateParams {
  /** compress/flate level: -2 (Huffman only), 0 (stored), 1..9, or -1 (= 6). */
  level: number;
  /** gzip only: the member header as written (10 bytes unless FLG adds fields); default Go's for `level`. */
  header?: Uint8Array;
}

/** goGzipParams' answer: the parameters and the text they compress. */
export interface GoGzipMatch {
  params: GoFlateParams & { header: Uint8Array };
  text: Uint8Array;
}

/** Go's deflate (or gzip) of a text that arrives in pieces. */
export interface GoDeflateStream {
  /**
   * Compress the next bytes of text; yields the compressed bytes this made
   * (possibly none), each a view into the core's memory valid until the
   * next step: write each out (or copy it) before going on.
   */
  write(text: Uint8Array): Generator<Uint8Array>;
  /** The end of the text: the rest of the stream (never empty: at least Close's final block), a view valid until the core's next call. */
  end(): Uint8Array;
}

export interface DiffOptions {
  /** Return diff and extra as views into the core's memory (valid until its next call) instead of copies. */
  views?: boolean;
  /**
   * Code to filter before the search (code-filter.ts): the delta then turns
   * the filtered old bytes into the filtered new ones, and its patch needs
   * the same ranges (preparePatch's `code`). Costs nothing in memory.
   */
  code?: CodeFilters;
}

export interface PreparedDiff {
  /**
   * Where the old bytes go (a fresh view at each read, valid until the
   * core's memory grows). After run() it holds them as the search saw them
   * (filtered, with DiffOptions.code), until the core's next call.
   */
  readonly old: Uint8Array;
  /** Where the new bytes go (a fresh view, as `old`); run() writes the diff bytes over them. */
  readonly neu: Uint8Array;
  run(options?: DiffOptions): Delta;
}

export interface PreparedPatch {
  /** Where the reference goes: a view into the core's memory, valid until start(). */
  reference: Uint8Array;
  /** Filters the reference (when code was given) and starts bspatch; with output code ranges, yields the whole output as one chunk, restored. */
  start(): Generator<Uint8Array>;
}

/** A deflate or gzip stream split for diffing: the plain text and everything else. */
export interface ExactForm {
  /** The decompressed bytes. */
  text: Uint8Array;
  /** Block headers, Huffman headers, token shapes, padding, gzip headers, trailing bytes. */
  structure: Uint8Array;
}

/** Limits for decoding untrusted compressed data into an exact form. */
export interface ExactBudget {
  /** Most decompressed bytes accepted (bytes of WASM memory); more is an error. Below 2^31. */
  maxOutput: number;
  /** Most structure bytes accepted; 0.6-1.0x the compressed size is typical, about 24x the worst case. */
  maxStructure: number;
}

interface CoreExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  suffixSort(text: number, n: number, sa: number, scratch: number): number;
  diffBegin(old: number, oldSize: number, sa: number, buckets: number, neu: number, newSize: number, diff: number, extra: number, samples: number): void;
  diffRun(ctrl: number, cap: number): number;
  diffDone(): number;
  diffBytes(): number;
  extraBytes(): number;
  patchBegin(old: number, oldSize: number, ctrl: number, triples: number, diff: number, diffSize: number,
    extra: number, extraSize: number, newSize: number): void;
  patchRun(out: number, cap: number): number;
  inflateExact(inp: number, n: number, text: number, textCap: number, st: number, stCap: number): number;
  gunzipExact(inp: number, n: number, text: number, textCap: number, st: number, stCap: number): number;
  exactTextBytes(): number;
  exactStructureBytes(): number;
  deflateExact(text: number, textLen: number, st: number, stLen: number, out: number, outCap: number): number;
  gzipExact(text: number, textLen: number, st: number, stLen: number, out: number, outCap: number): number;
  goDeflate(src: number, n: number, level: number, out: number, outCap: number, check: number, scratch: number): number;
  goGzip(src: number, n: number, level: number, hdr: number, hdrLen: number, out: number, outCap: number, check: number, scratch: number): number;
  goFirstDiff(): number;
  zlibPredict(src: number, n: number, level: number, dst: number, cap: number, scratch: number): number;
  codeFilter(buf: number, start: number, end: number, kind: number, fileOffset: number, encode: number): number;
  sha256Init(ctx: number): void;
  sha256Update(ctx: number, data: number, len: number): void;
  sha256Final(ctx: number, out: number): void;
  goStreamBegin(level: number, hdr: number, hdrLen: number, scratch: number): number;
  goStreamWrite(src: number, n: number, out: number, outCap: number): number;
  goStreamEnd(out: number, outCap: number): number;
}

/** Levels goflate.ts models, most likely first (Go's default, then its neighbours). */
const GO_LEVELS = [6, 5, 7, 8, 4, 3, 2, 9, 1, 0, -2];
/** Scratch goflate.ts takes above the caller's layout (hash heads, chain links, tokens) and some slack. */
const GO_SCRATCH = 896 * 1024 + 4096;
/** goflate-stream.ts: text bytes per call, the output one call may write at most (see there), its window. */
const GO_STREAM_IN = 32 * 1024;
const GO_STREAM_OUT = 256 * 1024;
const GO_STREAM_WINDOW = 96 * 1024 + 64;

/** Go's gzip header for a level: no name, no mtime, XFL 2 at level 9 (4 at 1), OS 255. */
export function goDefaultHeader(level: number): Uint8Array {
  return Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level === 9 ? 2 : level === 1 ? 4 : 0, 255);
}

/** Length of the gzip member header at the start of `b`, or -1 when it is not one. */
function gzipHeaderLength(b: Uint8Array): number {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8 || (b[3] & 0xe0) !== 0) return -1;
  const flg = b[3];
  let h = 10;
  if (flg & 4) {
    if (h + 2 > b.length) return -1;
    h += 2 + (b[h] | (b[h + 1] << 8));
  }
  for (const bit of [8, 16]) {
    if (!(flg & bit)) continue;
    while (h < b.length && b[h] !== 0) h++;
    h++;
  }
  if (flg & 2) h += 2;
  return h <= b.length ? h : -1;
}

/** Triples per diffRun call: 192 KiB of control buffer. */
const CTRL_CHUNK = 16384;
const DEFAULT_PATCH_CHUNK = 1 << 20;
const MAX_MEMORY = 4 * 1024 * 1024 * 1024 - 65536;

const PATCH_ERRORS: Record<number, string> = {
  [-1]: 'a control triple has a negative length or runs past the new size',
  [-2]: 'a control triple needs more diff bytes than the patch holds',
  [-3]: 'a control triple needs more extra bytes than the patch holds',
  [-4]: 'control triples end before the new size is reached',
  [-5]: 'diff or extra bytes left over after the last triple',
  [-6]: 'a control triple seeks outside the addressable range',
};

/** Codes of assembly/deflate.ts. -7, -8 and -12 (capacity) are handled by retrying. */
const DEFLATE_ERRORS: Record<number, string> = {
  [-1]: 'the stream is truncated',
  [-2]: 'a block has the reserved type 3',
  [-3]: "a stored block's NLEN is not the complement of LEN",
  [-4]: 'invalid Huffman code lengths (count out of range, over-subscribed, or a bad repeat)',
  [-5]: "a code the block's Huffman table does not have",
  [-6]: 'a match reaches before the start of the data',
  [-9]: 'not a gzip member (magic, method or reserved flags)',
  [-10]: 'a gzip member CRC32 does not match its data',
  [-11]: 'a gzip member ISIZE does not match its data',
  [-12]: 'the output would pass its size bound',
  [-13]: 'malformed structure',
  [-14]: 'structure and text disagree',
};
const E_TEXT_FULL = -7;
const E_STRUCT_FULL = -8;
const E_OUT_FULL = -12;

let modulePromise: Promise<WebAssembly.Module> | undefined;

async function instantiate(): Promise<CoreExports> {
  modulePromise ??= compileCoreModule();
  const instance = await WebAssembly.instantiate(await modulePromise, {
    env: {
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new PatcherError(ErrorCode.Core, `diff core aborted at ${line}:${column}`);
      },
    },
  });
  return instance.exports as unknown as CoreExports;
}

/** A fresh core instance (the compiled module is shared). */
export async function loadCore(): Promise<DiffCore> {
  return new WasmCore(await instantiate());
}

/** The core's incremental sha256 (assembly/sha256.ts); the shape of image/hash.ts's Hasher. */
export interface CoreHasher {
  update(bytes: Uint8Array): void;
  /** The digest as 'sha256:<64 hex digits>'. Call once. */
  digest(): string;
}

/** Bytes of a sha256 context (assembly/sha256.ts SHA256_CTX_BYTES). */
const SHA256_CTX = 112;
/** Input copied into the hashing instance per call: bounds its memory at about this plus 64 KiB. */
const SHA256_CHUNK = 256 * 1024;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A sha256 factory on an instance of the core of its own (never a DiffCore's,
 * whose layout hashing would overwrite). Each hasher keeps its 112-byte
 * context in JS and copies it in and out around each update, so any number
 * may be open at once. Memory: the instance's static data, one context and
 * one SHA256_CHUNK of input (about 400 KiB in all).
 */
export async function loadSha256(): Promise<() => CoreHasher> {
  const ex = await instantiate();
  const ctxPtr = align16(ex.heapBase());
  const dataPtr = ctxPtr + 128;
  const needed = dataPtr + SHA256_CHUNK;
  const have = ex.memory.buffer.byteLength;
  if (needed > have) ex.memory.grow(Math.ceil((needed - have) / 65536));
  // Views stay valid: this instance's memory never grows again.
  const ctx = new Uint8Array(ex.memory.buffer, ctxPtr, SHA256_CTX);
  const data = new Uint8Array(ex.memory.buffer, dataPtr, SHA256_CHUNK);
  ex.sha256Init(ctxPtr);
  const initial = ctx.slice();
  return () => {
    const state = initial.slice();
    let finished = false;
    return {
      update(bytes: Uint8Array): void {
        if (finished) throw new Error('sha256: update() after digest()');
        ctx.set(state);
        for (let at = 0; at < bytes.length; at += SHA256_CHUNK) {
          const n = Math.min(SHA256_CHUNK, bytes.length - at);
          data.set(n === bytes.length ? bytes : bytes.subarray(at, at + n));
          ex.sha256Update(ctxPtr, dataPtr, n);
        }
        state.set(ctx);
      },
      digest(): string {
        if (finished) throw new Error('sha256: digest() called twice');
        finished = true;
        ctx.set(state);
        ex.sha256Final(ctxPtr, dataPtr);
        let hex = 'sha256:';
        for (let i = 0; i < 32; i++) hex += HEX[data[i]];
        return hex;
      },
    };
  };
}

function checkGoInput(level: number, textSize: number): void {
  if (!Number.isInteger(level) || level < -2 || level > 9) {
    throw new PatcherError(ErrorCode.Usage, `Go deflate level ${level} does not exist (want -2..9)`);
  }
  if (!Number.isSafeInteger(textSize) || textSize < 0 || textSize > 0x7fffffff) throw new PatcherError(ErrorCode.Usage, 'text too large for the Go deflate model');
}

function checkNewSize(newSize: number): void {
  if (!Number.isSafeInteger(newSize) || newSize < 0 || newSize > 0x7fffffff) throw badPatch(`new size ${newSize} out of range`);
}

const align16 = (x: number): number => (x + 15) & ~15;

/** Byte equality without node:buffer (the core also runs in browsers). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class WasmCore implements DiffCore {
  readonly #ex: CoreExports;
  readonly #base: number;

  constructor(exports: CoreExports) {
    this.#ex = exports;
    this.#base = exports.heapBase();
  }

  memoryBytes(): number {
    return this.#ex.memory.buffer.byteLength;
  }

  /** Grow the memory so that [0, end) is addressable. */
  #reserve(end: number): void {
    if (end > MAX_MEMORY) {
      throw new PatcherError(ErrorCode.Core, `input too large for the diff core: needs ${end} bytes of WASM memory (4 GiB at most)`);
    }
    const have = this.#ex.memory.buffer.byteLength;
    if (end <= have) return;
    try {
      this.#ex.memory.grow(Math.ceil((end - have) / 65536));
    } catch {
      throw new PatcherError(ErrorCode.Core, `out of memory: the diff core could not grow to ${end} bytes`);
    }
  }

  // Views are made fresh each time: growing the memory detaches old ones.
  #bytes(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.#ex.memory.buffer, ptr, length);
  }

  suffixArray(text: Uint8Array): Int32Array {
    const n = text.length;
    const textPtr = this.#base;
    const saPtr = align16(textPtr + n);
    const scratch = align16(saPtr + 4 * n);
    this.#reserve(scratch);
    this.#bytes(textPtr, n).set(text);
    if (this.#ex.suffixSort(textPtr, n, saPtr, scratch) < 0) {
      throw new PatcherError(ErrorCode.Core, 'out of memory in the suffix sort');
    }
    return new Int32Array(this.#ex.memory.buffer, saPtr, n).slice();
  }

  diff(old: Uint8Array, neu: Uint8Array, options: DiffOptions = {}): Delta {
    const prepared = this.prepareDiff(old.length, neu.length);
    prepared.old.set(old);
    prepared.neu.set(neu);
    return prepared.run(options);
  }

  prepareDiff(n: number, m: number): PreparedDiff {
    const oldPtr = this.#base;
    const saPtr = align16(oldPtr + n);
    const bucketPtr = align16(saPtr + 4 * n);
    const newPtr = align16(bucketPtr + 65537 * 4);
    // The diff bytes go over new itself: bsdiff.ts writes diff[d..d+k) from
    // new[s..s+k) with d <= s (d + extra bytes so far = s) in a forward
    // pass, and reads no new byte before s afterwards. That saves m bytes
    // (10 MB resident on a 10 MB file); diff-patch.test.ts's round trips
    // check the invariant.
    const diffPtr = newPtr;
    const extraPtr = align16(newPtr + m);
    const ctrlPtr = align16(extraPtr + m);
    const scratch = align16(ctrlPtr + CTRL_CHUNK * 12);
    this.#reserve(scratch + (n >>> 3) + 65536);
    // Getters: the suffix sort may grow the memory for scratch, which
    // detaches views made before it.
    const bytes = (ptr: number, length: number) => this.#bytes(ptr, length);
    return {
      get old() {
        return bytes(oldPtr, n);
      },
      get neu() {
        return bytes(newPtr, m);
      },
      run: (options = {}) => {
        if (options.code) {
          this.#filter(oldPtr, n, options.code.reference, true, 'reference');
          this.#filter(newPtr, m, options.code.target, true, 'target');
        }
        if (this.#ex.suffixSort(oldPtr, n, saPtr, scratch) < 0) {
          throw new PatcherError(ErrorCode.Core, 'out of memory in the suffix sort');
        }
        // The search's sampled keys (n/8 bytes) go where the suffix sort had its scratch.
        this.#ex.diffBegin(oldPtr, n, saPtr, bucketPtr, newPtr, m, diffPtr, extraPtr, scratch);
        const ctrl = this.#drainCtrl(ctrlPtr);
        const diff = this.#bytes(diffPtr, this.#ex.diffBytes());
        const extra = this.#bytes(extraPtr, this.#ex.extraBytes());
        return options.views ? { ctrl, diff, extra } : { ctrl, diff: diff.slice(), extra: extra.slice() };
      },
    };
  }

  /** Run the search to the end, collecting its control triples. */
  #drainCtrl(ctrlPtr: number): Int32Array {
    const chunks: Int32Array[] = [];
    let triples = 0;
    while (!this.#ex.diffDone()) {
      const k = this.#ex.diffRun(ctrlPtr, CTRL_CHUNK);
      chunks.push(new Int32Array(this.#ex.memory.buffer, ctrlPtr, 3 * k).slice());
      triples += k;
    }
    const ctrl = new Int32Array(3 * triples);
    let at = 0;
    for (const c of chunks) {
      ctrl.set(c, at);
      at += c.length;
    }
    return ctrl;
  }

  patch(old: Uint8Array, delta: Delta, newSize: number): Uint8Array {
    checkNewSize(newSize);
    const out = new Uint8Array(newSize);
    let at = 0;
    for (const chunk of this.patchChunks(old, delta, newSize, Math.min(Math.max(newSize, 1), 16 << 20))) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  patchChunks(old: Uint8Array, delta: Delta, newSize: number, chunkSize = DEFAULT_PATCH_CHUNK): Generator<Uint8Array> {
    const prepared = this.preparePatch(old.length, delta, newSize, chunkSize);
    prepared.reference.set(old);
    return prepared.start();
  }

  preparePatch(refLength: number, delta: Delta, newSize: number, chunkSize = DEFAULT_PATCH_CHUNK, code?: CodeFilters): PreparedPatch {
    checkNewSize(newSize);
    if (code) {
      checkCodeRanges(code.reference, refLength, 'reference');
      checkCodeRanges(code.target, newSize, 'output');
      // The inverse filter needs the whole output at once (an instruction may straddle chunks).
      if (code.target.length) chunkSize = Math.max(newSize, 1);
    }
    if (delta.ctrl.length % 3 !== 0) throw badPatch('control stream length is not a multiple of 3');
    const { ctrl, diff, extra } = delta;
    const oldPtr = this.#base;
    const ctrlPtr = align16(oldPtr + refLength);
    const diffPtr = align16(ctrlPtr + ctrl.byteLength);
    const extraPtr = align16(diffPtr + diff.length);
    const outPtr = align16(extraPtr + extra.length);
    const chunk = Math.max(1, Math.min(chunkSize, newSize || 1));
    this.#reserve(outPtr + chunk);
    // Copy the delta in now: the generator holds only pointers, so the
    // caller may drop its copies while the output streams.
    new Int32Array(this.#ex.memory.buffer, ctrlPtr, ctrl.length).set(ctrl);
    this.#bytes(diffPtr, diff.length).set(diff);
    this.#bytes(extraPtr, extra.length).set(extra);
    const triples = ctrl.length / 3;
    const [diffSize, extraSize] = [diff.length, extra.length];
    return {
      reference: this.#bytes(oldPtr, refLength),
      start: () => {
        if (code) this.#filter(oldPtr, refLength, code.reference, true, 'reference');
        this.#ex.patchBegin(oldPtr, refLength, ctrlPtr, triples, diffPtr, diffSize, extraPtr, extraSize, newSize);
        const chunks = this.#drain(outPtr, chunk);
        return code?.target.length ? this.#restored(chunks, outPtr, code.target) : chunks;
      },
    };
  }

  /** The output (one chunk: preparePatch made it whole) with its code restored. */
  *#restored(chunks: Generator<Uint8Array>, outPtr: number, ranges: readonly CodeRange[]): Generator<Uint8Array> {
    for (const out of chunks) {
      this.#filter(outPtr, out.length, ranges, false, 'output');
      yield this.#bytes(outPtr, out.length);
    }
  }

  filterCode(bytes: Uint8Array, ranges: readonly CodeRange[], encode: boolean): void {
    checkCodeRanges(ranges, bytes.length, 'buffer');
    this.#reserve(this.#base + bytes.length);
    const view = this.#bytes(this.#base, bytes.length);
    view.set(bytes);
    this.#filter(this.#base, bytes.length, ranges, encode, 'buffer');
    bytes.set(this.#bytes(this.#base, bytes.length));
  }

  /** Filter checked ranges of the `size` bytes at `ptr` in place. */
  #filter(ptr: number, size: number, ranges: readonly CodeRange[], encode: boolean, what: string): void {
    checkCodeRanges(ranges, size, what);
    for (const r of ranges) {
      const start = ptr + r.start;
      if (this.#ex.codeFilter(start, 0, r.length, r.kind, r.fileOffset >>> 0, encode ? 1 : 0) < 0) {
        throw new PatcherError(ErrorCode.Core, `code filter refused ${what} range ${r.start}+${r.length}`);
      }
    }
  }

  *#drain(outPtr: number, chunk: number): Generator<Uint8Array> {
    for (;;) {
      const r = this.#ex.patchRun(outPtr, chunk);
      if (r < 0) throw badPatch(PATCH_ERRORS[r] ?? `bspatch error ${r}`);
      if (r === 0) return;
      yield this.#bytes(outPtr, r);
    }
  }

  inflateExact(bytes: Uint8Array, budget: ExactBudget): ExactForm {
    return this.#decodeExact(bytes, budget, false);
  }

  gunzipExact(bytes: Uint8Array, budget: ExactBudget): ExactForm {
    return this.#decodeExact(bytes, budget, true);
  }

  deflateExact(form: ExactForm, sizeHint?: number): Uint8Array {
    return this.#encodeExact(form, false, sizeHint);
  }

  gzipExact(form: ExactForm, sizeHint?: number): Uint8Array {
    return this.#encodeExact(form, true, sizeHint);
  }

  exactForm(bytes: Uint8Array, format: 'deflate' | 'gzip', budget: ExactBudget): ExactForm | null {
    const gzip = format === 'gzip';
    try {
      const form = this.#decodeExact(bytes, budget, gzip);
      const again = this.#encodeExact(form, gzip, bytes.length);
      return sameBytes(again, bytes) ? form : null;
    } catch (err) {
      if (err instanceof PatcherError) return null;
      throw err;
    }
  }

  goDeflateExact(text: Uint8Array, params: GoFlateParams): Uint8Array {
    return this.#goEncode(text, params, null, null) as Uint8Array;
  }

  zlibPredict(text: Uint8Array, level: number, cap: number): Uint8Array {
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new PatcherError(ErrorCode.Core, `zlib prediction level ${level} is not 1-9`);
    const n = text.length;
    const textPtr = this.#base;
    // The parse compares up to 258 bytes past a position: zeros after the text.
    const dstPtr = align16(textPtr + n + 272);
    const scratch = align16(dstPtr + cap);
    this.#reserve(scratch + (256 << 10) + 64);
    this.#bytes(textPtr, n).set(text);
    this.#bytes(textPtr + n, dstPtr - textPtr - n).fill(0);
    const r = this.#ex.zlibPredict(textPtr, n, level, dstPtr, cap, scratch);
    if (r < 0) throw new PatcherError(ErrorCode.Core, 'out of memory in the zlib prediction');
    return this.#bytes(dstPtr, r).slice();
  }

  goGzipExact(text: Uint8Array, params: GoFlateParams): Uint8Array {
    return this.#goEncode(text, params, params.header ?? goDefaultHeader(params.level), null) as Uint8Array;
  }

  goGzipParams(bytes: Uint8Array, budget: ExactBudget): GoGzipMatch | null {
    const h = gzipHeaderLength(bytes);
    if (h < 0) return null;
    let text: Uint8Array;
    try {
      text = this.#decodeExact(bytes, budget, true).text;
    } catch (err) {
      if (err instanceof PatcherError) return null;
      throw err;
    }
    const header = bytes.slice(0, h);
    // Go marks levels 9 and 1 in XFL: try the marked one first.
    const marked = header[8] === 2 ? 9 : header[8] === 4 ? 1 : 6;
    for (const level of [marked, ...GO_LEVELS.filter((l) => l !== marked)]) {
      if (this.#goEncode(text, { level }, header, bytes) === true) return { params: { level, header }, text };
    }
    return null;
  }

  /**
   * Go's deflate (gzip when `header` is given) of `text`. With `expect`,
   * compares instead: true when the output is exactly `expect`, else false.
   */
  #goEncode(text: Uint8Array, params: GoFlateParams, header: Uint8Array | null, expect: Uint8Array | null): Uint8Array | boolean {
    const { level } = params;
    checkGoInput(level, text.length);
    const hdr = header ?? new Uint8Array(0);
    // Go never writes more than stored blocks' 5 bytes per 16 KiB (or fixed
    // Huffman's 9 bits a byte when a block can no longer be stored).
    const cap = expect ? expect.length : hdr.length + text.length + (text.length >> 3) + 1024;
    const textPtr = this.#base;
    const hdrPtr = align16(textPtr + text.length);
    const outPtr = align16(hdrPtr + hdr.length);
    const scratch = align16(outPtr + cap);
    this.#reserve(scratch + GO_SCRATCH);
    this.#bytes(textPtr, text.length).set(text);
    this.#bytes(hdrPtr, hdr.length).set(hdr);
    if (expect) this.#bytes(outPtr, cap).set(expect);
    const check = expect ? 1 : 0;
    const r = header
      ? this.#ex.goGzip(textPtr, text.length, level, hdrPtr, hdr.length, outPtr, cap, check, scratch)
      : this.#ex.goDeflate(textPtr, text.length, level, outPtr, cap, check, scratch);
    if (expect) return r === expect.length;
    if (r < 0) throw new PatcherError(ErrorCode.Core, `Go deflate model failed (error ${r})`);
    return this.#bytes(outPtr, r).slice();
  }

  goDeflateStream(params: GoFlateParams): GoDeflateStream {
    return this.#goStream(params, null);
  }

  goGzipStream(params: GoFlateParams): GoDeflateStream {
    return this.#goStream(params, params.header ?? goDefaultHeader(params.level));
  }

  #goStream(params: GoFlateParams, header: Uint8Array | null): GoDeflateStream {
    checkGoInput(params.level, 0);
    const hdr = header ?? new Uint8Array(0);
    const inPtr = this.#base;
    const outPtr = align16(inPtr + GO_STREAM_IN);
    const hdrPtr = align16(outPtr + GO_STREAM_OUT);
    const scratch = align16(hdrPtr + hdr.length);
    this.#reserve(scratch + GO_SCRATCH + GO_STREAM_WINDOW);
    this.#bytes(hdrPtr, hdr.length).set(hdr);
    let state: 'open' | 'ended' | 'failed' = 'failed';
    const made = (r: number): Uint8Array => {
      if (r < 0) {
        state = 'failed';
        throw new PatcherError(ErrorCode.Core, `Go deflate model failed (error ${r})`);
      }
      return this.#bytes(outPtr, r);
    };
    made(this.#ex.goStreamBegin(params.level, hdrPtr, header ? hdr.length : -1, scratch));
    state = 'open';
    let size = 0;
    const ex = this.#ex;
    const bytes = (ptr: number, length: number): Uint8Array => this.#bytes(ptr, length);
    const usable = (): void => {
      if (state !== 'open') throw new PatcherError(ErrorCode.Usage, `Go deflate stream used after it ${state}`);
    };
    return {
      *write(text: Uint8Array): Generator<Uint8Array> {
        usable();
        checkGoInput(params.level, size + text.length);
        for (let at = 0; at < text.length; at += GO_STREAM_IN) {
          const piece = text.subarray(at, at + GO_STREAM_IN);
          bytes(inPtr, piece.length).set(piece);
          size += piece.length;
          const out = made(ex.goStreamWrite(inPtr, piece.length, outPtr, GO_STREAM_OUT));
          if (out.length > 0) yield out;
        }
      },
      end(): Uint8Array {
        usable();
        const out = made(ex.goStreamEnd(outPtr, GO_STREAM_OUT));
        state = 'ended';
        return out;
      },
    };
  }

  /** (tests, reports) Offset of the first byte that differed in the last comparison, or -1. */
  goFirstDiff(): number {
    return this.#ex.goFirstDiff();
  }

  /** Decode with capacities that start near the expected size and double up to the budget. */
  #decodeExact(bytes: Uint8Array, budget: ExactBudget, gzip: boolean): ExactForm {
    const { maxOutput, maxStructure } = budget;
    for (const v of [maxOutput, maxStructure]) {
      if (!Number.isSafeInteger(v) || v < 0 || v > 0x7fffffff) throw new PatcherError(ErrorCode.Usage, `deflate budget ${v} out of range`);
    }
    const n = bytes.length;
    // gzip's last ISIZE (mod 2^32) is a good guess of the text size, unless
    // trailing bytes make it more than deflate's 1032:1 could give.
    const isize = gzip && n >= 18 ? new DataView(bytes.buffer, bytes.byteOffset + n - 4, 4).getUint32(0, true) : 0;
    const hint = isize <= 1032 * n ? isize : 0;
    let textCap = Math.min(maxOutput, Math.max(4 * n, hint + 1024, 65536));
    let structCap = Math.min(maxStructure, Math.max(n + (n >> 2), 4096)); // measured 0.6-1.0 n
    const inPtr = this.#base;
    const textPtr = align16(inPtr + n);
    this.#reserve(textPtr);
    this.#bytes(inPtr, n).set(bytes);
    for (;;) {
      const stPtr = align16(textPtr + textCap);
      this.#reserve(stPtr + structCap);
      const run = gzip ? this.#ex.gunzipExact : this.#ex.inflateExact;
      const r = run(inPtr, n, textPtr, textCap, stPtr, structCap);
      if (r === 0) {
        return {
          text: this.#bytes(textPtr, this.#ex.exactTextBytes()).slice(),
          structure: this.#bytes(stPtr, this.#ex.exactStructureBytes()).slice(),
        };
      }
      if (r === E_TEXT_FULL && textCap < maxOutput) textCap = Math.min(maxOutput, 2 * textCap);
      else if (r === E_STRUCT_FULL && structCap < maxStructure) structCap = Math.min(maxStructure, 2 * structCap);
      else if (r === E_TEXT_FULL) throw badImage(`deflate data decompresses to more than ${maxOutput} bytes (the budget)`);
      else if (r === E_STRUCT_FULL) throw badImage(`deflate data needs more than ${maxStructure} bytes of structure (the budget)`);
      else throw badImage(`deflate data invalid: ${DEFLATE_ERRORS[r] ?? `error ${r}`}`);
    }
  }

  /** Encode with an output capacity that starts at the hint and doubles up to the hard bound. */
  #encodeExact(form: ExactForm, gzip: boolean, sizeHint?: number): Uint8Array {
    const { text, structure } = form;
    // No valid form needs more; sizes travel as i32 across the boundary.
    const bound = Math.min(2 * text.length + 4 * structure.length + 1024, 0x7fffffff);
    let cap = Math.min(bound, sizeHint !== undefined && sizeHint >= 0 ? sizeHint + 64 : (text.length >> 1) + 2 * structure.length + 1024);
    const textPtr = this.#base;
    const stPtr = align16(textPtr + text.length);
    const outPtr = align16(stPtr + structure.length);
    this.#reserve(outPtr);
    this.#bytes(textPtr, text.length).set(text);
    this.#bytes(stPtr, structure.length).set(structure);
    for (;;) {
      this.#reserve(outPtr + cap);
      const run = gzip ? this.#ex.gzipExact : this.#ex.deflateExact;
      const r = run(textPtr, text.length, stPtr, structure.length, outPtr, cap);
      if (r >= 0) return this.#bytes(outPtr, r).slice();
      if (r === E_OUT_FULL && cap < bound) cap = Math.min(bound, 2 * cap);
      else throw badPatch(`deflate form: ${DEFLATE_ERRORS[r] ?? `error ${r}`}`);
    }
  }
}
