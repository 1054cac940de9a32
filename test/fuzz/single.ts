/**
 * Fuzz targets: the single-file formats, through the real `patch` command
 * run in this process (buildProgram from src/cli, files in a scratch dir).
 *   raw      docker-patcher's DPRAW patches (src/format/raw.ts): from our `diff`
 *            command, and Debian bsdiff's delta in our format;
 *   classic  BSDIFF40 from Debian's bsdiff, ENDSLEY/BSDIFF43 both size encodings.
 * Inputs: three small pairs (text, binary, a few bytes). Each case is
 *   bytes   a byte-level mutation of the whole patch;
 *   field   raw: a header or section-header field changed, crc32 fixed, or a
 *           section's content changed and re-packed with a valid crc32 (the
 *           digests as they were); classic: a header field changed;
 *   forge   the decoded delta changed (control triples, diff, extra, new
 *           size) and encoded again as a sound patch of its format; raw: with
 *           the sha256 of what the forged delta makes, so its digests agree.
 * Run without --expect-sha256 first; a wrong output must be refused with it,
 * and a refused run must leave no file at NEW.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'fflate';
import { encodeCtrl } from '../../src/format/ctrl.js';
import { encodeZeroRuns } from '../../src/format/zeroruns.js';
import { buildProgram } from '../../src/cli/program.js';
import type { Delta } from '../../src/core/index.js';
import { crc32 } from '../../src/format/single/checksum.js';
import { decodeClassicPatch } from '../../src/format/single/classic.js';
import { decodeRawPatch, encodeRawPatch, encodeRawPatchOf } from '../../src/format/single/raw.js';
import { bsdiff40Patch, bspatch, encodeBsdiff40, encodeBsdiff43, mutate, offtout, randomBytes } from '../format/helpers.js';
import { hostileValue, mutateBytes } from './mutators.js';
import { classifyError, firstDifference, sameBytes, withTimeLimit, HangError, type CaseResult } from './oracle.js';
import { Rng } from './rng.js';

export type SingleFormat = 'raw' | 'classic';

interface Pair {
  name: string;
  old: Uint8Array;
  neu: Uint8Array;
  oldPath: string;
  neuSha256: string;
  /** raw: from `docker-patcher diff`, and Debian bsdiff's delta in our format; classic: BSDIFF40, BSDIFF43 (LE size), BSDIFF43 (BE size). */
  patches: Uint8Array[];
  /** Each patch's delta (what forgeries start from). */
  deltas: Delta[];
}

export interface SingleInputs {
  format: SingleFormat;
  dir: string;
  pairs: Pair[];
}

const sha256hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const text = (s: string) => new TextEncoder().encode(s);

function makePairs(): Array<[string, Uint8Array, Uint8Array]> {
  const lines = Array.from({ length: 600 }, (_, i) => `line ${i}: the quick brown fox ${(i * 7919) % 1000} jumps\n`).join('');
  const binary = randomBytes(40_000, 11);
  return [
    ['text', text(lines), text(lines.replace(/fox 1/g, 'cat 1').replace('line 300', 'LINE 300 and more') + 'an added tail\n')],
    ['binary', binary, mutate(binary, 40, 5)],
    ['tiny', text('hello, world'), text('hello, patch!')],
  ];
}

/** The pairs and their patches, old files written to a scratch dir. */
export async function loadSingleInputs(format: SingleFormat): Promise<SingleInputs> {
  const dir = mkdtempSync(join(tmpdir(), 'dp-fuzz-single-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const pairs: Pair[] = [];
  for (const [name, old, neu] of makePairs()) {
    const bsdiff40 = bsdiff40Patch(old, neu);
    const delta = decodeClassicPatch(bsdiff40).delta;
    const oldPath = join(dir, `${name}.old`);
    writeFileSync(oldPath, old);
    let patches: Uint8Array[];
    if (format === 'raw') {
      // Our own writer: the diff command, run as a user would.
      const newPath = join(dir, `${name}.new`);
      writeFileSync(newPath, neu);
      await buildProgram().parseAsync(['-q', 'diff', oldPath, newPath, join(dir, `${name}.dp`)], { from: 'user' });
      patches = [readFileSync(join(dir, `${name}.dp`)), encodeRawPatch(old, neu, delta)];
    } else patches = [bsdiff40, encodeBsdiff43(delta, neu.length, 'le'), encodeBsdiff43(delta, neu.length, 'be')];
    // Plain Uint8Arrays: a Buffer's slice() is a view, and cases change their copies.
    patches = patches.map((p) => new Uint8Array(p));
    const deltas = format === 'raw' ? patches.map((p) => decodeRawPatch(p).delta) : patches.map(() => delta);
    pairs.push({ name, old, neu, oldPath, neuSha256: sha256hex(neu), patches, deltas });
  }
  return { format, dir, pairs };
}

const u64 = (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));

/** Raw patch layout: [start, length] of the header and each section (21-byte header + stored bytes). */
function rawSections(p: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = 100;
  for (let i = 0; i < 3 && at + 21 <= p.length; i++) {
    const stored = u64(p, at + 9);
    out.push([at, 21 + stored]);
    at += 21 + stored;
  }
  return out;
}

function hotOffsets(format: SingleFormat, p: Uint8Array): number[] {
  if (format === 'raw') return [0, 5, 8, 16, 24, 32, 64, 96, ...rawSections(p).flatMap(([s]) => [s, s + 1, s + 9, s + 17, s + 21])];
  if (p[0] === 0x45) return [0, 16, 24]; // ENDSLEY/BSDIFF43
  const c = u64(p, 8);
  const d = u64(p, 16);
  return [0, 8, 16, 24, 32, 32 + c, 32 + c + d];
}

const HOSTILE_SIZES = [0, 1, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64 - 1];

function setU64(b: Uint8Array, at: number, value: bigint | number): void {
  new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt.asUintN(64, BigInt(value)), true);
}

