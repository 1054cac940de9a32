/**
 * Fuzz target: the image patch format. Inputs are the real small pair
 * (../shared/images/small.tar.zst) and the patch create makes for it; each
 * case is one of
 *   bytes   a byte-level mutation of the whole patch (mutators.ts);
 *   field   a decoded record (header, entry, end), tar header or window
 *           frame changed and re-encoded with valid frame checksums but the
 *           patch's own digests as they were;
 *   forge   the content changed (config, manifest, a layer byte, entries
 *           swapped, dropped or repeated, trailer blocks, tar header fields)
 *           and every digest the patch holds about itself recomputed.
 * applied without NEW first; a wrong output must then be refused with NEW.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createPatch } from '../../src/delta/create.js';
import { applyPatch } from '../../src/delta/apply.js';
import { openImageArchive, openLayer } from '../../src/image/archive.js';
import { hashBytes, hashStream } from '../../src/image/hash.js';
import { memorySource } from '../../src/image/source.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { indexTar } from '../../src/image/tar.js';
import { SMALL, unpackPair } from '../fixtures/shared.js';
import { asLiteral, dataOffsets, decodePatch, encodePatch, setData, type ForgedPatch } from '../delta/forge.js';
import { walkFrames } from '../delta/util.js';
import { hostileValue, mutateBytes } from './mutators.js';
import { classifyError, firstDifference, sameBytes, withTimeLimit, type CaseResult } from './oracle.js';
import { Rng } from './rng.js';

export interface ImageInputs {
  old: Uint8Array;
  neu: Uint8Array;
  patch: Uint8Array;
  newId: string;
  /** Frame offsets: where byte mutations hit hardest. */
  hot: number[];
}

const WINDOW_SIZE = 256 * 1024;

