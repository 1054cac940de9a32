/**
 * Hostile records with valid checksums. Every field of the header, an entry
 * record and the end record, set to the wrong type or out of range, gives
 * BAD_PATCH with a clean one-line message. Size claims (a 4 GiB window,
 * inflate bombs in a window, a literal, the trailer, an archive size that
 * is too small) are refused quickly, with bounded memory, and nothing is
 * written past the archive size the header promises.
 */
import { inflateSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/delta/apply.js';
import { inspectPatch } from '../../src/delta/inspect.js';
import { memorySource } from '../../src/image/source.js';
import { VarintReader, VarintWriter } from '../../src/format/varint.js';
import { buildDockerArchive, samplePair } from '../fixtures/images.js';
import { decodePatch, encodePatch, type ForgedPatch } from './forge.js';
import { applyToBytes, chunked, expectPatcherError, expectSameBytes, makePatch, nodeHasher } from './util.js';

let old: Uint8Array;
let neu: Uint8Array;
let patch: Uint8Array;

beforeAll(async () => {
  const pair = samplePair();
  [old, neu] = await Promise.all([buildDockerArchive(pair.old), buildDockerArchive(pair.new)]);
  ({ patch } = await makePatch(old, neu, { windowSize: 64 * 1024 }));
});

const forge = (): ForgedPatch => decodePatch(patch);

/** Apply `bad`: BAD_PATCH with a sane one-line message, within `maxGrowth` bytes of peak RSS and far from the minutes a bomb inflated whole takes; returns bytes the sink got. */
async function expectBadPatch(bad: Uint8Array, what: string, maxGrowth = 200 * 1024 * 1024): Promise<number> {
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const started = Date.now();
  let received = 0;
  const e = await expectPatcherError(() => applyPatch(memorySource(old), chunked(bad, 4099), (c) => void (received += c.length), { hasher: nodeHasher }), 'BAD_PATCH', what);
  expect(e.message, what).not.toMatch(/undefined|\[object Object\]|NaN/);
  expect(process.resourceUsage().maxRSS * 1024 - peakBefore, `${what}: peak RSS growth`).toBeLessThan(maxGrowth);
  // Not a speed check: a guard against a bomb inflated whole, which takes
  // minutes. Loose enough for a loaded 2-core CI machine (5 s seen).
  expect(Date.now() - started, `${what}: time`).toBeLessThan(60_000);
  return received;
}

it('the bomb inflates as claimed (the crafting is sound)', () => {
  const zeros = inflateSync(bomb(1 << 20));
  expect(zeros.length).toBeGreaterThanOrEqual(1 << 20);
  expect(zeros.every((b) => b === 0)).toBe(true);
});

it('the forged patch re-encoded unchanged applies (the table below starts from a sound patch)', async () => {
  expectSameBytes((await applyToBytes(old, encodePatch(forge()))).out, neu);
});

const WRONG_TYPES = [null, 'x', true, [], {}];
const BAD_COUNTS = [-2, 1.5, 2 ** 53, 1e300, '5'];
const BAD_DIGESTS = ['sha256:xyz', 'md5:' + '0'.repeat(32), 5];
const DELETE = Symbol('delete');

/** [field path, bad values] for each record; DELETE removes a required field. */
const HEADER_FIELDS: Array<[string, unknown[]]> = [
  ['tool', ['other', DELETE, ...WRONG_TYPES]],
  ['formatVersion', [0, 1, 2, 4, '3', DELETE, ...WRONG_TYPES]],
  ['windowSize', [0, 4 * 1024 ** 3, DELETE, ...BAD_COUNTS, ...WRONG_TYPES]],
  ['old', [DELETE, ...WRONG_TYPES]],
  ['old.imageId', [DELETE, ...BAD_DIGESTS, ...WRONG_TYPES]],
  ['old.blobs', [DELETE, null, 'x', {}]],
  ['old.blobs.0', WRONG_TYPES],
  ['old.blobs.0.diffId', [DELETE, ...BAD_DIGESTS, ...WRONG_TYPES]],
  ['old.blobs.0.stored', [...BAD_DIGESTS, null, {}]],
  ['old.blobs.0.size', [DELETE, ...BAD_COUNTS, ...WRONG_TYPES]],
  ['old.blobs.0.whole', [DELETE, 'true', 1, null]],
  ['old.blobs.0.ranges', [DELETE, null, 'x', {}, [[0]], [[-1, 5]], [['0', 5]], [[0, 2 ** 53]]]],
  ['new', [DELETE, ...WRONG_TYPES]],
  ['new.imageId', [DELETE, ...BAD_DIGESTS, ...WRONG_TYPES]],
  ['new.tags', [DELETE, null, 'x', {}, [5], [null]]],
  ['new.kind', [DELETE, 'zip', ...WRONG_TYPES]],
  ['new.archiveSize', [DELETE, ...BAD_COUNTS, ...WRONG_TYPES]],
  ['new.entries', [DELETE, ...BAD_COUNTS, ...WRONG_TYPES]],
  ['new.layers', [DELETE, null, 'x', {}, [null], [{ diffId: 5, size: 1 }], [{ diffId: 'sha256:' + '0'.repeat(64), size: -1 }]]],
];
const ENTRY_FIELDS: Array<[string, unknown[]]> = [
  ['name', [DELETE, 5, ...WRONG_TYPES.filter((v) => typeof v !== 'string')]],
  ['kind', [DELETE, 'copy', ...WRONG_TYPES]],
  ['size', [DELETE, ...BAD_COUNTS, ...WRONG_TYPES]],
  ['sha256', [DELETE, ...BAD_DIGESTS, ...WRONG_TYPES]],
  ['blob', ['0', -1, 1.5, 2 ** 53, null]],
  ['diffId', [...BAD_DIGESTS, null]],
  ['padding', ['xyz', '0', 5, null]],
  ['partialSkip', ['yes', 1, null]],
];
const END_FIELDS: Array<[string, unknown[]]> = [
  ['trailer', [DELETE, 'xyz', 5, ...WRONG_TYPES.filter((v) => typeof v !== 'string')]],
  ['trailerSize', [DELETE, ...BAD_COUNTS, ...WRONG_TYPES]],
  ['layoutSha256', [DELETE, ...BAD_DIGESTS, ...WRONG_TYPES]],
];

/** `record` with the field at `path` set to `value` (or deleted). */
function mutate(record: any, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce((o, k) => o[k], record);
  if (value === DELETE) delete parent[last];
  else parent[last] = value;
}

const show = (v: unknown) => (v === DELETE ? 'deleted' : JSON.stringify(v));

describe('every field of every record, wrong: BAD_PATCH with a clean message', () => {
  it('the header', async () => {
    for (const [path, values] of HEADER_FIELDS) {
      for (const value of values) {
        const p = forge();
        mutate(p.header, path, value);
        const bad = encodePatch(p, true);
        await expectBadPatch(bad, `header ${path} = ${show(value)}`);
        await expectPatcherError(() => inspectPatch(chunked(bad)), 'BAD_PATCH', `inspect: header ${path} = ${show(value)}`);
      }
    }
    for (const whole of WRONG_TYPES) {
      const p = forge();
      p.header = whole;
      await expectBadPatch(encodePatch(p, true), `header = ${show(whole)}`);
    }
  });

  it('an entry record (a reused layer, which has every field)', async () => {
    const base = forge();
    const i = base.entries.findIndex((e) => e.record.kind === 'reuse');
    for (const [path, values] of ENTRY_FIELDS) {
      for (const value of values) {
        const p = forge();
        p.entries[i].record.padding ??= '00'.repeat(512 - (p.entries[i].record.size % 512 || 512));
        p.entries[i].record.partialSkip ??= false;
        mutate(p.entries[i].record, path, value);
        await expectBadPatch(encodePatch(p, true), `entry ${path} = ${show(value)}`);
      }
    }
    for (const whole of WRONG_TYPES) {
      const p = forge();
      p.entries[i].record = whole;
      await expectBadPatch(encodePatch(p, true), `entry = ${show(whole)}`);
    }
  });

  it('the end record', async () => {
    for (const [path, values] of END_FIELDS) {
      for (const value of values) {
        const p = forge();
        mutate(p.end, path, value);
        await expectBadPatch(encodePatch(p, true), `end ${path} = ${show(value)}`);
      }
    }
    for (const whole of [...WRONG_TYPES, 5]) {
      const p = forge();
      p.end = whole;
      await expectBadPatch(encodePatch(p, true), `end = ${show(whole)}`);
    }
  });
});

/**
 * A raw deflate stream of about `size` zero bytes, written by hand so the
 * test never holds them: one fixed-Huffman block, a literal 0, then
 * (length 258, distance 1) pairs at 13 bits each, then end of block.
 */
const bombs = new Map<number, Uint8Array>();
function bomb(size: number): Uint8Array {
  if (!bombs.has(size)) bombs.set(size, makeBomb(size));
  return bombs.get(size)!;
}

function makeBomb(size: number): Uint8Array {
  const pairs = Math.ceil((size - 1) / 258);
  const out = new Uint8Array(Math.ceil((3 + 8 + pairs * 13 + 7) / 8) + 1);
  let bit = 0;
  const put = (value: number, bits: number) => {
    for (let i = 0; i < bits; i++, bit++) if ((value >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  const code = (value: number, bits: number) => put(parseInt(value.toString(2).padStart(bits, '0').split('').reverse().join(''), 2), bits);
  put(1, 1); // BFINAL
  put(1, 2); // fixed Huffman
  code(0x30, 8); // literal 0
  code(0xc5, 8); // length code 285: 258 bytes
  code(0, 5); // distance code 0: 1 back
  // ... and the same 13 bits again for every other pair.
  const pair = (out[1] | (out[2] << 8) | (out[3] << 16)) >> 3 & 0x1fff;
  for (let i = 1; i < pairs; i++) put(pair, 13);
  code(0, 7); // end of block
  return out;
}

/** The four sections of a window payload: [rawLength, stored bytes]. */
function sections(payload: Uint8Array): Array<[number, Uint8Array]> {
  const input = new VarintReader(payload, 'window');
  const out: Array<[number, Uint8Array]> = [];
  while (input.remaining > 0) {
    const raw = input.varint();
    const stored = input.varint();
    out.push([raw, payload.subarray(input.pos, input.pos + stored)]);
    input.pos += stored;
  }
  return out;
}

function windowPayload(parts: Array<[number, Uint8Array]>): Uint8Array {
  const out = new VarintWriter(1024);
  for (const [raw, stored] of parts) {
    out.varint(raw);
    out.varint(stored.length);
    out.bytes(stored);
  }
  return out.result().slice();
}

describe('size claims: refused quickly, with bounded memory', () => {
  it('a header claiming a 4 GiB window', async () => {
    const p = forge();
    p.header.windowSize = 4 * 1024 ** 3;
    await expectBadPatch(encodePatch(p, true), '4 GiB window');
  });

  it('an inflate bomb in a window section', async () => {
    const p = forge();
    const w = p.entries.find((e) => e.frames.length > 0)!.frames[0];
    const parts = sections(w.payload);
    // The extra section claims what the window may hold but inflates to 1 GiB.
    parts[3] = [parts[3][0], bomb(1024 ** 3)];
    w.payload = windowPayload(parts);
    await expectBadPatch(encodePatch(p, true), 'window bomb', 64 * 1024 * 1024);
    // ... and one claiming 1 GiB of raw bytes outright.
    parts[3] = [1024 ** 3, bomb(1024 * 1024)];
    w.payload = windowPayload(parts);
    await expectBadPatch(encodePatch(p, true), 'window claim', 64 * 1024 * 1024);
  });

  it('an inflate bomb in a literal frame, and literal claims past the entry', async () => {
    const p = forge();
    const e = p.entries.find((x) => x.data && x.data.length > 0)!;
    const encoded = encodePatch(p, true);
    // Swap the entry's literal frame for one of the same claimed size whose data inflates to 1 GiB.
    const literal = (size: number, body: Uint8Array) => {
      const out = new Uint8Array(5 + body.length);
      out[0] = 1;
      new DataView(out.buffer).setUint32(1, size, true);
      out.set(body, 5);
      return out;
    };
    e.data = undefined;
    e.frames = [{ type: 3, payload: literal(e.record.size, bomb(1024 ** 3)) }];
    await expectBadPatch(encodePatch(p, true), 'literal bomb', 64 * 1024 * 1024);
    e.frames = [{ type: 3, payload: literal(0xffffffff, bomb(1024)) }];
    await expectBadPatch(encodePatch(p, true), 'literal claiming 4 GiB', 64 * 1024 * 1024);
    // An entry claiming more than the archive holds, with an archive claim to match: the literal cap holds.
    e.record.size = 2 ** 40;
    p.header.new.archiveSize = 2 ** 41;
    await expectBadPatch(encodePatch(p, true), 'entry claiming 1 TiB', 64 * 1024 * 1024);
    expect(encoded.length).toBeGreaterThan(0);
  });

  it('an inflate bomb in the trailer, and trailer sizes past the archive', async () => {
    const hex = Buffer.from(bomb(1024 ** 3)).toString('hex');
    for (const trailerSize of [4 * 1024 * 1024, 2 ** 32, 2 ** 53, 1e300, -2]) {
      const p = forge();
      p.end.trailer = hex;
      p.end.trailerSize = trailerSize;
      await expectBadPatch(encodePatch(p, true), `trailer of ${trailerSize}`, 64 * 1024 * 1024);
    }
    // The trailer's exact room, filled by a bomb: inflating stops at the claim.
    const p = forge();
    p.end.trailer = hex;
    await expectBadPatch(encodePatch(p, true), 'trailer bomb', 64 * 1024 * 1024);
  });

  it('an archive size smaller than the entries: nothing is written past it', async () => {
    for (const cut of [1, 600, 70_000, Math.floor(neu.length / 2)]) {
      const p = forge();
      p.header.new.archiveSize = neu.length - cut;
      const received = await expectBadPatch(encodePatch(p, true), `archive size cut by ${cut}`);
      expect(received).toBeLessThanOrEqual(neu.length - cut);
    }
  });
});