function hostileSize(rng: Rng, current: number): bigint {
  if (rng.chance(0.5)) return BigInt(rng.pick(HOSTILE_SIZES));
  const v = hostileValue(rng, current);
  return typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : BigInt(current + rng.range(-3, 3));
}

function rawFieldCase(rng: Rng, pair: Pair, which: number): { patch: Uint8Array; what: string } {
  const p = pair.patches[which].slice();
  const view = new DataView(p.buffer);
  const sections = rawSections(p);
  const kind = rng.weighted([
    [4, 'header'],
    [3, 'section-header'],
    [4, 'section-content'],
  ] as const);
  if (kind === 'header') {
    const field = rng.pick([
      ['version', 5],
      ['flags', 6],
      ['old size', 8],
      ['new size', 16],
      ['diff size', 24],
      ['old sha256', 32],
      ['new sha256', 64],
    ] as const);
    const [name, at] = field;
    if (at === 5) p[5] = rng.pick([0, 2, 255]);
    else if (at === 6) view.setUint16(6, rng.pick([1, 0x8000, 0xffff]), true);
    else if (at >= 32) p[at + rng.int(32)] ^= 1 << rng.int(8);
    else setU64(p, at, hostileSize(rng, u64(p, at)));
    view.setUint32(96, crc32(p.subarray(0, 96)), true);
    return { patch: p, what: `raw header ${name} changed, header crc fixed` };
  }
  const i = rng.int(sections.length);
  const [start, length] = sections[i];
  if (kind === 'section-header') {
    const field = rng.pick([
      ['method', 0],
      ['encoded length', 1],
      ['stored length', 9],
    ] as const);
    const [name, at] = field;
    if (at === 0) p[start] = rng.pick([0, 1, 2, 255]);
    else setU64(p, start + at, hostileSize(rng, u64(p, start + at)));
    view.setUint32(start + 17, crc32(p.subarray(start + 21, start + length), crc32(p.subarray(start, start + 17))), true);
    return { patch: p, what: `raw section ${i} ${name} changed, section crc fixed` };
  }
  // Content: take the encoded section, change it, deflate it again: every crc32 valid, the digests not.
  const encoded = rawSectionEncoded(p, start);
  const m = mutateBytes(rng, encoded);
  const section = packSection(m.bytes);
  return { patch: Buffer.concat([p.subarray(0, start), section, p.subarray(start + length)]), what: `raw section ${i} content: ${m.what}; re-packed, crc valid` };
}

function rawSectionEncoded(p: Uint8Array, start: number): Uint8Array {
  const stored = p.subarray(start + 21, start + 21 + u64(p, start + 9));
  return p[start] === 0 ? stored.slice() : inflateSync(stored);
}

function classicFieldCase(rng: Rng, pair: Pair, which: number): { patch: Uint8Array; what: string } {
  const p = pair.patches[which].slice();
  const fields: Array<[string, number]> = which === 0 ? [['ctrl length', 8], ['diff length', 16], ['new size', 24]] : [['new size', 16]];
  const [name, at] = rng.pick(fields);
  const value = hostileSize(rng, u64(p, at));
  if (rng.chance(0.3)) {
    // bsdiff's own sign-magnitude encoding, negative values included.
    offtout(rng.chance(0.5) ? -Number(value % 1000n) - 1 : Number(value > 2n ** 52n ? 2n ** 52n : value), p, at);
  } else if (which === 2 && at === 16) new DataView(p.buffer).setBigUint64(16, BigInt.asUintN(64, value), false);
  else setU64(p, at, value);
  return { patch: p, what: `${['BSDIFF40', 'BSDIFF43-le', 'BSDIFF43-be'][which]} header ${name} -> ${value}` };
}