/** The small pair and its patch; cached in `cacheDir` when given (the script's children share it). */
export async function loadImageInputs(cacheDir?: string): Promise<ImageInputs> {
  const files = cacheDir ? ['old.tar', 'new.tar', 'patch.dp'].map((f) => join(cacheDir, f)) : undefined;
  let old: Uint8Array, neu: Uint8Array, patch: Uint8Array;
  if (files && files.every((f) => existsSync(f))) {
    [old, neu, patch] = files.map((f) => new Uint8Array(readFileSync(f)));
  } else {
    const dir = unpackPair(SMALL.file);
    try {
      old = new Uint8Array(readFileSync(join(dir, SMALL.old.name)));
      neu = new Uint8Array(readFileSync(join(dir, SMALL.new.name)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const parts: Uint8Array[] = [];
    await createPatch(memorySource(old), memorySource(neu), (c) => void parts.push(c.slice()), { hasher: nodeHasher, windowSize: WINDOW_SIZE, workers: 1 });
    // A plain Uint8Array: a Buffer's slice() is a view, and cases change their copies.
    patch = new Uint8Array(Buffer.concat(parts));
    if (files && cacheDir) {
      mkdirSync(cacheDir, { recursive: true });
      [old, neu, patch].forEach((bytes, i) => {
        writeFileSync(`${files[i]}.tmp${process.pid}`, bytes);
        renameSync(`${files[i]}.tmp${process.pid}`, files[i]);
      });
    }
  }
  return { old, neu, patch, newId: SMALL.new.id, hot: walkFrames(patch).flatMap((f) => [f.offset, f.offset + 5, f.offset + 9 + f.length - 4]) };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every path (as keys) into a JSON value, objects and arrays included. */
function paths(value: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = [], depth = 0): Array<Array<string | number>> {
  if (depth > 0) out.push(prefix);
  if (value && typeof value === 'object' && depth < 5) {
    const keys = Array.isArray(value) ? value.map((_, i) => i).slice(0, 8) : Object.keys(value);
    for (const k of keys) paths((value as Record<string, unknown>)[k], [...prefix, k], out, depth + 1);
  }
  return out;
}

/** Set (or delete, one time in eight) a random field of `record` to a hostile value. */
function mutateRecord(rng: Rng, record: Record<string, unknown>, name: string): string {
  const all = paths(record);
  if (all.length === 0) return `${name}: nothing`;
  const path = rng.pick(all);
  let parent: any = record;
  for (const k of path.slice(0, -1)) parent = parent[k];
  const key = path[path.length - 1];
  const before = parent[key];
  if (rng.chance(1 / 8)) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
    return `${name}.${path.join('.')} deleted`;
  }
  const siblings = Array.isArray(parent) ? parent : Object.values(parent);
  parent[key] = hostileValue(rng, before, siblings);
  return `${name}.${path.join('.')}: ${JSON.stringify(before)?.slice(0, 40)} -> ${JSON.stringify(parent[key])?.slice(0, 40)}`;
}

/** Recompute a ustar header's checksum (the last 512 bytes of `h`). */
function fixTarChecksum(h: Uint8Array): void {
  const b = h.subarray(h.length - 512);
  b.fill(0x20, 148, 156);
  const sum = b.reduce((n, x) => n + x, 0);
  b.set(enc.encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
}

function fieldCase(rng: Rng, p: ForgedPatch): string {
  const target = rng.weighted([
    [30, 'header'],
    [35, 'entry'],
    [15, 'end'],
    [12, 'tar'],
    [8, 'window'],
  ] as const);
  if (target === 'header') return mutateRecord(rng, p.header, 'header');
  if (target === 'end') return mutateRecord(rng, p.end, 'end');
  const i = rng.int(p.entries.length);
  const e = p.entries[i];
  if (target === 'entry') return mutateRecord(rng, e.record, `entry[${i}]`);
  if (target === 'tar') {
    const h = e.tarHeader;
    const at = h.length - 512 + rng.pick([0, 100, 124, 136, 156, 157, 257, 345, rng.int(512)]) + rng.int(8);
    h[at] = rng.chance(0.5) ? rng.next() & 0xff : rng.pick([0x30, 0x37, 0x00, 0x20, 0x2f]);
    const fixed = rng.chance(0.7);
    if (fixed) fixTarChecksum(h);
    return `entry[${i}] tar header byte ${at}${fixed ? ' (checksum fixed)' : ''}`;
  }
  const windows = p.entries.flatMap((x, j) => x.frames.map((f, k) => [j, k] as const));
  if (windows.length === 0) return mutateRecord(rng, e.record, `entry[${i}]`);
  const [j, k] = rng.pick(windows);
  const f = p.entries[j].frames[k];
  const m = mutateBytes(rng, f.payload);
  f.payload = m.bytes;
  return `entry[${j}] frame ${k} (type ${f.type}): ${m.what}`;
}

const literalEntries = (p: ForgedPatch) => p.entries.map((e, i) => [e, i] as const).filter(([e]) => e.data && e.data.length > 0);

function forgeCase(rng: Rng, p: ForgedPatch, inputs: ImageInputs): string {
  const kind = rng.weighted([
    [12, 'literal-byte'],
    [10, 'json-edit'],
    [10, 'layer-byte'],
    [4, 'layer-exact'],
    [8, 'resize'],
    [12, 'swap-entries'],
    [6, 'drop-entry'],
    [6, 'repeat-entry'],
    [12, 'trailer'],
    [12, 'tar-field'],
    [4, 'new-id'],
    [4, 'tags'],
  ] as const);
  const literals = literalEntries(p);
  const n = p.entries.length;
  switch (kind) {
    case 'literal-byte': {
      const [e, i] = rng.pick(literals);
      const at = rng.int(e.data!.length);
      e.data![at] ^= 1 << rng.int(8);
      return `forge: entry[${i}] ${e.record.name} byte ${at} flipped`;
    }
    case 'json-edit': {
      const json = literals.filter(([e]) => e.data![0] === 0x7b || e.data![0] === 0x5b);
      const [e, i] = rng.pick(json);
      const text = dec.decode(e.data!);
      const edits: Array<[string, string]> = [
        ['"/app/bin/run.sh"', '"/app/bin/pwn.sh"'],
        ['dp-fixture/small:v2', 'dp-fixture/evil:v2'],
        ['"layer.tar"', '"layer.tar "'],
        ['"Cmd"', '"CMD"'],
        ['sha256:', 'sha256:0'],
      ];
      const found = edits.filter(([from]) => text.includes(from));
      const [from, to] = found.length > 0 ? rng.pick(found) : ['"', "'"];
      setData(p, i, enc.encode(text.replace(from, to)));
      return `forge: entry[${i}] ${e.record.name}: ${from} -> ${to}`;
    }
    case 'layer-byte':
    case 'layer-exact': {
      const layers = p.entries.map((e, i) => [e, i] as const).filter(([e]) => e.record.kind === 'delta' || e.record.kind === 'reuse');
      const [e, i] = rng.pick(layers);
      const at = dataOffsets(p)[i];
      const data = inputs.neu.slice(at, at + e.record.size);
      const where = rng.int(data.length);
      if (kind === 'layer-byte') data[where] ^= 1 << rng.int(8);
      asLiteral(p, i, data);
      return `forge: entry[${i}] ${e.record.name} as a literal${kind === 'layer-byte' ? `, byte ${where} flipped` : ''}`;
    }
    case 'resize': {
      const [e, i] = rng.pick(literals);
      const d = e.data!;
      const data = rng.chance(0.5) ? d.slice(0, rng.int(d.length)) : Buffer.concat([d, rng.chance(0.5) ? new Uint8Array(rng.range(1, 1024)) : enc.encode(' ')]);
      setData(p, i, new Uint8Array(data));
      return `forge: entry[${i}] ${e.record.name} resized ${d.length} -> ${data.length}`;
    }
    case 'swap-entries': {
      const i = rng.int(n);
      let j = rng.int(n - 1);
      if (j >= i) j++;
      [p.entries[i], p.entries[j]] = [p.entries[j], p.entries[i]];
      return `forge: entries ${i} (${p.entries[j].record.name}) and ${j} (${p.entries[i].record.name}) swapped`;
    }
    case 'drop-entry': {
      const i = rng.int(n);
      const [e] = p.entries.splice(i, 1);
      p.header.new.entries -= 1;
      p.header.new.archiveSize -= e.tarHeader.length + e.record.size + ((512 - (e.record.size % 512)) % 512);
      return `forge: entry[${i}] ${e.record.name} dropped`;
    }
    case 'repeat-entry': {
      const i = rng.int(n);
      const e = p.entries[i];
      const copy = { record: { ...e.record }, tarHeader: e.tarHeader.slice(), data: e.data?.slice(), frames: e.frames.map((f) => ({ ...f })) };
      const to = rng.int(n + 1);
      p.entries.splice(to, 0, copy);
      p.header.new.entries += 1;
      p.header.new.archiveSize += e.tarHeader.length + e.record.size + ((512 - (e.record.size % 512)) % 512);
      return `forge: entry[${i}] ${e.record.name} repeated at ${to}`;
    }
    case 'trailer': {
      const t = p.trailer;
      const how = rng.pick(['add-block', 'drop-block', 'byte', 'garbage'] as const);
      if (how === 'add-block') p.trailer = new Uint8Array(t.length + 512);
      else if (how === 'drop-block') p.trailer = t.slice(0, Math.max(0, t.length - 512));
      else if (how === 'byte' && t.length > 0) (p.trailer = t.slice())[rng.int(t.length)] = rng.range(1, 255);
      else p.trailer = Buffer.concat([t, rng.bytes(rng.range(1, 600))]);
      p.header.new.archiveSize += p.trailer.length - t.length;
      return `forge: trailer ${how} (${t.length} -> ${p.trailer.length} bytes)`;
    }
    case 'tar-field': {
      const i = rng.int(n);
      const h = p.entries[i].tarHeader;
      const b = h.subarray(h.length - 512);
      const field = rng.pick([
        ['mtime', 136, 11],
        ['mode', 100, 7],
        ['uid', 108, 7],
        ['uname', 265, 31],
        ['name-tail', 90, 9],
        ['typeflag', 156, 1],
      ] as const);
      const [name, at, len] = field;
      const before = dec.decode(b.subarray(at, at + len));
      if (name === 'typeflag') b[at] = rng.pick([0x30, 0x00, 0x37, 0x35, 0x32, 0x31]);
      else if (name === 'uname' || name === 'name-tail') b[at + rng.int(len)] = rng.range(0x61, 0x7a);
      else b[at + len - 1 - rng.int(3)] = rng.range(0x30, 0x37);
      fixTarChecksum(h);
      return `forge: entry[${i}] ${p.entries[i].record.name} tar ${name} ${JSON.stringify(before)} -> ${JSON.stringify(dec.decode(b.subarray(at, at + len)))}`;
    }
    case 'new-id': {
      const config = literals.find(([e]) => dec.decode(e.data!.subarray(0, 200)).includes('"architecture"') || dec.decode(e.data!).includes('"rootfs"'));
      if (config) {
        const [e] = config;
        const at = dec.decode(e.data!).indexOf('"Cmd"');
        if (at >= 0) e.data![at + 1] = 0x63; // "cmd"
        p.header.new.imageId = hashBytes(nodeHasher, e.data!);
        return `forge: config edited and header.new.imageId set to its digest`;
      }
      p.header.new.imageId = 'sha256:' + '1'.repeat(64);
      return 'forge: header.new.imageId replaced';
    }
    case 'tags': {
      p.header.new.tags = rng.pick([[], ['dp-fixture/evil:v2'], [...p.header.new.tags, 'x:y']]);
      return `forge: header.new.tags -> ${JSON.stringify(p.header.new.tags)}`;
    }
  }
}

export type ImageMode = 'bytes' | 'field' | 'forge';

/** The patch for case `seed`. */
export function makeImageCase(inputs: ImageInputs, seed: number): { patch: Uint8Array; what: string; mode: ImageMode } {
  const rng = new Rng(seed);
  const mode = rng.weighted([
    [45, 'bytes'],
    [30, 'field'],
    [25, 'forge'],
  ] as const);
  if (mode === 'bytes') {
    const m = mutateBytes(rng, inputs.patch, inputs.hot);
    return { patch: m.bytes, what: m.what, mode };
  }
  const p = decodePatch(inputs.patch);
  if (mode === 'field') {
    const what = fieldCase(rng, p);
    return { patch: encodePatch(p, true), what, mode };
  }
  const what = forgeCase(rng, p, inputs);
  return { patch: encodePatch(p), what, mode };
}

async function apply(inputs: ImageInputs, patch: Uint8Array, expectNewId: string | undefined): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  async function* chunks() {
    for (let at = 0; at < patch.length; at += 64 * 1024) yield patch.subarray(at, at + 64 * 1024);
  }
  // A forged patch may promise a bigger archive (an entry repeated); past this, a runaway writer is a failure, not an OOM.
  const limit = 4 * inputs.neu.length;
  await applyPatch(memorySource(inputs.old), chunks(), (c) => {
    size += c.length;
    if (size <= limit) parts.push(c.slice());
  }, { hasher: nodeHasher, expectNewId });
  if (size > limit) throw new Error(`apply wrote ${size} bytes, 4x NEW's ${inputs.neu.length}`);
  return Buffer.concat(parts);
}

const OTHER_TAGS = 'tags';

/**
 * Is `out` the same image as NEW in another archive (config digest NEW,
 * every layer hashing to its diff_id)? Returns how the archive differs
 * (starting with "tags" when it names other tags than NEW's archive), or
 * undefined when it is not the same image.
 */
export async function sameImageOtherBytes(out: Uint8Array, inputs: ImageInputs): Promise<string | undefined> {
  try {
    const src = memorySource(out);
    const a = await openImageArchive(src, { hasher: nodeHasher });
    const b = await openImageArchive(memorySource(inputs.neu), { hasher: nodeHasher });
    if (a.imageId !== inputs.newId || a.kind !== b.kind) return undefined;
    if (a.layers.length !== b.layers.length) return undefined;
    for (let i = 0; i < a.layers.length; i++) {
      if (a.layers[i].diffId !== b.layers[i].diffId) return undefined;
      if ((await hashStream(nodeHasher, openLayer(src, a, i))) !== a.layers[i].diffId) return undefined;
    }
    const [x, y] = [await indexTar(src), await indexTar(memorySource(inputs.neu))];
    const names = (t: typeof x) => t.entries.map((e) => e.name).join(',');
    const notes: string[] = [];
    if (names(x) !== names(y)) notes.push(`entries ${[...x.entries.map((e) => e.name)].sort().join(',') === [...y.entries.map((e) => e.name)].sort().join(',') ? 'reordered' : 'differ'}: ${x.entries.length} vs ${y.entries.length}`);
    else {
      for (let i = 0; i < x.entries.length; i++) {
        const [ex, ey] = [x.entries[i], y.entries[i]];
        const hx = out.subarray(ex.headerOffset, ex.dataOffset);
        const hy = inputs.neu.subarray(ey.headerOffset, ey.dataOffset);
        if (!sameBytes(hx, hy)) notes.push(`${ex.name}: tar header differs`);
        else if (ex.size !== ey.size || !sameBytes(out.subarray(ex.dataOffset, ex.dataOffset + ex.size), inputs.neu.subarray(ey.dataOffset, ey.dataOffset + ey.size))) notes.push(`${ex.name}: data differs`);
      }
    }
    if (out.length !== inputs.neu.length) notes.push(`size ${out.length} vs ${inputs.neu.length}`);
    if (JSON.stringify(a.tags) !== JSON.stringify(b.tags)) notes.unshift(`${OTHER_TAGS} ${JSON.stringify(a.tags)} (NEW's archive: ${JSON.stringify(b.tags)})`);
    return notes.join('; ') || `differs at ${firstDifference(out, inputs.neu)}`;
  } catch {
    return undefined;
  }
}

/** Run case `seed`: see oracle.ts for the outcomes. */
export async function runImageCase(inputs: ImageInputs, seed: number, timeLimitMs = 20_000): Promise<CaseResult> {
  const { patch, what } = makeImageCase(inputs, seed);
  return runImagePatch(inputs, patch, what, timeLimitMs);
}

/** Judge one patch; `onAccepted` gets the output a run with NEW accepted that is not NEW's bytes. */
export async function runImagePatch(inputs: ImageInputs, patch: Uint8Array, what: string, timeLimitMs = 20_000, onAccepted?: (out: Uint8Array) => void): Promise<CaseResult> {
  let out: Uint8Array;
  try {
    out = await withTimeLimit(timeLimitMs, () => apply(inputs, patch, undefined));
  } catch (err) {
    return { what, ...classifyHang(err) };
  }
  if (sameBytes(out, inputs.neu)) return { what, outcome: 'identical' };
  const same = await sameImageOtherBytes(out, inputs);
  // With NEW named (what the CLI always does), a wrong image must be refused.
  let anchored: Uint8Array;
  try {
    anchored = await withTimeLimit(timeLimitMs, () => apply(inputs, patch, inputs.newId));
  } catch (err) {
    const c = classifyHang(err);
    if (c.outcome.startsWith('fail:')) return { what, ...c };
    return same ? { what, outcome: sameOutcome(same), detail: `${same}; refused with NEW: ${c.detail}` } : { what, outcome: 'wrong-output-unanchored', detail: c.detail };
  }
  onAccepted?.(anchored);
  if (same) return { what, outcome: sameOutcome(same), detail: `${same}; accepted with NEW` };
  return { what, outcome: 'fail:wrong-output', detail: `accepted with NEW; output ${anchored.length} bytes, differs from NEW at ${firstDifference(anchored, inputs.neu)}` };
}

/** The same image with other tags is worth its own count: docker load applies the archive's tags. */
const sameOutcome = (how: string) => (how.startsWith(OTHER_TAGS) ? 'same-image-other-tags' : 'same-image-different-bytes');

function classifyHang(err: unknown): { outcome: string; detail: string } {
  if (err instanceof Error && err.constructor.name === 'HangError') return { outcome: 'fail:hang', detail: err.message };
  return classifyError(err);
}
