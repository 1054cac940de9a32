/**
 * Byte helpers every patch reader needs, written once: concatenation, and
 * inflating into a buffer of exactly the size a record declares.
 */
import { Inflate } from 'fflate';
import { PatcherError, badPatch } from '../errors.js';

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

/** Input fed to the inflater per step: deflate expands at most ~1032x, so one step makes at most ~16 MiB. */
const INFLATE_STEP = 16 * 1024;

/**
 * Inflate `data` into exactly `size` bytes, refusing anything longer or
 * shorter. The caller bounds `size` before calling: it is all this keeps.
 * Fed a step at a time and stopped at the first byte past `size`, so an
 * inflate bomb costs one step of work and memory, not its whole output.
 */
export function inflateExact(data: Uint8Array, size: number, what: string, dictionary?: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw badPatch(`${what} declares a bad size`);
  const out = new Uint8Array(size);
  let made = 0;
  const inflater = new Inflate({ dictionary }, (chunk) => {
    if (made + chunk.length > size) throw badPatch(`${what} inflates to more than its ${size} bytes`);
    out.set(chunk, made);
    made += chunk.length;
  });
  try {
    for (let at = 0; at < data.length; at += INFLATE_STEP) inflater.push(data.subarray(at, at + INFLATE_STEP), false);
    inflater.push(new Uint8Array(0), true);
  } catch (err) {
    if (err instanceof PatcherError) throw err;
    throw badPatch(`${what} does not inflate (${err instanceof Error ? err.message : 'unknown error'})`);
  }
  if (made !== size) throw badPatch(`${what} inflates to ${made} bytes, not ${size}`);
  return out;
}