/** Change the decoded delta; returns it and the new size the forged patch claims. */
function forgeDelta(rng: Rng, pair: Pair, which: number): { delta: Delta; newSize: number; what: string } {
  const base = pair.deltas[which];
  const ctrl = Int32Array.from(base.ctrl);
  const diff = base.diff.slice();
  let extra = base.extra.slice();
  let newSize = pair.neu.length;
  const triples = ctrl.length / 3;
  const kind = rng.weighted([
    [3, 'diff-byte'],
    [3, 'extra-byte'],
    [4, 'ctrl'],
    [2, 'ctrl-consistent'],
    [1, 'extra-cut'],
    [1, 'new-size'],
  ] as const);
  let what: string = kind;
  if (kind === 'diff-byte' && diff.length > 0) {
    const at = rng.int(diff.length);
    diff[at] ^= 1 + rng.int(255);
    what = `diff byte ${at} changed`;
  } else if ((kind === 'extra-byte' || kind === 'diff-byte') && extra.length > 0) {
    const at = rng.int(extra.length);
    extra[at] ^= 1 + rng.int(255);
    what = `extra byte ${at} changed`;
  } else if ((kind === 'ctrl' || kind === 'ctrl-consistent') && triples > 0) {
    const t = rng.int(triples);
    const col = rng.int(3);
    const before = ctrl[3 * t + col];
    const v = rng.pick([0, 1, -1, before + 1, before - 1, before * 2, 2 ** 31 - 1, -(2 ** 31) + 1, rng.range(-1000, 1000)]);
    ctrl[3 * t + col] = v;
    what = `ctrl[${t}].${['add', 'copy', 'seek'][col]} ${before} -> ${ctrl[3 * t + col]}`;
    if (kind === 'ctrl-consistent') {
      // Keep the patch self-consistent: the diff and extra sections and the new size follow the triples.
      const adds = Array.from({ length: triples }, (_, k) => Math.max(0, ctrl[3 * k]));
      const copies = Array.from({ length: triples }, (_, k) => Math.max(0, ctrl[3 * k + 1]));
      const sumAdd = adds.reduce((a, b) => a + b, 0);
      const sumCopy = copies.reduce((a, b) => a + b, 0);
      if (sumAdd + sumCopy <= 1 << 24) {
        const d = new Uint8Array(sumAdd);
        d.set(diff.subarray(0, Math.min(sumAdd, diff.length)));
        const e = new Uint8Array(sumCopy);
        e.set(extra.subarray(0, Math.min(sumCopy, extra.length)));
        newSize = sumAdd + sumCopy;
        extra = e;
        return { delta: { ctrl, diff: d, extra }, newSize, what: `${what} (sections and size follow)` };
      }
    }
  } else if (kind === 'extra-cut' && extra.length > 0) {
    const cut = rng.range(1, Math.min(extra.length, 64));
    extra = extra.slice(0, extra.length - cut);
    what = `extra cut by ${cut}`;
  } else {
    newSize = Math.max(0, newSize + rng.pick([-1, 1, -100, 4096]));
    what = `new size -> ${newSize}`;
  }
  return { delta: { ctrl, diff, extra }, newSize, what };
}

export function makeSingleCase(inputs: SingleInputs, seed: number): { pair: Pair; patch: Uint8Array; what: string } {
  const rng = new Rng(seed);
  const pair = rng.pick(inputs.pairs);
  const which = rng.int(pair.patches.length);
  const base = pair.patches[which];
  const mode = rng.weighted([
    [50, 'bytes'],
    [25, 'field'],
    [25, 'forge'],
  ] as const);
  const label = `${pair.name} ${(inputs.format === 'classic' ? ['BSDIFF40', 'BSDIFF43-le', 'BSDIFF43-be'] : ['diff', 'bsdiff-delta'])[which]}`;
  if (mode === 'bytes') {
    const m = mutateBytes(rng, base, hotOffsets(inputs.format, base));
    return { pair, patch: m.bytes, what: `${label}: ${m.what}` };
  }
  if (mode === 'field') {
    const f = inputs.format === 'raw' ? rawFieldCase(rng, pair, which) : classicFieldCase(rng, pair, which);
    return { pair, patch: f.patch, what: `${label}: ${f.what}` };
  }
  const { delta, newSize, what } = forgeDelta(rng, pair, which);
  if (inputs.format === 'classic') {
    const patch = which === 0 ? encodeBsdiff40(delta, newSize) : encodeBsdiff43(delta, newSize, which === 1 ? 'le' : 'be');
    return { pair, patch: new Uint8Array(patch), what: `${label}: forge: ${what}` };
  }
  // Raw: the sha256 of what the forged delta makes, when it makes anything.
  let made: Uint8Array | undefined;
  try {
    made = bspatch(pair.old, delta, newSize);
  } catch {
    made = undefined;
  }
  const newSha256 = made ? createHash('sha256').update(made).digest() : createHash('sha256').update(pair.neu).digest();
  try {
    const patch = encodeRawPatchOf({ oldSize: pair.old.length, newSize, oldSha256: createHash('sha256').update(pair.old).digest(), newSha256 }, delta);
    return { pair, patch, what: `${label}: forge: ${what}${made ? ', digests agree' : ''}` };
  } catch {
    // The encoder refuses an unsound delta: write one by hand around it, every crc32 valid.
    return { pair, patch: rawUnchecked(pair, delta, newSize, newSha256), what: `${label}: forge (unsound delta): ${what}` };
  }
}

