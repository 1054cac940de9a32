/**
 * Byte-level mutations of a whole patch: what a flaky link, a bad disk or a
 * careless hand does. Each returns new bytes and a short description. Offsets
 * lean towards the start (headers) and towards `hot` offsets a target names
 * (frame and section boundaries), where parsers make their decisions.
 */
import { concatBytes } from '../../src/format/bytes.js';
import type { Rng } from './rng.js';

export interface Mutation {
  bytes: Uint8Array;
  what: string;
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x20, 0x30, 0x39, 0x22, 0x7b, 0x7d];

function offset(rng: Rng, length: number, hot: number[]): number {
  if (length === 0) return 0;
  const r = rng.int(10);
  if (r < 3 && hot.length > 0) return Math.min(length - 1, Math.max(0, rng.pick(hot) + rng.range(-4, 12)));
  if (r < 5) return rng.int(Math.min(length, 512));
  return rng.int(length);
}

const cat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

export const BYTE_MUTATORS = {
  bitflip(rng: Rng, b: Uint8Array, hot: number[]): Mutation {
    const out = b.slice();
    const n = rng.pick([1, 1, 1, 2, 3, 8]);
    const at: number[] = [];
    for (let i = 0; i < n && out.length > 0; i++) {
      const o = offset(rng, out.length, hot);
      out[o] ^= 1 << rng.int(8);
      at.push(o);
    }
    return { bytes: out, what: `bitflip at ${at.join(',')}` };
  },
  overwrite(rng: Rng, b: Uint8Array, hot: number[]): Mutation {
    const out = b.slice();
    if (out.length === 0) return { bytes: out, what: 'overwrite of nothing' };
    const o = offset(rng, out.length, hot);
    const n = Math.min(out.length - o, rng.pick([1, 1, 2, 4, 8, 16, 64]));
    const value = rng.chance(0.5) ? -1 : rng.pick(INTERESTING);
    for (let i = 0; i < n; i++) out[o + i] = value < 0 ? rng.next() & 0xff : value;
    return { bytes: out, what: `overwrite ${n} at ${o}` };
  },
  truncate(rng: Rng, b: Uint8Array, hot: number[]): Mutation {
    const o = rng.chance(0.3) ? Math.max(0, b.length - rng.range(1, 16)) : offset(rng, b.length, hot);
    return { bytes: b.slice(0, o), what: `truncate at ${o} of ${b.length}` };
  },
  insert(rng: Rng, b: Uint8Array, hot: number[]): Mutation {
    const o = offset(rng, b.length + 1, hot);
    const n = rng.pick([1, 1, 4, 17, 512, 4096]);
    const from = rng.int(Math.max(1, b.length - n));
    const fill = rng.chance(0.5) || b.length === 0 ? rng.bytes(n) : b.slice(from, from + n);
    return { bytes: cat(b.subarray(0, o), fill, b.subarray(o)), what: `insert ${fill.length} at ${o}` };
  },
  remove(rng: Rng, b: Uint8Array, hot: number[]): Mutation {
    const o = offset(rng, b.length, hot);
    const n = Math.min(b.length - o, rng.pick([1, 1, 4, 9, 512, 4096]));
    return { bytes: cat(b.subarray(0, o), b.subarray(o + n)), what: `remove ${n} at ${o}` };
  },
  swap(rng: Rng, b: Uint8Array, hot: number[]): Mutation {
    const n = Math.max(1, Math.min(Math.floor(b.length / 2), rng.pick([1, 4, 16, 512, 4096])));
    if (b.length < 2 * n) return { bytes: b.slice(), what: 'swap of nothing' };
    const x = Math.min(offset(rng, b.length, hot), b.length - 2 * n);
    const y = x + n + rng.int(b.length - x - 2 * n + 1);
    const out = b.slice();
    out.set(b.subarray(y, y + n), x);
    out.set(b.subarray(x, x + n), y);
    return { bytes: out, what: `swap ${n} at ${x},${y}` };
  },
  duplicate(rng: Rng, b: Uint8Array, hot: number[]): Mutation {
    const o = offset(rng, b.length, hot);
    const n = Math.min(b.length - o, rng.pick([8, 64, 512, 4096]));
    return { bytes: cat(b.subarray(0, o + n), b.subarray(o, o + n), b.subarray(o + n)), what: `duplicate ${n} at ${o}` };
  },
} as const;

export type ByteMutator = keyof typeof BYTE_MUTATORS;

/** One random byte-level mutation (occasionally two stacked). */
export function mutateBytes(rng: Rng, input: Uint8Array, hot: number[] = []): Mutation {
  // A Buffer's slice() is a view: mutate a plain copy, never the caller's bytes.
  const bytes = Buffer.isBuffer(input) ? new Uint8Array(input) : input;
  const names = Object.keys(BYTE_MUTATORS) as ByteMutator[];
  let m = BYTE_MUTATORS[rng.pick(names)](rng, bytes, hot);
  if (rng.chance(0.15)) {
    const second = BYTE_MUTATORS[rng.pick(names)](rng, m.bytes, hot);
    m = { bytes: second.bytes, what: `${m.what}; ${second.what}` };
  }
  return m;
}

/** A hostile replacement for a decoded JSON value (type confusion, range, near misses). */
export function hostileValue(rng: Rng, current: unknown, siblings: unknown[] = []): unknown {
  const n = typeof current === 'number' ? current : 0;
  return rng.pick<() => unknown>([
    () => null,
    () => 'x',
    () => true,
    () => [],
    () => ({}),
    () => -1,
    () => 0,
    () => 1.5,
    () => 2 ** 31,
    () => 2 ** 32 + 1,
    () => 2 ** 53,
    () => 1e300,
    () => -2,
    // A string of the same value (JSON for objects: String({}) would put a literal "[object Object]" in the patch).
    () => (typeof current === 'object' ? JSON.stringify(current) : String(current)),
    () => n + 1,
    () => n - 1,
    () => n * 2,
    () => Math.floor(n / 2),
    () => n + 512,
    () => 'sha256:' + '0'.repeat(64),
    () => 'sha256:' + 'f'.repeat(63),
    () => (typeof current === 'string' ? current.slice(0, -1) : current),
    () => (typeof current === 'string' ? current + '0' : current),
    () => (siblings.length > 0 ? rng.pick(siblings) : current),
    () => (Array.isArray(current) ? current.slice(1) : current),
    () => (Array.isArray(current) ? [...current, ...current] : current),
  ])();
}
