/**
 * Byte helpers every patch reader needs, written once: concatenation, and
 * inflating into a buffer of exactly the size a record declares.
 */
import { inflateSync } from 'fflate';
import { badPatch } from '../errors.js';

/** The parts one after another in one new buffer. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Inflate `data` into exactly `size` bytes, refusing anything longer or
 * shorter. The caller bounds `size` before calling: it is all this
 * allocates (plus one spare byte that tells "too long" from "exact"), so an
 * inflate bomb stops at the declared size instead of growing a buffer.
 */
export function inflateExact(data: Uint8Array, size: number, what: string, dictionary?: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw badPatch(`${what} declares a bad size`);
  const out = new Uint8Array(size + 1);
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(data, { out, dictionary });
  } catch (err) {
    throw badPatch(`${what} does not inflate (${err instanceof Error ? err.message : 'unknown error'})`);
  }
  if (inflated.length !== size) throw badPatch(`${what} inflates to the wrong size`);
  return out.subarray(0, size);
}