/** One raw section holding `encoded` (deflated when not empty), its crc32 valid. */
function packSection(encoded: Uint8Array): Uint8Array {
  const stored = encoded.length > 0 ? deflateSync(encoded) : encoded;
  const section = new Uint8Array(21 + stored.length);
  const sv = new DataView(section.buffer);
  section[0] = encoded.length > 0 ? 1 : 0;
  sv.setBigUint64(1, BigInt(encoded.length), true);
  sv.setBigUint64(9, BigInt(stored.length), true);
  section.set(stored, 21);
  sv.setUint32(17, crc32(stored, crc32(section.subarray(0, 17))), true);
  return section;
}

/** A raw patch for a delta the encoder refuses (its checks skipped), every crc32 valid. */
function rawUnchecked(pair: Pair, delta: Delta, newSize: number, newSha256: Uint8Array): Uint8Array {
  const header = new Uint8Array(100);
  const view = new DataView(header.buffer);
  header.set(text('DPRAW'));
  header[5] = 1;
  view.setBigUint64(8, BigInt(pair.old.length), true);
  view.setBigUint64(16, BigInt(newSize), true);
  view.setBigUint64(24, BigInt(delta.diff.length), true);
  header.set(createHash('sha256').update(pair.old).digest(), 32);
  header.set(newSha256, 64);
  view.setUint32(96, crc32(header.subarray(0, 96)), true);
  return Buffer.concat([header, packSection(encodeCtrl(delta.ctrl)), packSection(encodeZeroRuns(delta.diff)), packSection(delta.extra)]);
}

async function runPatchCommand(args: string[]): Promise<void> {
  await buildProgram().parseAsync(['-q', 'patch', ...args], { from: 'user' });
}

let counter = 0;

export async function runSingleCase(inputs: SingleInputs, seed: number, timeLimitMs = 20_000): Promise<CaseResult> {
  const { pair, patch, what } = makeSingleCase(inputs, seed);
  const id = `${process.pid}-${counter++}`;
  const patchPath = join(inputs.dir, `${id}.patch`);
  const outPath = join(inputs.dir, `${id}.new`);
  writeFileSync(patchPath, patch);
  try {
    return await judge(pair, patchPath, outPath, what, timeLimitMs);
  } finally {
    rmSync(patchPath, { force: true });
    rmSync(outPath, { force: true });
  }
}

async function judge(pair: Pair, patchPath: string, outPath: string, what: string, timeLimitMs: number): Promise<CaseResult> {
  try {
    await withTimeLimit(timeLimitMs, () => runPatchCommand([pair.oldPath, patchPath, outPath]));
  } catch (err) {
    if (err instanceof HangError) return { what, outcome: 'fail:hang', detail: err.message };
    const c = classifyError(err);
    if (!c.outcome.startsWith('fail:') && existsSync(outPath)) return { what, outcome: 'fail:left-output', detail: `refused (${c.detail}) but NEW exists` };
    return { what, ...c };
  }
  const out = new Uint8Array(readFileSync(outPath));
  if (sameBytes(out, pair.neu)) return { what, outcome: 'identical' };
  unlinkSync(outPath);
  try {
    await withTimeLimit(timeLimitMs, () => runPatchCommand(['--expect-sha256', pair.neuSha256, pair.oldPath, patchPath, outPath]));
  } catch (err) {
    if (err instanceof HangError) return { what, outcome: 'fail:hang', detail: `with --expect-sha256: ${err.message}` };
    const c = classifyError(err);
    if (c.outcome.startsWith('fail:')) return { what, ...c };
    if (existsSync(outPath)) return { what, outcome: 'fail:left-output', detail: `refused with --expect-sha256 (${c.detail}) but NEW exists` };
    return { what, outcome: 'wrong-output-unanchored', detail: `output ${out.length} bytes, differs at ${firstDifference(out, pair.neu)}; with --expect-sha256: ${c.detail}` };
  }
  return { what, outcome: 'fail:wrong-output', detail: 'accepted with --expect-sha256 of the real NEW' };
}
