/**
 * Control-triple helpers shared by the readers: a consistency check for any
 * Delta (whatever format it came from), and the compact encoding of ctrl
 * used by the raw format.
 *
 * Compact ctrl (encoding 1): varint k, then three column streams: k varint
 * add lengths, k varint copy lengths, k zigzag-varint seeks. Columns compress
 * better than interleaved triples because each stream has its own statistics.
 * Memory: the encoder's output is at most 15 bytes per triple.
 */
import { badPatch } from '../errors.js';
import type { Delta } from '../core/index.js';
import { VarintReader, VarintWriter } from './varint.js';

const INT32_MAX = 0x7fffffff;

/**
 * Check that `delta` turns an `oldSize`-byte input into exactly `newSize`
 * bytes and never reads outside old. Throws BAD_PATCH naming the first bad triple.
 */
export function checkDelta(delta: Delta, oldSize: number, newSize: number): void {
  const { ctrl } = delta;
  if (ctrl.length % 3 !== 0) throw badPatch(`control stream length ${ctrl.length} is not a multiple of 3`);
  if (delta.diff.length + delta.extra.length !== newSize) {
    throw badPatch(`diff + extra = ${delta.diff.length + delta.extra.length} bytes, expected ${newSize}`);
  }
  let oldPos = 0;
  let addTotal = 0;
  let copyTotal = 0;
  for (let t = 0; t < ctrl.length; t += 3) {
    const add = ctrl[t];
    const copy = ctrl[t + 1];
    if (add < 0 || copy < 0) throw badPatch(`control triple ${t / 3} has a negative length`);
    // Sanity-check: reads from old stay inside it (bsdiff never emits others).
    if (add > 0 && (oldPos < 0 || oldPos + add > oldSize)) {
      throw badPatch(`control triple ${t / 3} reads old bytes ${oldPos}..${oldPos + add} outside 0..${oldSize}`);
    }
    addTotal += add;
    copyTotal += copy;
    if (addTotal > delta.diff.length || copyTotal > delta.extra.length) {
      throw badPatch(`control triple ${t / 3} runs past the end of the diff or extra data`);
    }
    oldPos += add + ctrl[t + 2];
  }
  if (addTotal !== delta.diff.length || copyTotal !== delta.extra.length) {
    throw badPatch(`control triples cover ${addTotal + copyTotal} of ${newSize} output bytes`);
  }
}

/**
 * Drop triples that produce no output by folding their seek into the previous
 * triple (a leading one is kept: it positions old before the first add).
 */
export function compactCtrl(ctrl: Int32Array): Int32Array {
  const out: number[] = [];
  for (let t = 0; t < ctrl.length; t += 3) {
    const [add, copy, seek] = [ctrl[t], ctrl[t + 1], ctrl[t + 2]];
    const n = out.length;
    if (add === 0 && copy === 0 && n > 0 && Math.abs(out[n - 1] + seek) <= INT32_MAX) {
      out[n - 1] += seek;
    } else {
      out.push(add, copy, seek);
    }
  }
  return out.length === ctrl.length ? ctrl : Int32Array.from(out);
}

const zigzag = (v: number): number => ((v << 1) ^ (v >> 31)) >>> 0;
const unzigzag = (v: number): number => (v >>> 1) ^ -(v & 1);

/** Encode ctrl as varint k + three varint columns (add, copy, zigzag seek). */
export function encodeCtrl(ctrl: Int32Array): Uint8Array {
  const k = ctrl.length / 3;
  const out = new VarintWriter(k * 6 + 8);
  out.varint(k);
  for (let col = 0; col < 3; col++) {
    for (let t = col; t < ctrl.length; t += 3) out.varint(col === 2 ? zigzag(ctrl[t]) : ctrl[t]);
  }
  return out.result();
}

/**
 * Decode the column ctrl encoding. `maxTriples` bounds k before the Int32Array
 * is allocated (a triple needs at least 3 encoded bytes, so k <= bytes/3 too).
 */
export function decodeCtrl(bytes: Uint8Array, maxTriples: number): Int32Array {
  const input = new VarintReader(bytes, 'control section');
  const k = input.varint();
  if (k > maxTriples || k * 3 > input.remaining) {
    throw badPatch(`control section claims ${k} triples, more than it can hold`);
  }
  const ctrl = new Int32Array(k * 3);
  for (let col = 0; col < 3; col++) {
    for (let t = col; t < ctrl.length; t += 3) {
      const v = input.varint();
      if (col < 2 && v > INT32_MAX) throw badPatch(`control triple ${(t - col) / 3} length out of range`);
      ctrl[t] = col === 2 ? unzigzag(v) : v;
    }
  }
  input.end();
  return ctrl;
}
